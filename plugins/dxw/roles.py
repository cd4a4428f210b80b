"""Database roles: who may read and write what in the warehouse.

* ``dxw_owner`` (no login): owns nothing by itself; members may change every dxw schema.
* ``dxw_loader`` (login): lands batches (``raw``) and reads the reference data.
* ``dxw_bi`` (login): reads the published marts (``marts``) and nothing else: not ``raw``,
  ``staging``, ``core``, ``marts_build`` nor ``marts_audit``.
* ``dxw_bi_scoped`` (no login): the group of scoped BI logins made by ``dxw db scope``
  (:func:`dxw.row_security.scope`): each reads the same marts, but PostgreSQL row-level security
  shows it only the rows of its unit version and what follows from it through the unit history.

:func:`grant` is idempotent (``dxw db grant``; run again after a server restore). Published
tables are re-created at every publish, so ``dxw_bi`` gets them through default privileges of
the role that publishes, not through grants on the tables of the moment.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from dxw import row_security
from dxw.settings import Settings

log = logging.getLogger(__name__)

OWNER, LOADER, BI, SCOPED = "dxw_owner", "dxw_loader", "dxw_bi", "dxw_bi_scoped"
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
        # BI reads the published marts, now and after every publish (default privileges); the
        # scoped group gets each table once it has row security (row_security.apply).
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(BI)))
        conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(sql.Identifier(BI)))
        conn.execute(
            sql.SQL("alter default privileges in schema marts grant select on tables to {}").format(
                sql.Identifier(BI)
            )
        )
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(SCOPED)))
        row_security.setup(conn)
        row_security.apply(conn, refuse=False)
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
        done.append(f"{SCOPED}: the marts' rows of each login's unit version and what follows from it")
    return done
