"""Ingestion steps the DAGs call: fetch a source dataset for a period, land it, gate it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import psycopg

from dxw.landing import copy
from dxw.periods import parse
from dxw.secrets import mask_url
from dxw.settings import Settings, get_settings
from dxw.sources import dhis2, portal, registry
from dxw.sources.contract import Delivery, Records, SourceError, in_key_order
from dxw.warehouse import database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feed:
    """A source dataset: where its records land and how to fetch them for a period."""

    dataset: copy.Dataset
    fetch: Callable[..., Delivery]
    # A feed that can ask for only what changed since a watermark (DHIS2's ``lastUpdated``): its
    # fetch takes ``since``, and this gives the new watermark from the records and the old one.
    watermark: Callable[[Records, str | None], str | None] | None = None


def raw_dataset(source: registry.Source | str, dataset: registry.RawDataset) -> copy.Dataset:
    """The raw table of a registry dataset, made from its field contract."""
    name = source if isinstance(source, str) else source.name
    return copy.Dataset(name, dataset.name, dataset.fields, key=dataset.key)


def feed_of(source: registry.Source, dataset: registry.RawDataset) -> Feed:
    """A registry dataset's feed: its raw table and its connector's functions (imported here)."""
    fetch = source.function(dataset.fetch)
    return Feed(
        raw_dataset(source, dataset),
        partial(fetch, **dataset.options) if dataset.options else fetch,
        source.function(source.watermark) if source.watermark else None,
    )


def portal_dataset(endpoint: portal.Endpoint) -> copy.Dataset:
    """A portal endpoint's raw table: what the portal answered, one record per agency and calendar
    month, with the request's time fields; dbt staging assembles the half-year from the months."""
    return FEEDS[endpoint.dataset].dataset


def portal_endpoint(name: str) -> portal.Endpoint:
    return portal.endpoint_named(name)


FEEDS: dict[str, Feed] = {
    dataset.name: feed_of(source, dataset) for source in registry.SOURCES for dataset in source.datasets
}
DHIS2_DATASET = FEEDS[dhis2.DATASET].dataset
# Unit uploads are files, not a feed: dxw.intake.imports lands their accepted and "no data" rows here.
UPLOAD_DATASET = raw_dataset(registry.UPLOAD_SOURCE, registry.UPLOAD_DATASET)


def ingest(
    dataset_name: str,
    period_id: str,
    base_url: str,
    settings: Settings | None = None,
    full: bool = False,
) -> copy.LoadResult:
    """Fetch one source dataset for one period, land it and gate it; all or nothing.

    The batch lands staged, its raw expectation suite (``expectations/raw_<dataset>.json``) runs
    on it, and only a batch that passes becomes the current one; a failing batch is kept as
    ``rejected`` and the call raises. A feed with a watermark (the reporting system) asks only
    for what changed since its last successful pull of the period, unless ``full``; the new
    watermark is recorded in the batch's ledger details, and a pull that finds nothing changed
    is recorded as ``unchanged`` with the watermark it kept.
    """
    settings = settings or get_settings()
    feed = FEEDS[dataset_name]
    period = parse(period_id)
    started = time.monotonic()
    with database.connect(settings, autocommit=True) as conn:
        since = None if full or feed.watermark is None else last_watermark(conn, feed.dataset, period.id)
        try:
            if feed.watermark is None:
                delivery = feed.fetch(settings, base_url, period)
            else:
                delivery = feed.fetch(settings, base_url, period, since=since)
        except SourceError as exc:
            copy.record_source_failure(
                conn, feed.dataset, period.id, exc, time.monotonic() - started, {"url": mask_url(base_url)}
            )
            raise
        # Sources page in an order of their own; in key order the same content has the same checksum.
        delivery.records = in_key_order(delivery.records, feed.dataset.key)
        # The ledger is read by every engineer: the source's address without its credentials.
        fetch_seconds = round(time.monotonic() - started, 3)
        details: dict[str, Any] = {"url": mask_url(base_url), "fetch_seconds": fetch_seconds}
        if feed.watermark is not None:
            details.update(
                pull="changes" if since else "full",
                since=since,
                watermark=feed.watermark(delivery.records, since),
            )
            if since and not delivery.records:
                elapsed = time.monotonic() - started
                return copy.record_nothing_new(conn, feed.dataset, period.id, details, elapsed)
        return land_gated(
            conn, feed.dataset, period.id, delivery.records, delivery.documents, details, settings
        )


def last_watermark(conn: psycopg.Connection, dataset: copy.Dataset, period_id: str) -> str | None:
    """The watermark of the latest successful pull of a dataset's period (None: never pulled)."""
    copy.ensure_tables(conn, [dataset])
    row = conn.execute(
        "select details ->> 'watermark' from raw.load_batch "
        "where dataset = %s and period_id = %s and scope = '' and status in ('loaded', 'unchanged') "
        "and details ->> 'watermark' is not null order by batch_id desc limit 1",
        (dataset.name, period_id),
    ).fetchone()
    return row[0] if row else None


def land_gated(
    conn: psycopg.Connection,
    dataset: copy.Dataset,
    period_id: str,
    records: Sequence[Mapping[str, Any]],
    documents: list[copy.Document],
    details: dict[str, Any],
    settings: Settings,
    scope: str = "",
    submitted_at: datetime | None = None,
) -> copy.LoadResult:
    """Land a batch staged and let its raw gate promote it (or reject it and raise)."""
    result = copy.land(
        conn,
        dataset,
        period_id,
        records,
        details=details,
        staged=True,
        documents=documents,
        scope=scope,
        submitted_at=submitted_at,
    )
    if result.status == "staged":
        audit_batch(conn, dataset, result, settings)
        result = replace(result, status="loaded")
    return result


def ensure_raw_tables(settings: Settings | None = None) -> None:
    """Create every raw table (feeds and uploads), so staging can be built before a source delivers."""
    with database.connect(settings, autocommit=True) as conn:
        copy.ensure_tables(conn, [*(feed.dataset for feed in FEEDS.values()), UPLOAD_DATASET])


def ingest_portal(
    endpoint_name: str, period_id: str, base_url: str, settings: Settings | None = None
) -> copy.LoadResult:
    """:func:`ingest` for a portal endpoint named as the portal names it (``dvc-progress-tree``)."""
    return ingest(portal_endpoint(endpoint_name).dataset, period_id, base_url, settings)


def audit_batch(
    conn: psycopg.Connection, dataset: copy.Dataset, result: copy.LoadResult, settings: Settings
) -> None:
    """Run the dataset's raw gate on the staged batch; promote it or reject it (and raise)."""
    from dxw import quality

    gate = quality.validate(f"raw_{dataset.name}", batch_id=result.batch_id, settings=settings)
    if not gate.success:
        copy.reject(conn, result.batch_id, gate.summary())
        raise quality.QualityGateFailed(gate)
    copy.promote(conn, result.batch_id)
    log.info("%s batch %s passed its gate and is now current", dataset.name, result.batch_id)
