"""`dxw db grant`: the BI login reads the published marts and is refused everywhere else."""

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from dxw import publish
from dxw.settings import get_settings
from dxw.warehouse import roles

pytestmark = pytest.mark.integration

INTERNAL_TABLES = [
    "raw.load_batch",
    "marts_build.mart_probe",
    "marts_audit.publish_log",
    "staging.probe_view",
]


# Scoped logins made by tests get this password (dxw_bi and dxw_loader: tests/conftest.py).
SCOPED_PASSWORD = "dxw-test-scoped-password"


def as_role(url: str, role: str, password: str | None = None) -> str:
    """``url`` for ``role``, with its test password (the embedded server checks passwords)."""
    if password is None:
        settings = get_settings()
        password = {roles.BI: settings.bi_password, roles.LOADER: settings.loader_password}.get(
            role, SCOPED_PASSWORD
        )
    parts = urlsplit(url)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{quote(role)}:{quote(password or '')}@{host}"))


@pytest.fixture
def granted(conn, empty_warehouse):
    conn.execute("create schema if not exists raw")
    conn.execute("create table raw.load_batch (batch_id int)")
    conn.execute("create schema if not exists staging")
    conn.execute("create view staging.probe_view as select 1 as x")
    conn.execute("create schema if not exists marts_build")
    # A unit version on every row: row security refuses to publish a mart without one.
    conn.execute(
        "create table marts_build.mart_probe as "
        "select 'before_2025' as unit_structure, '024' as unit_code, 1 as x"
    )
    roles.grant(conn, get_settings())
    roles.grant(conn, get_settings())  # idempotent
    publish.publish(conn)  # creates marts.mart_probe after the grant: default privileges apply


def test_bi_reads_every_published_mart(granted, urls):
    with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
        assert bi.execute("select x from marts.mart_probe").fetchall() == [(1,)]


@pytest.mark.parametrize("table", INTERNAL_TABLES)
def test_bi_is_refused_outside_marts(granted, urls, table):
    with (
        psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        bi.execute(f"select * from {table}")


def test_bi_cannot_change_the_marts(granted, urls):
    with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("delete from marts.mart_probe")
        bi.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("create table marts.mine (x int)")


def test_loader_writes_raw_but_cannot_read_marts(granted, urls):
    with psycopg.connect(as_role(urls.warehouse, roles.LOADER)) as loader:
        loader.execute("insert into raw.load_batch values (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            loader.execute("select * from marts.mart_probe")


def test_a_warehouse_of_the_previous_release_is_upgraded_by_grant(conn, empty_warehouse, urls):
    # The previous release's scope function and the policy calling it, as its `dxw db grant` and
    # publish left them (its SCOPE_DDL and apply_row_security): dropping the function without
    # its policy failed every run's start ("other objects depend on it").
    conn.execute("create schema marts_security")
    conn.execute("create table marts_security.unit_scope (login text primary key, unit_code text not null)")
    conn.execute(
        "create function marts_security.visible_units() returns setof text language sql stable "
        "as $$ select unit_code from marts_security.unit_scope where login = session_user $$"
    )
    conn.execute("create schema marts")
    conn.execute("create table marts.mart_probe (unit_structure text, unit_code text)")
    conn.execute("alter table marts.mart_probe enable row level security")
    conn.execute(
        "create policy dxw_unit_scope on marts.mart_probe for select "
        "using (unit_code in (select marts_security.visible_units()))"
    )
    roles.grant(conn, get_settings())
    policies = conn.execute(
        "select policyname from pg_policies where schemaname = 'marts' and tablename = 'mart_probe'"
    ).fetchall()
    assert "dxw_unit_scope" not in {name for (name,) in policies}
    assert conn.execute("select to_regprocedure('marts_security.visible_units()')").fetchone()[0] is None
