"""Document-management system connector: work dossiers per unit and half-year (hồ sơ công việc).

The feed gives, per unit, the work dossiers handled, the secret ones (excluded from the plan's
ratios), those processed online and those processed *and digitally signed* online: the measure
behind Plan 86's district and commune targets (IV.1 b, c) and its award thresholds (IV.3).
"""

from __future__ import annotations

import logging
import time

from dxw.periods import Period
from dxw.settings import Settings
from dxw.sources import http_session as http
from dxw.sources import registry
from dxw.sources.contract import ContractError, Delivery, SourceError, check_record, check_unique

log = logging.getLogger(__name__)

SOURCE = "document_management"
DATASET = "dms_work_dossiers"
PATH = "/api/dms/v1/work-dossier-stats"
# The field contract of a record, declared in the registry (the raw table is made from it).
FIELDS = registry.dataset(DATASET).fields


def fetch(settings: Settings, base_url: str, period: Period, page_size: int = 100) -> Delivery:
    """Every unit's work-dossier statistics for a half-year, all pages, contract-checked."""
    if period.kind != "halfyear":
        raise SourceError(f"the document-management feed reports per half-year, not per {period.kind}")
    url = base_url.rstrip("/") + PATH
    delivery = Delivery()
    records = delivery.records
    page, pages, total = 1, 1, 0
    started = time.monotonic()
    with http.session(settings) as session:
        while page <= pages:
            params = {"period": period.id, "page": page, "size": page_size}
            document, raw = http.fetch_page(session, settings, DATASET, page, "GET", url, params=params)
            delivery.documents.append(raw)
            try:
                items = document["items"]
                pages, total = int(document["pageCount"]), int(document["total"])
                answered_period = document["period"]
            except (KeyError, TypeError, ValueError) as exc:
                raise ContractError(f"{DATASET}: page {page} is not a feed answer (missing {exc!s})") from exc
            if answered_period != period.id:
                raise ContractError(f"{DATASET}: asked for {period.id}, the feed answered {answered_period}")
            for index, record in enumerate(items):
                check_record(DATASET, FIELDS, record, f"page {page} record {index}")
                records.append(record)
            page += 1
    check_unique(DATASET, records, "orgCode")
    if len(records) != total:
        raise ContractError(f"{DATASET}: the feed announced {total} records but sent {len(records)}")
    log.info(
        "%s %s: %d records in %d pages, %.1fs",
        DATASET,
        period,
        len(records),
        pages,
        time.monotonic() - started,
    )
    return delivery
