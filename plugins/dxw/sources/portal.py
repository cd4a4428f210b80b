"""Public-service portal connector: per-agency statistics for the calendar months of a period.

The national portal's reporting API answers per calendar month, quarter or year (``timeType``
"month", "quarter", "year"); it has no half-year and no Decree 09 window. The connector asks for
each calendar month of the period (a half-year: January-June or July-December; a year: its
twelve months) and lands what the portal answered, one record per agency and month, with the
request's time fields added (``requestTimeType``, ``requestYear``, ``requestMonth``). dbt staging
assembles the period from the months (flows summed, states from the last month answered,
derived figures recomputed). Months rather than the portal's quarter or year: a state must come
from the last month an agency answered in, which a quarter's or a year's total cannot tell.

Which body field carries the month (``month``) and the quarter (``quarter``) is not in any
public capture of the API: dxw's choice, documented in the README.

The endpoints are undocumented and change without notice, so every record of every page is
checked against the field contract (declared in ``dxw.sources.registry``): a renamed, missing or
extra field fails the whole fetch with the difference spelt out, before anything lands.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from dxw.periods import Period
from dxw.settings import Settings
from dxw.sources import http_session as http
from dxw.sources import registry
from dxw.sources.contract import ContractError, Delivery, SourceError, check_record, check_unique

log = logging.getLogger(__name__)

SOURCE = "public_service_portal"
PATH = "/api/v1/reporting/evaluation/"


@dataclass(frozen=True)
class Endpoint:
    """A portal endpoint and the raw table its records land in."""

    name: str
    dataset: str
    fields: dict[str, type]  # the contract of a record as the portal answers it


# The request's time fields, added to every landed record: which calendar month it answers.
CONTEXT_FIELDS = registry.PORTAL_REQUEST_FIELDS
# The endpoints are the registry's portal datasets (options ``endpoint``); the portal's records
# have every field of the raw table's contract but the request's time fields.
ENDPOINTS = tuple(
    Endpoint(
        dataset.options["endpoint"],
        dataset.name,
        {name: kind for name, kind in dataset.fields.items() if name not in CONTEXT_FIELDS},
    )
    for dataset in registry.source(SOURCE).datasets
)


def endpoint_named(name: str) -> Endpoint:
    """The endpoint the portal calls ``name`` (``dvc-progress-tree``)."""
    for endpoint in ENDPOINTS:
        if endpoint.name == name:
            return endpoint
    raise ValueError(f"unknown portal endpoint {name!r}: one of {[e.name for e in ENDPOINTS]}")


def request_body(period: Period, page: int, page_size: int, root_id: str | None) -> dict[str, Any]:
    """The body of one page's request for a calendar month, quarter or year (what the portal offers)."""
    if period.kind not in ("month", "quarter", "year"):
        raise SourceError(
            f"the portal reports per calendar month, quarter or year, not per {period.kind} ({period}): "
            "ask for its months"
        )
    body: dict[str, Any] = {"timeType": period.kind, "year": period.year}
    if period.kind != "year":
        body[period.kind] = period.number
    body |= {"currentPage": page, "pageSize": page_size}
    if root_id:
        body["rootDepartmentId"] = root_id
    return body


def months_of(period: Period) -> list[Period]:
    """The calendar months the connector asks for: a half-year's six, a year's twelve, a quarter's three."""
    return [Period(period.year, "month", m) for m in range(period.first_month, period.last_month + 1)]


def fetch(
    settings: Settings,
    base_url: str,
    endpoint: Endpoint,
    period: Period,
    root_id: str | None = None,
) -> Delivery:
    """Every record of ``endpoint`` for each calendar month of ``period``, all pages, contract-checked.

    One record per agency and month, with the request's time fields (:data:`CONTEXT_FIELDS`).
    """
    delivery = Delivery()
    started = time.monotonic()
    months = months_of(period)
    with http.session(settings) as session:
        for month in months:
            for record in _fetch_month(session, settings, base_url, endpoint, month, root_id, delivery):
                delivery.records.append(
                    {
                        **record,
                        "requestTimeType": "month",
                        "requestYear": month.year,
                        "requestMonth": month.number,
                    }
                )
    log.info(
        "%s %s: %d records for %d months in %d pages, %.1fs",
        endpoint.name,
        period,
        len(delivery.records),
        len(months),
        len(delivery.documents),
        time.monotonic() - started,
    )
    return delivery


def fetch_endpoint(settings: Settings, base_url: str, period: Period, endpoint: str) -> Delivery:
    """:func:`fetch` for the endpoint the portal calls ``endpoint`` (a registry dataset's options)."""
    return fetch(settings, base_url, endpoint_named(endpoint), period)


def _fetch_month(
    session: Any,
    settings: Settings,
    base_url: str,
    endpoint: Endpoint,
    month: Period,
    root_id: str | None,
    delivery: Delivery,
) -> list[dict[str, Any]]:
    """One month's records, every page; the pages are kept verbatim in ``delivery``."""
    url = base_url.rstrip("/") + PATH + endpoint.name
    records: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        body = request_body(month, page, settings.portal_page_size, root_id)
        where = f"{month} page {page}"
        document, raw = http.fetch_page(
            session, settings, f"{endpoint.name} {month}", page, "POST", url, json=body
        )
        # The URL is the same for every month: the name says which month the page answers.
        delivery.documents.append(replace(raw, name=f"{raw.name} ({month.id})"))
        try:
            data = document["data"]
            content = data["content"]
            pages = int(data["totalPages"])
            total = int(data["totalElements"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"{endpoint.name}: {where} is not a portal answer (missing {exc!s})") from exc
        if not isinstance(content, list):
            raise ContractError(f"{endpoint.name}: {where} content is not a list")
        for index, record in enumerate(content):
            check_record(endpoint.name, endpoint.fields, record, f"{where} record {index}")
            records.append(record)
        page += 1
    check_unique(f"{endpoint.name} {month}", records, "departmentCode")
    if len(records) != total:
        raise ContractError(
            f"{endpoint.name}: for {month} the portal announced {total} records but sent {len(records)}"
        )
    return records
