"""Ingestion steps the DAGs call: fetch a source dataset for a period and land it as a batch."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

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
    """Fetch one portal endpoint for one period, land it and gate it; all or nothing.

    The batch lands staged, its raw expectation suite runs on it, and only a batch that passes
    becomes the current one; a failing batch is kept as ``rejected`` and the call raises.
    """
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
        result = copy.land(
            conn,
            dataset,
            period.id,
            records,
            staged=True,
            details={
                "url": base_url,
                "endpoint": endpoint.name,
                "fetch_seconds": round(time.monotonic() - started, 3),
            },
        )
        if result.status == "staged":
            _audit_batch(conn, dataset, result, settings)
            result = replace(result, status="loaded")
        return result


def _audit_batch(conn, dataset: copy.Dataset, result: copy.LoadResult, settings: Settings) -> None:
    """Run the dataset's raw gate on the staged batch; promote it or reject it (and raise)."""
    from dxw import quality

    gate = quality.validate(f"raw_{dataset.name}", batch_id=result.batch_id, settings=settings)
    if not gate.success:
        copy.reject(conn, result.batch_id, gate.summary())
        raise quality.QualityGateFailed(gate)
    copy.promote(conn, result.batch_id)
    log.info("%s batch %s passed its gate and is now current", dataset.name, result.batch_id)
