"""Database roles: who may read and write what in the warehouse.

* ``dxw_owner`` (no login): owns nothing by itself; members may change every dxw schema.
* ``dxw_loader`` (login): lands batches (``raw``) and reads the reference data.
* ``dxw_bi`` (login): reads the published marts (``marts``) and nothing else: not ``raw``,
  ``staging``, ``core``, ``marts_build`` nor ``marts_audit``.
* ``dxw_bi_scoped`` (no login): the group of scoped BI logins made by ``dxw db scope``
  (:func:`scope`): each reads the same marts, but PostgreSQL row-level security
  shows it only the rows of its unit version and what follows from it through the unit history.

:func:`grant` is idempotent (``dxw db grant``; run again after a server restore). Published
tables are re-created at every publish, so ``dxw_bi`` gets them through default privileges of
the role that publishes; the scoped group only table by table, once a table has its row security.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from dxw.settings import Settings, get_settings
from dxw.warehouse import locking, row_security

log = logging.getLogger(__name__)

OWNER, LOADER = "dxw_owner", "dxw_loader"
# The BI roles and the schemas row security protects are defined once, where the policies are.
BI, SCOPED = row_security.BI, row_security.SCOPED
SECURITY_SCHEMA, PUBLISHED_SCHEMA = row_security.SECURITY_SCHEMA, row_security.PUBLISHED_SCHEMA
INTERNAL_SCHEMAS = ("raw", "reference", "staging", "intermediate", "core", "marts_build", "marts_audit")
# Connections the loader and the pipeline (Airflow, dbt threads, the loader) need beside BI's.
PIPELINE_CONNECTIONS = 10


# The advisory lock key that serialises role set-up (its bytes spell "dxw-role"): concurrent
# `dxw db grant` calls (or runs starting together) would otherwise race on the same catalogue
# rows and fail with "tuple concurrently updated".
ROLES_LOCK = 0x6478772D726F6C65
# The published tables a publish stages beside the live ones (dxw.publish); never granted to BI.
STAGING_SUFFIX = "__publishing"
STAGING_PATTERN = "%" + STAGING_SUFFIX.replace("_", "\\_")  # a LIKE pattern: "_" is a wildcard there


@dataclass(frozen=True)
class _Step:
    """One piece of the role set-up: whether it is in place (catalogue reads only), how to apply it."""

    what: str
    in_place: Callable[[psycopg.Connection], bool]
    apply: Callable[[psycopg.Connection], None]


def _run(*statements: sql.Composable | str) -> Callable[[psycopg.Connection], None]:
    def apply(conn: psycopg.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return apply


def _true(conn: psycopg.Connection, query: str, params: tuple = ()) -> bool:
    return bool(conn.execute(query, params).fetchone()[0])


_SCHEMA_GRANTS = """
select count(distinct acl.privilege_type) from pg_namespace as namespace,
    aclexplode(coalesce(namespace.nspacl, acldefault('n', namespace.nspowner))) as acl
where namespace.nspname = %s and acl.grantee = to_regrole(%s) and acl.privilege_type = any(%s)
"""
_DEFAULT_GRANTS = """
select count(distinct acl.privilege_type)
from pg_default_acl as defaults, aclexplode(defaults.defaclacl) as acl
where defaults.defaclrole = current_user::regrole and defaults.defaclnamespace = to_regnamespace(%s)
    and defaults.defaclobjtype = 'r' and acl.grantee = to_regrole(%s) and acl.privilege_type = any(%s)
"""
# Tables (and views) of a schema a role cannot use with every one of the privileges.
_TABLES_WITHOUT = """
select relation.relname from pg_class as relation
where relation.relnamespace = to_regnamespace(%s) and relation.relkind in ('r', 'p', 'v', 'm', 'f')
    and relation.relname not like %s
    and not (select bool_and(has_table_privilege(to_regrole(%s), relation.oid, privilege))
             from unnest(%s::text[]) as privilege)
order by 1
"""
_GRANTEES_ON_SCHEMAS = """
select exists (
    select 1 from pg_namespace as namespace,
        aclexplode(coalesce(namespace.nspacl, acldefault('n', namespace.nspowner))) as acl
    where namespace.nspname = any(%s) and acl.privilege_type = any(%s)
        and (acl.grantee = 0 or acl.grantee in (select oid from pg_roles where rolname = any(%s)))
)
"""
_DATABASE_GRANT = """
select exists (
    select 1 from pg_database as db, aclexplode(coalesce(db.datacl, acldefault('d', db.datdba))) as acl
    where db.datname = current_database() and acl.privilege_type = 'TEMPORARY'
        and acl.grantee = coalesce(to_regrole(%s)::oid, 0)
)
"""
# May the login running the set-up change the database's privileges (its owner, or a superuser)?
_OWNS_DATABASE = """
select rolsuper or pg_has_role(
    current_user, (select datdba from pg_database where datname = current_database()), 'member'
)
from pg_roles where rolname = current_user
"""


def _role_step(role: str, login: bool) -> _Step:
    option = sql.SQL("login" if login else "nologin")

    def apply(conn: psycopg.Connection) -> None:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(sql.SQL(verb + " role {} {}").format(sql.Identifier(role), option))

    return _Step(
        f"role {role} ({'login' if login else 'no login'})",
        lambda conn: _true(
            conn,
            "select exists (select 1 from pg_roles where rolname = %s and rolcanlogin = %s)",
            (role, login),
        ),
        apply,
    )


def _password_step(role: str, password: str) -> _Step:
    return _Step(
        f"password of {role}",
        lambda conn: _password_is(conn, role, password),
        lambda conn: conn.execute(set_password(conn, role, password)),
    )


def set_password(conn: psycopg.Connection, role: str, password: str) -> sql.Composed:
    """``alter role ... password`` with the SCRAM verifier computed here: the statement the server
    receives (and may log, with a failing statement) never holds the password itself."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    return sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(verifier))


def _password_is(conn: psycopg.Connection, role: str, password: str) -> bool:
    """Whether ``role``'s stored password is ``password`` (False when it cannot be read)."""
    if not _true(conn, "select has_table_privilege('pg_authid', 'select')"):
        return False
    row = conn.execute("select rolpassword from pg_authid where rolname = %s", (role,)).fetchone()
    stored = row[0] if row else None
    if not stored:
        return False
    if stored.startswith("md5"):
        return stored == "md5" + hashlib.md5((password + role).encode()).hexdigest()
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored)
    if not match:
        return False
    iterations, salt, stored_key = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


def _schema_step(schema: str, role: str, privileges: tuple[str, ...], create: bool = False) -> _Step:
    target = sql.Identifier(schema)
    statements = [sql.SQL("create schema if not exists {}").format(target)] if create else []
    statements.append(
        sql.SQL("grant {} on schema {} to {}").format(
            sql.SQL(", ").join(map(sql.SQL, privileges)), target, sql.Identifier(role)
        )
    )
    return _Step(
        f"{role}: {', '.join(privileges).lower()} on schema {schema}",
        lambda conn: (
            conn.execute(_SCHEMA_GRANTS, (schema, role, list(privileges))).fetchone()[0] == len(privileges)
        ),
        _run(*statements),
    )


def _tables_step(schema: str, role: str, privileges: tuple[str, ...]) -> _Step:
    def missing(conn: psycopg.Connection) -> list[str]:
        rows = conn.execute(_TABLES_WITHOUT, (schema, STAGING_PATTERN, role, list(privileges)))
        return [name for (name,) in rows]

    def apply(conn: psycopg.Connection) -> None:
        # Table by table (not "all tables in schema"): a publish's staging tables stay ungranted.
        for name in missing(conn):
            conn.execute(
                sql.SQL("grant {} on {} to {}").format(
                    sql.SQL(", ").join(map(sql.SQL, privileges)),
                    sql.Identifier(schema, name),
                    sql.Identifier(role),
                )
            )

    return _Step(
        f"{role}: {', '.join(privileges).lower()} on the tables of {schema}",
        lambda conn: not missing(conn),
        apply,
    )


def _default_step(schema: str, role: str, privileges: tuple[str, ...]) -> _Step:
    return _Step(
        f"{role}: {', '.join(privileges).lower()} on the future tables of {schema}",
        lambda conn: (
            conn.execute(_DEFAULT_GRANTS, (schema, role, list(privileges))).fetchone()[0] == len(privileges)
        ),
        _run(
            sql.SQL("alter default privileges in schema {} grant {} on tables to {}").format(
                sql.Identifier(schema), sql.SQL(", ").join(map(sql.SQL, privileges)), sql.Identifier(role)
            )
        ),
    )


def _revoke_step(schemas: tuple[str, ...], privileges: tuple[str, ...]) -> _Step:
    grantees = sql.SQL("public, {}, {}").format(sql.Identifier(BI), sql.Identifier(SCOPED))

    def apply(conn: psycopg.Connection) -> None:
        for (schema,) in conn.execute(
            "select nspname from pg_namespace where nspname = any(%s)", (list(schemas),)
        ):
            conn.execute(
                sql.SQL("revoke {} on schema {} from {}").format(
                    sql.SQL(", ").join(map(sql.SQL, privileges)), sql.Identifier(schema), grantees
                )
            )

    return _Step(
        f"no {', '.join(privileges).lower()} for public and BI on {', '.join(schemas)}",
        lambda conn: not _true(conn, _GRANTEES_ON_SCHEMAS, (list(schemas), list(privileges), [BI, SCOPED])),
        apply,
    )


def _scope_ddl_step() -> _Step:
    # The scope DDL (tables and functions) is applied when it changed: its digest is kept in the
    # security schema's comment, which a dropped or restored-without schema loses with it.
    mark = f"dxw scope ddl {hashlib.md5(row_security.SCOPE_DDL.encode()).hexdigest()}"

    def apply(conn: psycopg.Connection) -> None:
        row_security.setup(conn)
        schema = sql.Identifier(SECURITY_SCHEMA)
        conn.execute(sql.SQL("comment on schema {} is {}").format(schema, sql.Literal(mark)))

    return _Step(
        "the scope tables and functions of the scoped logins",
        lambda conn: _true(
            conn,
            "select coalesce(obj_description(to_regnamespace(%s), 'pg_namespace') = %s, false)",
            (SECURITY_SCHEMA, mark),
        ),
        apply,
    )


def _row_security_step() -> _Step:
    return _Step(
        "row-level security on the published tables",
        lambda conn: not row_security.pending(conn),
        lambda conn: row_security.apply(conn, refuse=False),
    )


def _temp_steps() -> list[_Step]:
    """No TEMP for PUBLIC (hence BI); dxw_owner keeps it explicitly. Database owners only."""

    def revoke(conn: psycopg.Connection) -> None:
        name = conn.execute("select current_database()").fetchone()[0]
        conn.execute(sql.SQL("revoke temporary on database {} from public").format(sql.Identifier(name)))

    def grant_owner(conn: psycopg.Connection) -> None:
        name = conn.execute("select current_database()").fetchone()[0]
        conn.execute(
            sql.SQL("grant temporary on database {} to {}").format(
                sql.Identifier(name), sql.Identifier(OWNER)
            )
        )

    return [
        _Step(
            f"temporary tables for {OWNER}", lambda conn: _true(conn, _DATABASE_GRANT, (OWNER,)), grant_owner
        ),
        _Step(
            "no temporary tables for public",
            lambda conn: not _true(conn, _DATABASE_GRANT, ("public",)),
            revoke,
        ),
    ]


def _reserved_connections_step(role: str) -> _Step:
    return _Step(
        f"{role}: may use the reserved connections",
        lambda conn: _true(
            conn,
            "select to_regrole('pg_use_reserved_connections') is null"
            " or pg_has_role(to_regrole(%s), to_regrole('pg_use_reserved_connections'), 'member')",
            (role,),
        ),
        _run(sql.SQL("grant pg_use_reserved_connections to {}").format(sql.Identifier(role))),
    )


def _limits_step(settings: Settings) -> _Step:
    def logins(conn: psycopg.Connection) -> list[str]:
        return [BI, *scoped_logins(conn)]

    def apply(conn: psycopg.Connection) -> None:
        for login in logins(conn):
            limit_login(conn, login, settings)

    return _Step(
        "limits of the BI logins",
        lambda conn: all(not _limits_missing(conn, login, settings) for login in logins(conn)),
        apply,
    )


def _steps(conn: psycopg.Connection, settings: Settings) -> list[_Step]:
    steps = [
        _role_step(OWNER, login=False),
        _role_step(LOADER, login=True),
        _role_step(BI, login=True),
        _role_step(SCOPED, login=False),
    ]
    for role, password in ((LOADER, settings.loader_password), (BI, settings.bi_password)):
        if password:
            steps.append(_password_step(role, password))
    steps += [
        _schema_step(schema, OWNER, ("USAGE", "CREATE"), create=True)
        for schema in (*INTERNAL_SCHEMAS, PUBLISHED_SCHEMA)
    ]
    # The loader lands batches: raw only.
    writes = ("SELECT", "INSERT", "UPDATE")
    steps += [
        _schema_step("raw", LOADER, ("USAGE", "CREATE")),
        _tables_step("raw", LOADER, writes),
        _default_step("raw", LOADER, writes),
    ]
    # BI reads the published marts, now and after every publish (default privileges); the scoped
    # group gets each table from row_security.apply, once the table has its policy.
    steps += [
        _schema_step(PUBLISHED_SCHEMA, BI, ("USAGE",)),
        _tables_step(PUBLISHED_SCHEMA, BI, ("SELECT",)),
        _default_step(PUBLISHED_SCHEMA, BI, ("SELECT",)),
        _schema_step(PUBLISHED_SCHEMA, SCOPED, ("USAGE",)),
    ]
    steps += [
        _scope_ddl_step(),
        _row_security_step(),
        # Nothing else: revoke whatever a previous grant or PUBLIC may have given.
        _revoke_step(INTERNAL_SCHEMAS, ("USAGE", "CREATE")),
        _revoke_step((PUBLISHED_SCHEMA,), ("CREATE",)),
        _limits_step(settings),
    ]
    if _true(conn, _OWNS_DATABASE):
        steps += _temp_steps()
    else:
        log.warning("not the database's owner: PUBLIC keeps TEMP; ask its owner to revoke it")
    may_reserve = _true(
        conn,
        "select to_regrole('pg_use_reserved_connections') is not null and ("
        "(select rolsuper from pg_roles where rolname = current_user) or exists ("
        "select 1 from pg_auth_members where roleid = to_regrole('pg_use_reserved_connections')"
        " and member = current_user::regrole and admin_option))",
    )
    if may_reserve:
        steps += [_reserved_connections_step(OWNER), _reserved_connections_step(LOADER)]
    return steps


def grant(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Create the roles when missing and apply what is missing of their privileges; says what it did.

    Everything is read from the catalogue first: when all is in place (every run after the first)
    nothing is written and no lock is taken, so a BI session holding a mart cannot hold the
    pipeline's start. What is missing is applied in one transaction under an advisory lock
    (concurrent set-ups wait for each other, then find the work done) with bounded lock waits
    (:func:`dxw.warehouse.locking.bounded`). ``conn`` must be outside a transaction.
    """
    steps = _steps(conn, settings)
    missing = [step.what for step in steps if not step.in_place(conn)]
    applied: list[str] = []
    if missing:

        def work() -> list[str]:
            conn.execute("select pg_advisory_xact_lock(%s)", (ROLES_LOCK,))
            done = []
            for step in steps:  # again, under the lock: another set-up may have done it meanwhile
                if not step.in_place(conn):
                    step.apply(conn)
                    done.append(step.what)
            return done

        applied = locking.bounded(conn, "setting up the dxw roles", work, settings)
    _check_connection_room(conn, settings)
    return [
        f"roles {OWNER}, {LOADER}, {BI}",
        f"{BI}: select on {PUBLISHED_SCHEMA} (now and after every publish), nothing else",
        f"{LOADER}: write raw",
        f"{SCOPED}: the marts' rows of each login's unit version and what follows from it",
        f"BI logins: statement timeout {settings.bi_statement_timeout_seconds:g} s, idle in transaction "
        f"{settings.bi_idle_in_transaction_seconds:g} s, temp files {settings.bi_temp_file_limit_mb} MB, "
        f"{settings.bi_connection_limit} connections each, no temporary tables",
        "changed: " + "; ".join(applied) if applied else "nothing to change: everything was in place",
    ]


def scoped_logins(conn: psycopg.Connection) -> list[str]:
    """The logins that are members of the scoped group (none before it exists)."""
    rows = conn.execute(
        "select member.rolname from pg_auth_members as m join pg_roles as member on member.oid = m.member "
        "where m.roleid = to_regrole(%s) order by 1",
        (SCOPED,),
    ).fetchall()
    return [name for (name,) in rows]


def _login_limits(settings: Settings) -> dict[str, str]:
    return {
        "statement_timeout": f"{round(settings.bi_statement_timeout_seconds * 1000)}ms",
        "idle_in_transaction_session_timeout": f"{round(settings.bi_idle_in_transaction_seconds * 1000)}ms",
        "temp_file_limit": f"{settings.bi_temp_file_limit_mb}MB",
    }


def _may_set(conn: psycopg.Connection, parameter: str) -> bool:
    # temp_file_limit is a superuser setting: a role may carry it only if its setter may set it.
    return _true(
        conn,
        "select rolsuper or (current_setting('server_version_num')::int >= 150000"
        " and has_parameter_privilege(%s, 'set')) from pg_roles where rolname = current_user",
        (parameter,),
    )


def _limits_missing(conn: psycopg.Connection, login: str, settings: Settings) -> list[str]:
    """The limits ``login`` lacks (parameter names, or ``connection limit``)."""
    row = conn.execute(
        "select role.rolconnlimit, coalesce(setting.setconfig, '{}') from pg_roles as role "
        "left join pg_db_role_setting as setting on setting.setrole = role.oid and setting.setdatabase = 0 "
        "where role.rolname = %s",
        (login,),
    ).fetchone()
    if row is None:
        return []
    connlimit, config = row
    missing = [
        name
        for name, value in _login_limits(settings).items()
        if f"{name}={value}" not in config and (name != "temp_file_limit" or _may_set(conn, name))
    ]
    return missing + (["connection limit"] if connlimit != settings.bi_connection_limit else [])


def limit_login(conn: psycopg.Connection, login: str, settings: Settings) -> list[str]:
    """Give a BI login the BI limits (timeouts, temp files, connections); returns what changed.

    Role settings belong to the login role itself (a member does not inherit its group's), so
    every BI login carries its own. No table is locked; runs inside the caller's transaction.
    """
    missing = _limits_missing(conn, login, settings)
    role = sql.Identifier(login)
    for name in missing:
        if name == "connection limit":
            conn.execute(
                sql.SQL("alter role {} connection limit {}").format(
                    role, sql.Literal(settings.bi_connection_limit)
                )
            )
        else:
            conn.execute(
                sql.SQL("alter role {} set {} = {}").format(
                    role, sql.Identifier(name), sql.Literal(_login_limits(settings)[name])
                )
            )
    if not _may_set(conn, "temp_file_limit"):
        log.warning("%s: no temp-file limit (only a superuser may set temp_file_limit on a role)", login)
    return [f"{login}: {name}" for name in missing]


def _check_connection_room(conn: psycopg.Connection, settings: Settings) -> None:
    """Warn when the BI logins together may take the connections the pipeline needs."""
    row = conn.execute(
        "select current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int"
        " - coalesce(current_setting('reserved_connections', true)::int, 0),"
        " coalesce(current_setting('reserved_connections', true)::int, 0),"
        " (select rolsuper from pg_roles where rolname = current_user)"
    ).fetchone()
    open_slots, reserved, superuser = row
    limits = [
        limit
        for (limit,) in conn.execute(
            "select rolconnlimit from pg_roles where rolname = any(%s)", ([BI, *scoped_logins(conn)],)
        )
    ]
    bi_total = float("inf") if any(limit < 0 for limit in limits) else sum(limits)
    if bi_total >= open_slots - PIPELINE_CONNECTIONS:
        log.warning(
            "the BI logins may open %s connections of the %d the server offers: fewer than %d stay "
            "for the loader and the pipeline; lower DXW_BI_CONNECTION_LIMIT or raise max_connections",
            "unlimited" if bi_total == float("inf") else int(bi_total),
            open_slots,
            PIPELINE_CONNECTIONS,
        )
    if not superuser and not reserved:
        log.warning(
            "the server reserves no connections for dxw (reserved_connections = 0): set it (PostgreSQL "
            "16+) so the loader and the pipeline can connect when the BI logins are at their limits"
        )


def scope(
    conn: psycopg.Connection,
    login: str,
    unit_code: str,
    *,
    as_of: date | None = None,
    password: str | None = None,
    reset_password: bool = False,
    own_roles: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> list[str]:
    """Create (or re-scope) a BI login that sees one unit version and what follows from it.

    Refuses roles row security cannot restrict, and an existing role's password change unless
    ``reset_password``. A new role without a password is created LOGIN without one: it cannot log
    in with a password until one is set (it can with the server's other methods, e.g. LDAP).
    Then checks what the login sees, and rolls everything back if it could read rows outside its
    scope. Returns what it did and what the login sees.
    """
    with conn.transaction():
        reason = row_security.refusal(conn, login, own_roles)
        if reason:
            raise row_security.RowSecurityError(
                f"cannot scope {login}: {reason}. Use a dedicated login for scoped BI"
            )
        row_security.refresh_versions(conn)
        version = row_security.resolve_version(conn, unit_code, as_of)
        found = conn.execute("select exists (select from pg_roles where rolname = %s)", (login,))
        exists = found.fetchone()[0]
        role = sql.Identifier(login)
        if not exists:
            conn.execute(sql.SQL("create role {} login").format(role))
        elif password and not reset_password:
            raise row_security.RowSecurityError(
                f"{login} exists already: its password is left as it is; to change it, add --reset-password"
            )
        if password:
            conn.execute(set_password(conn, login, password))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(SCOPED), role))
        limit_login(conn, login, settings or get_settings())
        conn.execute(
            "insert into marts_security.unit_scope (login, unit_code, valid_from) values (%s, %s, %s) "
            "on conflict (login) do update set unit_code = excluded.unit_code, "
            "valid_from = excluded.valid_from, granted_at = now()",
            (login, version.unit_code, version.valid_from),
        )
        done = f"{login}: {'existing login' if exists else 'created'}, scoped to {version}"
        return [done, *row_security.verify(conn, login)]
