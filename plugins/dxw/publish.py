"""Publishing audited marts: build schema -> ``marts`` in one transaction.

dbt builds the marts into ``marts_build``; the quality gate audits them there; this module then
replaces every table of ``marts`` by its audited copy inside a single transaction. A BI query
sees either the previous marts or the new ones: the swap holds an exclusive lock for the few
milliseconds of the renames, and readers blocked on it resume on the new tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from dxw import roles

log = logging.getLogger(__name__)

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = "marts"
AUDIT_SCHEMA = "marts_audit"

AUDIT_DDL = """
create schema if not exists marts_audit;
create table if not exists marts_audit.publish_log (
    publish_id bigint generated always as identity primary key,
    published_at timestamptz not null default clock_timestamp(),
    run_id text,
    period_id text,
    gate_run_id bigint,
    tables jsonb not null
);
alter table marts_audit.publish_log add column if not exists period_id text;
comment on table marts_audit.publish_log is
    'One row per publish of the marts: which tables, how many rows, their content checksum.';
"""


class PublishError(RuntimeError):
    """The marts could not be published; the previous marts are untouched."""


@dataclass(frozen=True)
class PublishedTable:
    name: str
    rows: int
    checksum: str


def build_tables(conn: psycopg.Connection) -> list[str]:
    """The tables dbt built for publishing."""
    rows = conn.execute(
        "select table_name from information_schema.tables "
        "where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
        (BUILD_SCHEMA,),
    ).fetchall()
    return [name for (name,) in rows]


def table_checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[int, str]:
    """Row count and an order-independent md5 of a table's full content."""
    row = conn.execute(
        sql.SQL(
            "select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '') from {}.{} as t"
        ).format(sql.Identifier(schema), sql.Identifier(table))
    ).fetchone()
    return int(row[0]), row[1]


def publish(
    conn: psycopg.Connection,
    run_id: str | None = None,
    gate_run_id: int | None = None,
    period_id: str | None = None,
) -> list[PublishedTable]:
    """Swap every audited table of the build schema into ``marts``, atomically."""
    published: list[PublishedTable] = []
    with conn.transaction():
        conn.execute(AUDIT_DDL)
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED_SCHEMA)))
        tables = build_tables(conn)
        if not tables:
            raise PublishError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables (run dbt first)")
        for table in tables:
            staged = f"{table}__publishing"
            target = sql.Identifier(PUBLISHED_SCHEMA, table)
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(PUBLISHED_SCHEMA, staged)))
            # LIKE ... INCLUDING ALL keeps the column types, constraints and comments (the docs).
            conn.execute(
                sql.SQL("create table {} (like {} including all)").format(
                    sql.Identifier(PUBLISHED_SCHEMA, staged), sql.Identifier(BUILD_SCHEMA, table)
                )
            )
            conn.execute(
                sql.SQL("insert into {} select * from {}").format(
                    sql.Identifier(PUBLISHED_SCHEMA, staged), sql.Identifier(BUILD_SCHEMA, table)
                )
            )
            comment = conn.execute(
                "select obj_description(%s::regclass, 'pg_class')", (f"{BUILD_SCHEMA}.{table}",)
            ).fetchone()[0]
            conn.execute(sql.SQL("drop table if exists {}").format(target))
            conn.execute(
                sql.SQL("alter table {} rename to {}").format(
                    sql.Identifier(PUBLISHED_SCHEMA, staged), sql.Identifier(table)
                )
            )
            if comment:
                conn.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(comment)))
            rows, digest = table_checksum(conn, PUBLISHED_SCHEMA, table)
            published.append(PublishedTable(table, rows, digest))
        # Re-created tables get their row-level security before the swap is visible.
        roles.apply_row_security(conn)
        conn.execute(
            "insert into marts_audit.publish_log (run_id, period_id, gate_run_id, tables) "
            "values (%s, %s, %s, %s)",
            (run_id, period_id, gate_run_id, Jsonb([t.__dict__ for t in published])),
        )
    log.info("published %s", ", ".join(f"{t.name} ({t.rows} rows)" for t in published))
    return published


def last_publish(conn: psycopg.Connection) -> tuple[datetime, list[dict]] | None:
    """When the marts were last published and what went out, or None if never."""
    exists = conn.execute("select to_regclass('marts_audit.publish_log')").fetchone()[0]
    if exists is None:
        return None
    return conn.execute(
        "select published_at, tables from marts_audit.publish_log order by publish_id desc limit 1"
    ).fetchone()
