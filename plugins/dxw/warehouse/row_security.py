"""Row-level security on the published marts, and the scopes of BI logins on the unit history.

Deny by default: every table in ``marts`` has row-level security with two policies, ``dxw_bi``
(every row) and ``dxw_bi_scoped`` (the rows of the unit versions its login may see); a table
whose rows cannot be tied to a unit version makes the publish refuse; any other relation in
``marts`` (a view, a materialised view) is not readable by the scoped group. Any other role
granted SELECT on a mart sees no row (no policy names it). The table owner (the role that
publishes) is exempt, as PostgreSQL makes every owner: FORCE is not set, because the publish
itself reads and checksums the tables it builds, and no BI role owns one (:func:`refusal`).

A scope is a unit *version* (``unit_code`` and its ``valid_from``: codes were reused by the 1 July
2025 reorganisation). What a scoped login sees is computed from the unit history
(``core.dim_unit`` and ``reference.unit_succession``, copied at each publish into
``marts_security``, so BI sessions never hold locks on what dbt rebuilds):

* the scoped version and every version under it (parent within the same unit structure, the
  rule of ``dim_unit``);
* forward through the succession: a successor version is visible when *all* its predecessors are
  (a unit that existed before the succession, having absorbed another, is its own predecessor);
* backward: a predecessor version is visible when *all* its successors are;
* repeated until nothing changes.

So a district's login sees its communes before 1 July 2025 and, after, the new communes formed
only from its own communes, never a merged commune's figure from which units outside its scope
could be derived (README, "Security model").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from dxw.errors import InputError

log = logging.getLogger(__name__)

BI, SCOPED = "dxw_bi", "dxw_bi_scoped"
SECURITY_SCHEMA = "marts_security"
PUBLISHED_SCHEMA = "marts"
# Policy names carry the version of their expression: a release that changes an expression
# renames the policy, so the next publish or grant replaces every older one.
ALL_ROWS_POLICY = "dxw_bi_all_rows"
SCOPE_POLICY = "dxw_unit_scope_v2"
# How many of a login's visible unit versions ``dxw db scope`` lists.
SHOWN = 20

SCOPE_DDL = """
create schema if not exists marts_security;
create table if not exists marts_security.unit_scope (
    login text primary key,
    unit_code text not null,
    granted_at timestamptz not null default now()
);
-- A scope is a unit version: the code and the first day of the version (codes were reused).
alter table marts_security.unit_scope add column if not exists valid_from date;
-- The unit history as the last publish saw it (core.dim_unit, reference.unit_succession), copied
-- row by row so that a BI query never locks what dbt rebuilds.
create table if not exists marts_security.unit_version (
    unit_key text primary key,
    unit_code text not null,
    unit_structure text not null,
    unit_level text,
    parent_key text,
    valid_from date not null,
    valid_to date
);
-- One row per succession, resolved to versions: the old code's version on the eve of the
-- succession, the new code's version on its date; null when the history has no such version
-- (then neither side can make the other visible). A successor that existed before (it absorbed
-- another unit) also has a row (itself, itself): it stays its own predecessor.
create table if not exists marts_security.unit_version_succession (
    old_key text,
    new_key text
);
set local check_function_bodies = off;
create or replace function marts_security.scope_versions(p_login text)
returns table (unit_key text, unit_structure text, unit_code text, valid_from date, valid_to date)
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
declare
    visible text[];
    grown text[];
begin
    with recursive tree as (
        select versions.unit_key
        from marts_security.unit_scope as scopes
        inner join marts_security.unit_version as versions
            on versions.unit_code = scopes.unit_code and versions.valid_from = scopes.valid_from
        where scopes.login = p_login
        union
        select children.unit_key
        from marts_security.unit_version as children
        inner join tree on children.parent_key = tree.unit_key
    )
    select coalesce(array_agg(tree.unit_key), '{}') into visible from tree;
    loop
        select coalesce(array_agg(distinct grown_keys.unit_key), '{}') into grown from (
            select unnest(visible) as unit_key
            union
            select edges.new_key
            from marts_security.unit_version_succession as edges
            where edges.new_key is not null
            group by edges.new_key
            having bool_and(coalesce(edges.old_key = any(visible), false))
            union
            select edges.old_key
            from marts_security.unit_version_succession as edges
            where edges.old_key is not null and edges.old_key is distinct from edges.new_key
            group by edges.old_key
            having bool_and(coalesce(edges.new_key = any(visible), false))
        ) as grown_keys;
        exit when cardinality(grown) = cardinality(visible);
        visible := grown;
    end loop;
    return query
        select versions.unit_key, versions.unit_structure, versions.unit_code, versions.valid_from,
            versions.valid_to
        from marts_security.unit_version as versions
        where versions.unit_key = any(visible);
end
$$;
-- What the policies call: the versions of the session's own login, computed once per query.
create or replace function marts_security.visible_unit_versions()
returns table (unit_key text, unit_structure text, unit_code text, valid_from date, valid_to date)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select * from marts_security.scope_versions(session_user)
$$;
-- An earlier release's function and the policies that call it (cascade: the tables keep row security
-- on, so scoped logins read nothing of them until apply() gives them this release's policy).
drop function if exists marts_security.visible_units() cascade;
revoke all on function marts_security.scope_versions(text) from public;
revoke all on function marts_security.visible_unit_versions() from public;
revoke all on schema marts_security from public;
"""

# The versions as dbt defines them (unit_structure and the parent within it: dim_unit), and the
# successions resolved to versions.
REFRESH_VERSIONS = """
delete from marts_security.unit_version;
insert into marts_security.unit_version
select units.unit_key, units.unit_code, units.unit_structure, units.unit_level, parent.unit_key,
    units.valid_from, units.valid_to
from core.dim_unit as units
left join core.dim_unit as parent
    on parent.unit_code = units.parent_code and parent.unit_structure = units.unit_structure;
delete from marts_security.unit_version_succession;
insert into marts_security.unit_version_succession
select
    (select old.unit_key from marts_security.unit_version as old
     where old.unit_code = succession.old_code and old.valid_from < succession.effective_date
         and coalesce(old.valid_to, 'infinity') >= succession.effective_date - 1),
    (select new.unit_key from marts_security.unit_version as new
     where new.unit_code = succession.new_code and new.valid_from <= succession.effective_date
         and coalesce(new.valid_to, 'infinity') >= succession.effective_date)
from reference.unit_succession as succession
union
select new.unit_key, new.unit_key
from reference.unit_succession as succession
inner join marts_security.unit_version as new
    on new.unit_code = succession.new_code and new.valid_from < succession.effective_date
        and coalesce(new.valid_to, 'infinity') >= succession.effective_date;
"""
# Scopes made before scopes had versions: the version valid today, else the latest.
FILL_SCOPE_VERSIONS = """
update marts_security.unit_scope as scopes set valid_from = (
    select versions.valid_from from marts_security.unit_version as versions
    where versions.unit_code = scopes.unit_code
    order by current_date between versions.valid_from and coalesce(versions.valid_to, 'infinity') desc,
        versions.valid_from desc
    limit 1
)
where scopes.valid_from is null
"""


class RowSecurityError(InputError):
    """A relation in ``marts`` cannot be protected, or a login cannot be scoped."""


@dataclass(frozen=True)
class UnitVersion:
    unit_code: str
    valid_from: date
    valid_to: date | None
    unit_structure: str

    def __str__(self) -> str:
        until = self.valid_to.isoformat() if self.valid_to else "today"
        return f"{self.unit_code} ({self.unit_structure}, {self.valid_from.isoformat()} to {until})"


def setup(conn: psycopg.Connection) -> None:
    """The scope tables and functions (idempotent; inside the caller's transaction)."""
    conn.execute(SCOPE_DDL)
    conn.execute(sql.SQL("grant usage on schema marts_security to {}").format(sql.Identifier(SCOPED)))
    conn.execute(
        sql.SQL("grant execute on function marts_security.visible_unit_versions() to {}").format(
            sql.Identifier(SCOPED)
        )
    )
    # Scoped logins get SELECT per table once it is protected (apply), never through default
    # privileges, which would hand them every new relation in marts, views included.
    conn.execute(
        sql.SQL("alter default privileges in schema marts revoke select on tables from {}").format(
            sql.Identifier(SCOPED)
        )
    )
    refresh_versions(conn)


def refresh_versions(conn: psycopg.Connection) -> bool:
    """Copy the unit history dbt built into ``marts_security`` (no-op before the first dbt build)."""
    if conn.execute(
        "select to_regclass('core.dim_unit') is null or to_regclass('reference.unit_succession') is null"
    ).fetchone()[0]:
        return False
    conn.execute(REFRESH_VERSIONS)
    conn.execute(FILL_SCOPE_VERSIONS)
    return True


# The policies' set of versions: the session's own login's.
OWN_VERSIONS = sql.SQL("marts_security.visible_unit_versions()")


def _policy_expression(
    conn: psycopg.Connection, table: str, versions: sql.Composable = OWN_VERSIONS
) -> sql.Composable:
    """How a row of ``table`` names its unit version (among ``versions``); RowSecurityError if not."""
    present = {
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            (PUBLISHED_SCHEMA, table),
        )
    }
    if {"unit_structure", "unit_code"} <= present:
        # A set-returning function in IN (...): a hashed subplan, evaluated once per query.
        return sql.SQL(
            "(unit_structure, unit_code) in (select v.unit_structure, v.unit_code from {versions} as v)"
        ).format(versions=versions)
    if {"unit_code", "cutoff_date"} <= present:
        # The version valid on the row's cut-off day, as the mart chose it (mart_reporting_compliance).
        return sql.SQL(
            "exists (select from {versions} as v "
            "where v.unit_code = {table}.unit_code and {table}.cutoff_date >= v.valid_from "
            "and (v.valid_to is null or {table}.cutoff_date <= v.valid_to))"
        ).format(table=sql.Identifier(table), versions=versions)
    raise RowSecurityError(
        f"{PUBLISHED_SCHEMA}.{table} cannot be protected by unit: it has no unit_code with unit_structure "
        "or cutoff_date, so a scoped login would read it whole or nothing. Give the model those columns "
        "(or keep it out of the published marts)"
    )


# The relations of marts as row security sees them; a publish's staging tables (dxw.publish) are
# nobody's to read until their swap, which applies row security to them under their real name.
_RELATIONS = """
select c.relname, c.relkind, c.relrowsecurity,
    coalesce((select array_agg(p.polname::text order by p.polname) from pg_policy as p
              where p.polrelid = c.oid), '{}'),
    has_table_privilege(%s, c.oid, 'select')
from pg_class as c
where c.relnamespace = to_regnamespace(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and c.relname not like '%%\\_\\_publishing'
order by c.relname
"""


def _relations(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(_RELATIONS, (SCOPED, PUBLISHED_SCHEMA)).fetchall()


def pending(conn: psycopg.Connection) -> bool:
    """Whether :func:`apply` would change anything (catalogue reads only: every run's set-up asks)."""
    if not conn.execute(
        "select to_regprocedure('marts_security.visible_unit_versions()') is not null "
        "and (select count(*) from pg_roles where rolname = any(%s)) = 2",
        ([BI, SCOPED],),
    ).fetchone()[0]:
        return False
    for name, kind, secured, policies, readable in _relations(conn):
        if kind not in ("r", "p"):
            if readable:
                return True
            continue
        try:
            _policy_expression(conn, name)
        except RowSecurityError:
            if readable:
                return True
            continue
        if not (secured and policies == sorted([ALL_ROWS_POLICY, SCOPE_POLICY]) and readable):
            return True
    return False


def apply(conn: psycopg.Connection, refuse: bool = True) -> list[str]:
    """Deny-by-default row security on every relation in ``marts``; returns the protected tables.

    Runs inside the caller's transaction (the publish's, before the swap is visible): a table that
    cannot be protected raises RowSecurityError and the caller's transaction publishes nothing.
    With ``refuse=False`` (``dxw db grant``, which must not fail on what an earlier publish left)
    such a table is only made unreadable to the scoped group, with a warning.
    DDL runs only where a table is not already as it should be.
    """
    granted, current = conn.execute(
        "select (select count(*) from pg_roles where rolname = any(%s)) = 2 "
        "and to_regnamespace('marts_security') is not null, "
        "to_regprocedure('marts_security.visible_unit_versions()') is not null",
        ([BI, SCOPED],),
    ).fetchone()
    if not granted:
        # dxw db grant never ran in this database: no BI role has any right on marts here.
        return []
    if not current:
        # Granted by an earlier release: scoped logins must not keep its rights. (setup also
        # copies the unit history.)
        setup(conn)
    else:
        refresh_versions(conn)
    protected = []
    relations = _relations(conn)
    for name, kind, secured, policies, readable in relations:
        relation = sql.Identifier(PUBLISHED_SCHEMA, name)
        if kind not in ("r", "p"):
            # Views run with their owner's rights and materialised views have no row security:
            # the scoped group cannot read them at all (dxw_bi still can).
            if readable:
                conn.execute(
                    sql.SQL("revoke all on {} from public, {}").format(relation, sql.Identifier(SCOPED))
                )
            continue
        try:
            expression = _policy_expression(conn, name)
        except RowSecurityError as exc:
            if refuse:
                raise
            log.warning("%s; scoped logins cannot read it", exc)
            if readable:
                conn.execute(
                    sql.SQL("revoke all on {} from public, {}").format(relation, sql.Identifier(SCOPED))
                )
            continue
        protected.append(name)
        if secured and policies == sorted([ALL_ROWS_POLICY, SCOPE_POLICY]) and readable:
            continue
        conn.execute(sql.SQL("alter table {} enable row level security").format(relation))
        for policy in policies:
            conn.execute(sql.SQL("drop policy {} on {}").format(sql.Identifier(policy), relation))
        conn.execute(
            sql.SQL("create policy {} on {} for select to {} using (true)").format(
                sql.Identifier(ALL_ROWS_POLICY), relation, sql.Identifier(BI)
            )
        )
        conn.execute(
            sql.SQL("create policy {} on {} for select to {} using ({})").format(
                sql.Identifier(SCOPE_POLICY), relation, sql.Identifier(SCOPED), expression
            )
        )
        conn.execute(sql.SQL("grant select on {} to {}").format(relation, sql.Identifier(SCOPED)))
    return protected


def unit_versions(conn: psycopg.Connection, unit_code: str) -> list[UnitVersion]:
    """The versions of a unit code, oldest first."""
    rows = conn.execute(
        "select unit_code, valid_from, valid_to, unit_structure from marts_security.unit_version "
        "where unit_code = %s order by valid_from",
        (unit_code,),
    ).fetchall()
    return [UnitVersion(*row) for row in rows]


def resolve_version(conn: psycopg.Connection, unit_code: str, as_of: date | None = None) -> UnitVersion:
    """The version of ``unit_code`` valid on ``as_of`` (default: today, else its latest version)."""
    if not conn.execute("select exists (select from marts_security.unit_version)").fetchone()[0]:
        raise RowSecurityError(
            "the unit history is not built yet (core.dim_unit): run the transformation first "
            "(dxw run transform_warehouse, or dxw demo)"
        )
    versions = unit_versions(conn, unit_code)
    if not versions:
        raise RowSecurityError(f"unknown unit {unit_code!r}: not in the unit history (reference.units)")
    day = as_of or date.today()
    valid = [v for v in versions if v.valid_from <= day and (v.valid_to is None or day <= v.valid_to)]
    if len(valid) > 1:
        raise RowSecurityError(
            f"unit {unit_code!r} is ambiguous on {day}: {', '.join(map(str, valid))}; fix reference.units"
        )
    if valid:
        return valid[0]
    if as_of is not None:
        raise RowSecurityError(
            f"unit {unit_code!r} did not exist on {as_of}: its versions are {', '.join(map(str, versions))}"
        )
    return versions[-1]


def visible_versions(conn: psycopg.Connection, login: str) -> list[UnitVersion]:
    """What ``login`` may see, computed from the owner's side (the function the policies call)."""
    rows = conn.execute(
        "select unit_code, valid_from, valid_to, unit_structure from marts_security.scope_versions(%s) "
        "order by unit_structure, unit_code",
        (login,),
    ).fetchall()
    return [UnitVersion(*row) for row in rows]


def unprotected_for(conn: psycopg.Connection, login: str) -> list[str]:
    """Relations in ``marts`` that ``login`` could read without a row policy for it."""
    rows = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "and has_table_privilege(%s, c.oid, 'select') and not (c.relkind in ('r', 'p') "
        "and c.relrowsecurity "
        "and exists (select from pg_policy p where p.polrelid = c.oid and p.polname = %s))",
        (PUBLISHED_SCHEMA, login, SCOPE_POLICY),
    ).fetchall()
    return [name for (name,) in rows]


def refusal(conn: psycopg.Connection, login: str, own_roles: tuple[str, ...]) -> str | None:
    """Why ``login`` cannot be restricted by row security (None when it can)."""
    row = conn.execute(
        "select rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = %s", (login,)
    ).fetchone()
    if login in (BI, SCOPED, *own_roles):
        return f"{login} is one of dxw's own roles"
    if row is None:
        return None
    superuser, bypass, createrole = row
    if superuser:
        return f"{login} is a superuser: row-level security never applies to it"
    if bypass:
        return f"{login} has BYPASSRLS: row-level security never applies to it"
    if createrole:
        return f"{login} has CREATEROLE: it could grant itself wider rights"
    for role in (BI, *own_roles):
        if conn.execute(
            "select exists (select from pg_roles where rolname = %s) and pg_has_role(%s, %s, 'member')",
            (role, login, role),
        ).fetchone()[0]:
            return f"{login} is a member of {role} (directly or through another role): it reads every row"
    owners = conn.execute(
        "select distinct pg_get_userbyid(c.relowner) "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and pg_has_role(%s, c.relowner, 'member')",
        (PUBLISHED_SCHEMA, login),
    ).fetchall()
    if owners:
        return f"{login} is (a member of) {owners[0][0]}, which owns published marts: owners see every row"
    return None


def verify(conn: psycopg.Connection, login: str) -> list[str]:
    """What ``login`` sees; RowSecurityError (the caller rolls back) if it could see more than its scope."""
    reason = refusal(conn, login, ())
    if reason:
        raise RowSecurityError(f"{login} would read every row: {reason}")
    unprotected = unprotected_for(conn, login)
    if unprotected:
        raise RowSecurityError(
            f"{login} could read {', '.join(unprotected)} in {PUBLISHED_SCHEMA} without row security: "
            "run dxw db grant, then scope again"
        )
    versions = visible_versions(conn, login)
    shown = ", ".join(map(str, versions[:SHOWN])) or "none"
    more = f" and {len(versions) - SHOWN} more" if len(versions) > SHOWN else ""
    lines = [f"{login} sees {len(versions)} unit versions: {shown}{more}"]
    tables = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p') and has_table_privilege(%s, c.oid, 'select') "
        "order by 1",
        (PUBLISHED_SCHEMA, login),
    ).fetchall()
    if not tables:
        return lines
    if not conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]:
        lines.append(f"(rows not counted as {login}: dxw does not connect as a superuser)")
        return lines
    scoped = sql.SQL("marts_security.scope_versions({})").format(sql.Literal(login))
    counts = []
    for (table,) in tables:
        relation = sql.Identifier(PUBLISHED_SCHEMA, table)
        in_scope = _policy_expression(conn, table, scoped)
        counted = sql.SQL("select count(*) from {} where {}").format(relation, in_scope)
        expected = conn.execute(counted).fetchone()[0]
        # Read as the login itself, in a savepoint that is rolled back.
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("set local session authorization {}").format(sql.Identifier(login)))
            seen = conn.execute(sql.SQL("select count(*) from {}").format(relation)).fetchone()[0]
        if seen != expected:
            raise RowSecurityError(
                f"{login} reads {seen} rows of {PUBLISHED_SCHEMA}.{table}, its scope holds {expected}: "
                "nothing changed"
            )
        counts.append(f"{table} {seen}")
    lines.append(f"{login} reads, in {PUBLISHED_SCHEMA}: {', '.join(counts)} rows")
    return lines
