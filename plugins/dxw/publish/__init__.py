"""Publishing audited marts, one period at a time: build schema -> ``marts`` in one transaction.

dbt builds the marts into ``marts_build`` for every period; a quality gate audits one period
there; this module then publishes that period and nothing else. In every build table with a
``period_id`` column (half-years ``2025S1``, years ``2025``: any period id), the published rows
of the period are replaced by the build's rows of the period, and the rows of the other periods
stay as they were published, each after its own gate. A period that never passed a gate is never
in ``marts``: only the periods the publish log names are kept. A table without ``period_id`` is
reference data and is published whole.

A publish copies first, then swaps. Each table is rebuilt beside the published one
(``marts.<table>__publishing``, unreadable by BI), reading the published table only to carry
its other periods over: BI readers are not held. Then one short transaction swaps every table
in by rename, in sorted order, dropping the published tables that are no longer built: a BI
query sees the previous marts or the new ones, never a half-built state, and the exclusive locks
last a fraction of a second (about 170 ms on the demo's marts, 140 of them row security's
set-up). Both steps take their locks through :func:`dxw.warehouse.locking.bounded`: a BI session left
open on a mart delays the swap (said in the log, with the session) and, past
``DXW_LOCK_WAIT_SECONDS``, fails it with the previous marts untouched and the staging tables
dropped. Rebuilding (rather than deleting and inserting in place) takes the build's columns,
constraints and comments, so a release that changes a mart's contract publishes its new shape;
the other periods' rows are carried over by column name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from dxw.errors import WarehouseError
from dxw.settings import Settings, get_settings
from dxw.warehouse import locking, roles, row_security
from dxw.warehouse.schemas import AUDIT_SCHEMA

log = logging.getLogger(__name__)

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = row_security.PUBLISHED_SCHEMA
PUBLISH_LOG = sql.Identifier(AUDIT_SCHEMA, "publish_log")
PERIOD_COLUMN = "period_id"
# The advisory lock key that serialises publishes (any fixed bigint; its bytes spell "dxw-pub").
PUBLISH_LOCK = 0x6478772D707562

AUDIT_DDL = sql.SQL("""
create schema if not exists {audit};
create table if not exists {audit}.publish_log (
    publish_id bigint generated always as identity primary key,
    published_at timestamptz not null default clock_timestamp(),
    run_id text,
    period_id text,
    gate_run_id bigint,
    tables jsonb not null
);
alter table {audit}.publish_log add column if not exists period_id text;
comment on table {audit}.publish_log is
    'One row per publish of one period: which tables, how many rows of the period, their checksum.';
""").format(audit=sql.Identifier(AUDIT_SCHEMA))


class PublishError(WarehouseError):
    """The marts could not be published; the previous marts are untouched."""


@dataclass(frozen=True)
class PublishedTable:
    """A published table: the published period's rows (all rows for a whole table)."""

    name: str
    rows: int
    checksum: str
    period_id: str | None = None


@dataclass(frozen=True)
class PeriodPublish:
    """The latest publish of a period (one row of the publish log in ``AUDIT_SCHEMA``)."""

    period_id: str | None
    publish_id: int
    published_at: datetime
    gate_run_id: int | None
    tables: list[dict]


def build_tables(conn: psycopg.Connection) -> list[str]:
    """The tables dbt built for publishing."""
    rows = conn.execute(
        "select table_name from information_schema.tables "
        "where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
        (BUILD_SCHEMA,),
    ).fetchall()
    return [name for (name,) in rows]


def columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """A table's columns in order (none when it does not exist)."""
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    ).fetchall()
    return [name for (name,) in rows]


def has_period_column(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Whether the table holds periods (is published period by period)."""
    return PERIOD_COLUMN in columns(conn, schema, table)


def table_checksum(
    conn: psycopg.Connection, schema: str, table: str, period_id: str | None = None
) -> tuple[int, str]:
    """Row count and an order-independent md5 of a table's content (of one period's rows if given)."""
    query = sql.SQL(
        "select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '') from {}.{} as t"
    ).format(sql.Identifier(schema), sql.Identifier(table))
    if period_id is None:
        row = conn.execute(query).fetchone()
    else:
        where = sql.SQL(" where {} = %s").format(sql.Identifier(PERIOD_COLUMN))
        row = conn.execute(query + where, (period_id,)).fetchone()
    return int(row[0]), row[1]


def _check_gate(conn: psycopg.Connection, gate_run_id: int | None, period_id: str) -> None:
    """Refuse to publish ``period_id`` unless ``gate_run_id`` is a gate run that passed for it."""
    if gate_run_id is None:
        raise PublishError(f"period {period_id} has no passed quality gate: nothing published")
    exists = conn.execute("select to_regclass(%s)", (f"{AUDIT_SCHEMA}.quality_run",)).fetchone()[0]
    row = (
        conn.execute(
            sql.SQL("select success, period_id, table_name from {} where quality_run_id = %s").format(
                sql.Identifier(AUDIT_SCHEMA, "quality_run")
            ),
            (gate_run_id,),
        ).fetchone()
        if exists
        else None
    )
    if row is None:
        raise PublishError(f"quality gate run {gate_run_id} does not exist: {period_id} not published")
    success, audited, table = row
    if not table.startswith(f"{BUILD_SCHEMA}."):
        raise PublishError(f"quality gate run {gate_run_id} audited {table}, not the marts build")
    if audited != period_id:
        raise PublishError(
            f"quality gate run {gate_run_id} audited {audited or 'no period'}, not {period_id}: "
            f"{period_id} not published"
        )
    if not success:
        raise PublishError(f"quality gate run {gate_run_id} failed for {period_id}: nothing published")


def _stage_table(conn: psycopg.Connection, table: str, period_id: str | None, readers: list[str]) -> None:
    """Build ``marts.<table>__publishing`` from the build (one period's rows, or all), unreadable by BI.

    The published table is only read (ACCESS SHARE, which BI readers share): a BI session left
    open on it does not hold this step.
    """
    staged = sql.Identifier(PUBLISHED_SCHEMA, f"{table}{roles.STAGING_SUFFIX}")
    target = sql.Identifier(PUBLISHED_SCHEMA, table)
    build = sql.Identifier(BUILD_SCHEMA, table)
    period = sql.Identifier(PERIOD_COLUMN)
    conn.execute(sql.SQL("drop table if exists {}").format(staged))
    # LIKE ... INCLUDING ALL keeps the column types, constraints, indexes and comments (the docs).
    conn.execute(sql.SQL("create table {} (like {} including all)").format(staged, build))
    if readers:
        # The default privileges of `dxw db grant` gave BI this table as it was created; it gets
        # it back at the swap, with its row-level security, not before.
        conn.execute(
            sql.SQL("revoke all on {} from {}").format(
                staged, sql.SQL(", ").join(map(sql.Identifier, readers))
            )
        )
    if period_id is None:
        conn.execute(sql.SQL("insert into {} select * from {}").format(staged, build))
    else:
        conn.execute(
            sql.SQL("insert into {} select * from {} where {} = %s").format(staged, build, period),
            (period_id,),
        )
        published = columns(conn, PUBLISHED_SCHEMA, table)
        if PERIOD_COLUMN in published:
            kept = sql.SQL(", ").join(
                sql.Identifier(c) for c in columns(conn, BUILD_SCHEMA, table) if c in published
            )
            try:
                # The other periods as they were published; a period the log does not name was
                # never published by a gate (marts of an earlier release held every half-year).
                conn.execute(
                    sql.SQL(
                        "insert into {staged} ({kept}) select {kept} from {target} "
                        "where {period} <> %s and {period} in (select period_id from {log})"
                    ).format(staged=staged, kept=kept, target=target, period=period, log=PUBLISH_LOG),
                    (period_id,),
                )
            except (
                psycopg.errors.IntegrityError,
                psycopg.errors.DataError,
                psycopg.errors.DatatypeMismatch,
            ) as exc:
                raise PublishError(
                    f"{PUBLISHED_SCHEMA}.{table}: the published rows of the other periods do not fit the "
                    f"build's new columns ({exc.diag.message_primary}); drop {PUBLISHED_SCHEMA}.{table} and "
                    "publish each period again (dxw run semiannual_marts --period ...)"
                ) from exc
    comment = conn.execute(
        "select obj_description(%s::regclass, 'pg_class')", (f"{BUILD_SCHEMA}.{table}",)
    ).fetchone()[0]
    if comment:
        conn.execute(sql.SQL("comment on table {} is {}").format(staged, sql.Literal(comment)))


def _readers(conn: psycopg.Connection) -> list[str]:
    """The BI roles that read the marts (none before `dxw db grant`)."""
    rows = conn.execute(
        "select rolname from pg_roles where rolname = any(%s) order by 1", ([roles.BI, roles.SCOPED],)
    ).fetchall()
    return [name for (name,) in rows]


def _published_tables(conn: psycopg.Connection) -> list[str]:
    """The base tables in ``marts``, staging tables of a publish left out."""
    rows = conn.execute(
        "select relname from pg_class where relnamespace = to_regnamespace(%s) and relkind in ('r', 'p') "
        "and relname not like %s order by 1",
        (PUBLISHED_SCHEMA, roles.STAGING_PATTERN),
    ).fetchall()
    return [name for (name,) in rows]


# Views (and materialised views) in any schema built on a published table: the swap drops the
# published tables, which PostgreSQL refuses while anything depends on them.
_DEPENDENT_VIEWS = """
select distinct format('%%I.%%I', dependent_ns.nspname, dependent.relname), source.relname
from pg_depend as depend
join pg_rewrite as rewrite on rewrite.oid = depend.objid
join pg_class as dependent on dependent.oid = rewrite.ev_class
join pg_namespace as dependent_ns on dependent_ns.oid = dependent.relnamespace
join pg_class as source on source.oid = depend.refobjid
where depend.classid = 'pg_rewrite'::regclass and depend.refclassid = 'pg_class'::regclass
    and source.relnamespace = to_regnamespace(%s) and dependent.oid <> source.oid
order by 1, 2
"""


def _refuse_dependent_views(conn: psycopg.Connection) -> None:
    """PublishError when a view depends on a published table (before any lock is taken)."""
    rows = conn.execute(_DEPENDENT_VIEWS, (PUBLISHED_SCHEMA,)).fetchall()
    if rows:
        views = "; ".join(f"{view} reads {PUBLISHED_SCHEMA}.{table}" for view, table in rows)
        raise PublishError(
            f"a publish re-creates the tables of {PUBLISHED_SCHEMA}, and views depend on them ({views}): "
            "drop those views (build them as dbt marts, or as views in the BI tool) and publish again; "
            "nothing published"
        )


def _swap(conn: psycopg.Connection, tables: list[str], readers: list[str], settings: Settings) -> list[str]:
    """Swap every staged table in and drop the published tables no longer built; returns those.

    Runs in the swap's own short transaction. The exclusive locks are taken in one fixed order
    (sorted names) and given up within a wait shorter than the deadlock check: a BI query that
    reads several marts while a publish swaps them waits a moment, and never deadlocks.
    """
    deadlock_ms = int(
        conn.execute("select setting from pg_settings where name = 'deadlock_timeout'").fetchone()[0]
    )
    timeout = min(settings.lock_timeout_ms, max(deadlock_ms // 2, 10))
    conn.execute("select set_config('lock_timeout', %s, true)", (f"{timeout}ms",))
    live = _published_tables(conn)
    gone = sorted(set(live) - set(tables))
    in_order = sorted(set(live) | set(tables))
    locked = [name for name in in_order if name in live]
    if locked:
        conn.execute(
            sql.SQL("lock table {} in access exclusive mode").format(
                sql.SQL(", ").join(sql.Identifier(PUBLISHED_SCHEMA, name) for name in locked)
            )
        )
    # Again, with the tables locked: a view made since the copy would fail the drops below.
    _refuse_dependent_views(conn)
    for name in in_order:
        target = sql.Identifier(PUBLISHED_SCHEMA, name)
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        if name in gone:
            log.warning(
                "dropped %s.%s: it is no longer built (not in %s)", PUBLISHED_SCHEMA, name, BUILD_SCHEMA
            )
            continue
        staged = sql.Identifier(PUBLISHED_SCHEMA, f"{name}{roles.STAGING_SUFFIX}")
        conn.execute(sql.SQL("alter table {} rename to {}").format(staged, sql.Identifier(name)))
        # dxw_bi reads every row; the scoped group gets SELECT from row_security.apply, once the
        # table has its policy.
        if roles.BI in readers:
            conn.execute(sql.SQL("grant select on {} to {}").format(target, sql.Identifier(roles.BI)))
    return gone


def _drop_staged(conn: psycopg.Connection) -> None:
    """Drop the staging tables a failed publish left in ``marts`` (the next publish would too)."""

    def drop() -> None:
        for (name,) in conn.execute(
            "select relname from pg_class where relnamespace = to_regnamespace(%s) and relname like %s",
            (PUBLISHED_SCHEMA, roles.STAGING_PATTERN),
        ).fetchall():
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(PUBLISHED_SCHEMA, name)))

    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        locking.bounded(conn, "publish: dropping the staging tables", drop)
    except (psycopg.Error, locking.LockWaitTimeout) as exc:
        log.warning(
            "could not drop the staging tables of the failed publish (the next publish will): %s", exc
        )


def _ensure_audit(conn: psycopg.Connection, settings: Settings) -> None:
    """The publish log and the published schema; DDL only when missing (every publish passes here)."""
    current = conn.execute(
        "select to_regnamespace(%s) is not null and exists (select 1 from pg_attribute "
        "where attrelid = to_regclass(%s) and attname = 'period_id' and not attisdropped)",
        (PUBLISHED_SCHEMA, f"{AUDIT_SCHEMA}.publish_log"),
    ).fetchone()[0]
    if not current:

        def create() -> None:
            conn.execute("select pg_advisory_xact_lock(hashtextextended('dxw.publish.ddl', 0))")
            conn.execute(AUDIT_DDL)
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED_SCHEMA)))

        locking.bounded(conn, "publish: creating the publish log", create, settings)


def publish(
    conn: psycopg.Connection,
    run_id: str | None = None,
    gate_run_id: int | None = None,
    period_id: str | None = None,
    settings: Settings | None = None,
) -> list[PublishedTable]:
    """Publish one period's audited rows into ``marts``, atomically, after its gate passed.

    Tables with a period column get the build's rows of ``period_id`` in place of their published
    rows of it; the other periods' published rows are kept. ``gate_run_id`` must be a quality gate
    run that passed for ``period_id``. Tables without a period column are published whole.
    ``conn`` must be outside a transaction: the copy and the swap are transactions of their own.
    """
    settings = settings or get_settings()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise PublishError("publish needs a connection outside a transaction (autocommit)")
    # One publish at a time: two periods published at once would each carry over the other's
    # old rows, and the later swap would silently undo the earlier publish. Held by the session
    # from the copy to the swap (a crash ends the session, and the lock with it).
    with conn.transaction():
        conn.execute("select pg_advisory_lock(%s)", (PUBLISH_LOCK,))
    try:
        _ensure_audit(conn, settings)
        readers = _readers(conn)

        def copy() -> tuple[list[str], list[PublishedTable]]:
            _refuse_dependent_views(conn)
            tables = build_tables(conn)
            if not tables:
                raise PublishError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables (run dbt first)")
            by_period = {table for table in tables if has_period_column(conn, BUILD_SCHEMA, table)}
            if by_period:
                if period_id is None:
                    held = ", ".join(sorted(by_period))
                    raise PublishError(f"{held} hold periods: publish one period at a time (period_id)")
                _check_gate(conn, gate_run_id, period_id)
            staged = []
            for table in tables:
                scope = period_id if table in by_period else None
                _stage_table(conn, table, scope, readers)
                rows, digest = table_checksum(conn, PUBLISHED_SCHEMA, f"{table}{roles.STAGING_SUFFIX}", scope)
                staged.append(PublishedTable(table, rows, digest, scope))
            return tables, staged

        def swap() -> list[str]:
            gone = _swap(conn, tables, readers, settings)
            # Re-created tables get their row-level security before the swap is visible; a table
            # whose rows name no unit version refuses the whole publish (deny by default).
            try:
                row_security.apply(conn)
            except row_security.RowSecurityError as exc:
                raise PublishError(f"{exc}: nothing published") from exc
            conn.execute(
                sql.SQL(
                    "insert into {} (run_id, period_id, gate_run_id, tables) values (%s, %s, %s, %s)"
                ).format(PUBLISH_LOG),
                (run_id, period_id, gate_run_id, Jsonb([t.__dict__ for t in published])),
            )
            return gone

        try:
            tables, published = locking.bounded(
                conn, f"publish {period_id or 'whole tables'}: copying into marts", copy, settings
            )
            locking.bounded(
                conn, f"publish {period_id or 'whole tables'}: swapping the marts", swap, settings
            )
        except BaseException:
            _drop_staged(conn)
            raise
    finally:
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_unlock(%s)", (PUBLISH_LOCK,))
        except psycopg.Error:  # a broken connection has lost the lock with its session
            pass
    log.info(
        "published %s: %s",
        period_id or "whole tables",
        ", ".join(f"{t.name} ({t.rows} rows)" for t in published),
    )
    return published


def published_periods(conn: psycopg.Connection) -> list[PeriodPublish]:
    """The latest publish of each period, by period id (none before the first publish)."""
    if conn.execute("select to_regclass(%s)", (f"{AUDIT_SCHEMA}.publish_log",)).fetchone()[0] is None:
        return []
    rows = conn.execute(
        sql.SQL(
            "select distinct on (period_id) period_id, publish_id, published_at, gate_run_id, tables "
            "from {} order by period_id, publish_id desc"
        ).format(PUBLISH_LOG)
    ).fetchall()
    return [PeriodPublish(*row) for row in rows]
