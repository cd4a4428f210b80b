"""Database roles: who may read and write what in the warehouse.

* ``dxw_owner`` (no login): owns nothing by itself; members may change every dxw schema.
* ``dxw_loader`` (login): lands batches (``raw``) and reads the reference data.
* ``dxw_bi`` (login): reads the published marts (``marts``) and nothing else: not ``raw``,
  ``staging``, ``core``, ``marts_build`` nor ``marts_audit``.
* ``dxw_bi_scoped`` (no login): the group of scoped BI logins made by :func:`scope` (``dxw db
  scope``): each reads the same marts, but PostgreSQL row-level security shows it only the rows
  of its unit and the units under it (a district sees itself and its communes).

:func:`grant` is idempotent (``dxw db grant``; run again after a server restore). Published
tables are re-created at every publish, so ``dxw_bi`` gets them through default privileges of
the role that publishes, not through grants on the tables of the moment.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from dxw.settings import Settings

log = logging.getLogger(__name__)

OWNER, LOADER, BI, SCOPED = "dxw_owner", "dxw_loader", "dxw_bi", "dxw_bi_scoped"
SECURITY_SCHEMA = "marts_security"
# Which unit each scoped login may see, and the rows that follow from it: the unit and every
# unit under it in the unit seed (both structures). Security definer: the logins cannot read
# the scope table or the reference schema themselves.
SCOPE_DDL = """
create schema if not exists marts_security;
create table if not exists marts_security.unit_scope (
    login text primary key,
    unit_code text not null,
    granted_at timestamptz not null default now()
);
set local check_function_bodies = off;
create or replace function marts_security.visible_units() returns setof text
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    with recursive visible as (
        select unit_code from marts_security.unit_scope where login = session_user
        union
        select units.code from reference.units as units
        join visible on units.parent_code = visible.unit_code
    )
    select unit_code from visible
$$;
revoke all on function marts_security.visible_units() from public;
"""
INTERNAL_SCHEMAS = ("raw", "reference", "staging", "intermediate", "core", "marts_build", "marts_audit")
PUBLISHED_SCHEMA = "marts"


def _ensure_role(conn: psycopg.Connection, role: str, login: bool, password: str | None) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    options = sql.SQL("login" if login else "nologin")
    if not exists:
        conn.execute(sql.SQL("create role {} {}").format(sql.Identifier(role), options))
    if password:
        conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(password)))


def grant(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Create the roles when missing and (re)apply their privileges; returns what was done."""
    done = []
    with conn.transaction():
        _ensure_role(conn, OWNER, login=False, password=None)
        _ensure_role(conn, LOADER, login=True, password=settings.loader_password)
        _ensure_role(conn, BI, login=True, password=settings.bi_password)
        _ensure_role(conn, SCOPED, login=False, password=None)
        for schema in (*INTERNAL_SCHEMAS, PUBLISHED_SCHEMA):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("grant all on schema {} to {}").format(sql.Identifier(schema), sql.Identifier(OWNER))
            )
        # The loader lands batches: raw only.
        conn.execute(sql.SQL("grant usage, create on schema raw to {}").format(sql.Identifier(LOADER)))
        conn.execute(
            sql.SQL("grant select, insert, update on all tables in schema raw to {}").format(
                sql.Identifier(LOADER)
            )
        )
        conn.execute(
            sql.SQL(
                "alter default privileges in schema raw grant select, insert, update on tables to {}"
            ).format(sql.Identifier(LOADER))
        )
        # BI reads the published marts, now and after every publish (default privileges).
        for reader in (BI, SCOPED):
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(reader)))
            conn.execute(
                sql.SQL("grant select on all tables in schema marts to {}").format(sql.Identifier(reader))
            )
            conn.execute(
                sql.SQL("alter default privileges in schema marts grant select on tables to {}").format(
                    sql.Identifier(reader)
                )
            )
        conn.execute(SCOPE_DDL)
        conn.execute(sql.SQL("revoke all on schema marts_security from public"))
        conn.execute(sql.SQL("grant usage on schema marts_security to {}").format(sql.Identifier(SCOPED)))
        conn.execute(
            sql.SQL("grant execute on function marts_security.visible_units() to {}").format(
                sql.Identifier(SCOPED)
            )
        )
        apply_row_security(conn)
        # Nothing else: revoke whatever a previous grant or PUBLIC may have given.
        for schema in INTERNAL_SCHEMAS:
            conn.execute(
                sql.SQL("revoke all on schema {} from public, {}, {}").format(
                    sql.Identifier(schema), sql.Identifier(BI), sql.Identifier(SCOPED)
                )
            )
        conn.execute(
            sql.SQL("revoke create on schema marts from public, {}, {}").format(
                sql.Identifier(BI), sql.Identifier(SCOPED)
            )
        )
        done.append(f"roles {OWNER}, {LOADER}, {BI}")
        done.append(f"{BI}: select on {PUBLISHED_SCHEMA} (now and after every publish), nothing else")
        done.append(f"{LOADER}: write raw")
        done.append(f"{SCOPED}: the marts' rows of each login's own unit and the units under it")
    return done


def apply_row_security(conn: psycopg.Connection) -> list[str]:
    """Row-level security on every published table with a ``unit_code`` (run at each publish).

    ``dxw_bi`` keeps every row; a scoped login sees the rows of its units. Tables are re-created
    at every publish, so the publish calls this in its own transaction, before anyone can read.
    """
    if (
        conn.execute("select count(*) from pg_roles where rolname = any(%s)", ([BI, SCOPED],)).fetchone()[0]
        < 2
    ):
        return []
    tables = [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.columns "
            "where table_schema = %s and column_name = 'unit_code' order by 1",
            (PUBLISHED_SCHEMA,),
        )
    ]
    for name in tables:
        table = sql.Identifier(PUBLISHED_SCHEMA, name)
        conn.execute(sql.SQL("alter table {} enable row level security").format(table))
        conn.execute(sql.SQL("drop policy if exists dxw_bi_all_rows on {}").format(table))
        conn.execute(
            sql.SQL("create policy dxw_bi_all_rows on {} for select to {} using (true)").format(
                table, sql.Identifier(BI)
            )
        )
        conn.execute(sql.SQL("drop policy if exists dxw_unit_scope on {}").format(table))
        conn.execute(
            sql.SQL(
                "create policy dxw_unit_scope on {} for select to {} "
                "using (unit_code in (select marts_security.visible_units()))"
            ).format(table, sql.Identifier(SCOPED))
        )
    return tables


def scope(conn: psycopg.Connection, login: str, unit_code: str, password: str | None = None) -> str:
    """Create (or re-scope) a BI login that sees only ``unit_code`` and the units under it."""
    with conn.transaction():
        known = conn.execute("select to_regclass('reference.units')").fetchone()[0]
        if (
            known
            and not conn.execute("select 1 from reference.units where code = %s", (unit_code,)).fetchone()
        ):
            raise ValueError(f"unknown unit {unit_code!r}: not in reference.units")
        _ensure_role(conn, login, login=True, password=password)
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(SCOPED), sql.Identifier(login)))
        conn.execute(
            "insert into marts_security.unit_scope (login, unit_code) values (%s, %s) "
            "on conflict (login) do update set unit_code = excluded.unit_code, granted_at = now()",
            (login, unit_code),
        )
    return f"{login}: reads the marts' rows of {unit_code} and the units under it"
