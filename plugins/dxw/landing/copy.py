"""The one loader for all sources: a batch lands whole, once, or not at all.

A batch is the set of records one source delivered for one dataset and period. It is written
with ``COPY`` in a single transaction together with its row in ``raw.load_batch``; a failure
rolls the rows back and records the failed attempt in a transaction of its own. A batch landed
``staged`` waits for its quality gate: :func:`promote` makes it ``loaded``, :func:`reject`
marks it ``rejected``; only ``loaded`` batches are ever read downstream. A delivery
identical to the latest loaded batch of the same dataset and period (same checksum) lands no
rows and is recorded as ``unchanged``. Raw tables are append-only: staging reads the latest
loaded batch per dataset and period, earlier batches stay for audit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
_PG_TYPES = {int: "bigint", float: "double precision", str: "text"}

LEDGER_DDL = """
create schema if not exists raw;
create table if not exists raw.load_batch (
    batch_id bigint generated always as identity primary key,
    source text not null,
    dataset text not null,
    period_id text not null,
    checksum text not null,
    row_count integer not null default 0,
    status text not null
        check (status in ('loading', 'staged', 'loaded', 'unchanged', 'rejected', 'failed')),
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    seconds numeric(12, 3),
    error text,
    details jsonb not null default '{}'::jsonb
);
create index if not exists load_batch_latest
    on raw.load_batch (dataset, period_id, batch_id desc) where status = 'loaded';
comment on table raw.load_batch is
    'One row per delivery attempt of a source dataset for a period: loaded, unchanged or failed.';
"""


def snake(name: str) -> str:
    """``totalOnTime`` -> ``total_on_time``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class Dataset:
    """A raw table: its typed columns, flattened from the source's field contract."""

    source: str
    name: str
    fields: Mapping[str, type]

    @property
    def columns(self) -> list[str]:
        return [snake(field) for field in self.fields]


@dataclass(frozen=True)
class LoadResult:
    batch_id: int
    status: str  # loaded | unchanged
    rows: int
    seconds: float
    checksum: str


class LoadError(RuntimeError):
    """A batch could not be landed; nothing of it was written."""


def checksum(records: Iterable[Mapping[str, Any]]) -> str:
    """Order-independent digest of a delivery."""
    lines = sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def ensure_tables(conn: psycopg.Connection, datasets: Sequence[Dataset]) -> None:
    """Create the ledger and the datasets' raw tables when missing."""
    conn.execute(LEDGER_DDL)
    for dataset in datasets:
        typed = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(snake(f)), sql.SQL(_PG_TYPES[kind]))
            for f, kind in dataset.fields.items()
        )
        conn.execute(
            sql.SQL(
                "create table if not exists {}.{} ("
                "batch_id bigint not null references raw.load_batch (batch_id), "
                "record_no integer not null, period_id text not null, {}, payload jsonb not null, "
                "primary key (batch_id, record_no))"
            ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(dataset.name), typed)
        )


def _latest_checksum(conn: psycopg.Connection, dataset: Dataset, period_id: str) -> tuple[int, str] | None:
    return conn.execute(
        "select batch_id, checksum from raw.load_batch "
        "where dataset = %s and period_id = %s and status = 'loaded' "
        "order by batch_id desc limit 1",
        (dataset.name, period_id),
    ).fetchone()


def land(
    conn: psycopg.Connection,
    dataset: Dataset,
    period_id: str,
    records: Sequence[Mapping[str, Any]],
    details: Mapping[str, Any] | None = None,
    staged: bool = False,
) -> LoadResult:
    """Land ``records`` as one batch of ``dataset`` for ``period_id``; all or nothing.

    With ``staged`` the batch is written but stays invisible downstream until :func:`promote`.
    """
    started = time.monotonic()
    digest = checksum(records)
    meta = Jsonb(dict(details or {}))
    try:
        with conn.transaction():
            ensure_tables(conn, [dataset])
            # Serialise deliveries of the same dataset and period (a retry racing its original).
            conn.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{dataset.name}|{period_id}",)
            )
            latest = _latest_checksum(conn, dataset, period_id)
            unchanged = latest is not None and latest[1] == digest
            status = "unchanged" if unchanged else ("staged" if staged else "loaded")
            batch_id = conn.execute(
                "insert into raw.load_batch (source, dataset, period_id, checksum, status, details) "
                "values (%s, %s, %s, %s, 'loading', %s) returning batch_id",
                (dataset.source, dataset.name, period_id, digest, meta),
            ).fetchone()[0]
            rows = 0
            if not unchanged:
                rows = _copy_rows(conn, dataset, batch_id, period_id, records)
            elapsed = time.monotonic() - started
            conn.execute(
                "update raw.load_batch set status = %s, row_count = %s, finished_at = clock_timestamp(), "
                "seconds = %s, details = details || %s where batch_id = %s",
                (
                    status,
                    rows,
                    round(elapsed, 3),
                    Jsonb({"same_as_batch_id": latest[0]} if unchanged else {}),
                    batch_id,
                ),
            )
    except Exception as exc:
        _record_failure(conn, dataset, period_id, digest, details, exc, time.monotonic() - started)
        raise LoadError(f"{dataset.name} {period_id}: batch not landed: {exc}") from exc
    log.info("%s %s: batch %s %s, %d rows in %.2fs", dataset.name, period_id, batch_id, status, rows, elapsed)
    return LoadResult(batch_id, status, rows, elapsed, digest)


def _copy_rows(
    conn: psycopg.Connection,
    dataset: Dataset,
    batch_id: int,
    period_id: str,
    records: Sequence[Mapping[str, Any]],
) -> int:
    columns = ["batch_id", "record_no", "period_id", *dataset.columns, "payload"]
    statement = sql.SQL("copy {}.{} ({}) from stdin").format(
        sql.Identifier(RAW_SCHEMA),
        sql.Identifier(dataset.name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    fields = list(dataset.fields)
    with conn.cursor().copy(statement) as copy:
        for number, record in enumerate(records, start=1):
            copy.write_row(
                (
                    batch_id,
                    number,
                    period_id,
                    *(record[f] for f in fields),
                    json.dumps(record, ensure_ascii=False),
                )
            )
    return len(records)


def _record_failure(
    conn: psycopg.Connection,
    dataset: Dataset,
    period_id: str,
    digest: str,
    details: Mapping[str, Any] | None,
    exc: BaseException,
    elapsed: float,
) -> None:
    try:
        with conn.transaction():
            conn.execute(LEDGER_DDL)
            conn.execute(
                "insert into raw.load_batch (source, dataset, period_id, checksum, status, "
                "finished_at, seconds, error, details) "
                "values (%s, %s, %s, %s, 'failed', clock_timestamp(), %s, %s, %s)",
                (
                    dataset.source,
                    dataset.name,
                    period_id,
                    digest,
                    round(elapsed, 3),
                    f"{type(exc).__name__}: {exc}",
                    Jsonb(dict(details or {})),
                ),
            )
    except psycopg.Error:
        log.exception("could not record the failed batch of %s %s", dataset.name, period_id)


def promote(conn: psycopg.Connection, batch_id: int) -> None:
    """A staged batch passed its gate: make it the dataset's current batch."""
    _finish_staged(conn, batch_id, "loaded", None)


def reject(conn: psycopg.Connection, batch_id: int, reason: str) -> None:
    """A staged batch failed its gate: keep its rows for inspection, never read them downstream."""
    _finish_staged(conn, batch_id, "rejected", reason)


def _finish_staged(conn: psycopg.Connection, batch_id: int, status: str, error: str | None) -> None:
    updated = conn.execute(
        "update raw.load_batch set status = %s, error = %s where batch_id = %s and status = 'staged'",
        (status, error, batch_id),
    ).rowcount
    if updated != 1:
        raise LoadError(f"batch {batch_id} is not staged: it cannot become {status}")


def record_source_failure(
    conn: psycopg.Connection, dataset: Dataset, period_id: str, exc: BaseException, elapsed: float
) -> None:
    """Record a delivery that failed before landing (source down, contract broken)."""
    _record_failure(conn, dataset, period_id, "", None, exc, elapsed)
