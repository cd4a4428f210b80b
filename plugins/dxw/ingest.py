"""Ingestion steps the DAGs call: fetch a source dataset for a period and land it as a batch."""

from __future__ import annotations

import logging
import time

from dxw import database
from dxw.landing import copy
from dxw.periods import parse
from dxw.settings import Settings, get_settings
from dxw.sources import portal

log = logging.getLogger(__name__)


def portal_dataset(endpoint: portal.Endpoint) -> copy.Dataset:
    return copy.Dataset(portal.SOURCE, endpoint.dataset, endpoint.fields)


def portal_endpoint(name: str) -> portal.Endpoint:
    for endpoint in portal.ENDPOINTS:
        if endpoint.name == name:
            return endpoint
    raise ValueError(f"unknown portal endpoint {name!r}: one of {[e.name for e in portal.ENDPOINTS]}")


def ingest_portal(
    endpoint_name: str, period_id: str, base_url: str, settings: Settings | None = None
) -> copy.LoadResult:
    """Fetch one portal endpoint for one period and land it; all or nothing."""
    settings = settings or get_settings()
    endpoint = portal_endpoint(endpoint_name)
    dataset = portal_dataset(endpoint)
    period = parse(period_id)
    started = time.monotonic()
    with database.connect(settings, autocommit=True) as conn:
        try:
            records = portal.fetch(settings, base_url, endpoint, period)
        except portal.SourceError as exc:
            copy.record_source_failure(conn, dataset, period.id, exc, time.monotonic() - started)
            raise
        return copy.land(
            conn,
            dataset,
            period.id,
            records,
            details={
                "url": base_url,
                "endpoint": endpoint.name,
                "fetch_seconds": round(time.monotonic() - started, 3),
            },
        )
