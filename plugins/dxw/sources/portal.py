"""Public-service portal connector: per-agency statistics for one period.

The portal's dashboard endpoints are undocumented and change without notice, so every record
is checked against the field contract below: a renamed, missing or extra field fails the whole
fetch with the difference spelt out, before anything lands.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from dxw.periods import Period
from dxw.settings import Settings
from dxw.sources import http_session as http
from dxw.sources.contract import ContractError, Delivery, SourceError, check_record, check_unique

log = logging.getLogger(__name__)

SOURCE = "public_service_portal"
PATH = "/api/v1/reporting/evaluation/"

_NODE_FIELDS = {
    "departmentId": str,
    "departmentName": str,
    "departmentCode": str,
    "parentId": str,
    "level": int,
}


@dataclass(frozen=True)
class Endpoint:
    """A portal endpoint and the raw table its records land in."""

    name: str
    dataset: str
    fields: dict[str, type]


ENDPOINTS = (
    Endpoint(
        "dvc-progress-tree",
        "portal_dvc_progress",
        {
            **_NODE_FIELDS,
            "totalReceived": int,
            "totalCompleted": int,
            "totalOnTime": int,
            "totalOverdue": int,
            "avgProcessingDays": float,
            "ratio": float,
            "score": float,
            "maxScore": float,
        },
    ),
    Endpoint(
        "provide-online-tree",
        "portal_provide_online",
        {
            **_NODE_FIELDS,
            "onlineServiceTotal": int,
            "fullCount": int,
            "partialCount": int,
            "onlineDossierCount": int,
            "onlineOnTimeSum": int,
            "onlineOverdueSum": int,
        },
    ),
)


def request_body(period: Period, page: int, page_size: int, root_id: str | None) -> dict[str, Any]:
    if period.kind not in ("halfyear", "year"):
        raise SourceError(f"the portal reports per half-year or year, not per {period.kind} ({period})")
    body: dict[str, Any] = {
        "timeType": period.kind,
        "year": period.year,
        "currentPage": page,
        "pageSize": page_size,
    }
    if period.kind == "halfyear":
        body["half"] = period.number
    if root_id:
        body["rootDepartmentId"] = root_id
    return body


def fetch(
    settings: Settings,
    base_url: str,
    endpoint: Endpoint,
    period: Period,
    root_id: str | None = None,
) -> Delivery:
    """Every record of ``endpoint`` for ``period``, all pages, contract-checked."""
    url = base_url.rstrip("/") + PATH + endpoint.name
    delivery = Delivery()
    records = delivery.records
    page, pages = 1, 1
    started = time.monotonic()
    with http.session(settings) as session:
        while page <= pages:
            body = request_body(period, page, settings.portal_page_size, root_id)
            document, raw = http.fetch_page(session, settings, endpoint.name, page, "POST", url, json=body)
            delivery.documents.append(raw)
            try:
                data = document["data"]
                content = data["content"]
                pages = int(data["totalPages"])
                total = int(data["totalElements"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ContractError(
                    f"{endpoint.name}: page {page} is not a portal answer (missing {exc!s})"
                ) from exc
            if not isinstance(content, list):
                raise ContractError(f"{endpoint.name}: page {page} content is not a list")
            for index, record in enumerate(content):
                check_record(endpoint.name, endpoint.fields, record, f"page {page} record {index}")
                records.append(record)
            page += 1
    check_unique(endpoint.name, records, "departmentCode")
    if len(records) != total:
        raise ContractError(f"{endpoint.name}: the portal announced {total} records but sent {len(records)}")
    log.info(
        "%s %s: %d records in %d pages, %.1fs",
        endpoint.name,
        period,
        len(records),
        pages,
        time.monotonic() - started,
    )
    return delivery
