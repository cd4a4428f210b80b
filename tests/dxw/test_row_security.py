"""Row-level security: a district's BI login sees its own district and communes, nothing else."""

import psycopg
import pytest

from dxw import publish, roles
from dxw.settings import get_settings
from tests.dxw.test_roles import SCOPED_PASSWORD, as_role

pytestmark = pytest.mark.integration

UNITS = [("02", None), ("024", "02"), ("00691", "024"), ("00694", "024"), ("026", "02"), ("00715", "026")]


@pytest.fixture
def scoped(conn, empty_warehouse):
    conn.execute("create schema reference")
    conn.execute("create table reference.units (code text, parent_code text)")
    conn.cursor().executemany("insert into reference.units values (%s, %s)", UNITS)
    conn.execute("create schema marts_build")
    conn.execute("create table marts_build.mart_probe (unit_code text, value int)")
    conn.cursor().executemany(
        "insert into marts_build.mart_probe values (%s, %s)", [(u, i) for i, (u, _) in enumerate(UNITS)]
    )
    conn.execute("create table marts_build.mart_notes (note text)")
    conn.execute("insert into marts_build.mart_notes values ('no unit column')")
    roles.grant(conn, get_settings())
    roles.scope(conn, "bi_test_024", "024", SCOPED_PASSWORD)
    roles.scope(conn, "bi_test_none", "02", SCOPED_PASSWORD)
    conn.execute("delete from marts_security.unit_scope where login = 'bi_test_none'")
    publish.publish(conn)


def visible(url, login):
    with psycopg.connect(as_role(url, login)) as reader:
        return sorted(u for (u,) in reader.execute("select unit_code from marts.mart_probe"))


def test_a_district_login_sees_its_district_and_communes_only(scoped, urls):
    assert visible(urls.warehouse, "bi_test_024") == ["00691", "00694", "024"]


def test_the_unscoped_bi_login_still_sees_every_row(scoped, urls):
    assert visible(urls.warehouse, roles.BI) == sorted(u for u, _ in UNITS)


def test_a_scoped_login_without_a_scope_row_sees_nothing(scoped, urls):
    assert visible(urls.warehouse, "bi_test_none") == []


def test_the_scope_survives_a_republish_and_a_rescope(scoped, urls, conn):
    publish.publish(conn)  # tables are re-created: their policies come with them
    assert visible(urls.warehouse, "bi_test_024") == ["00691", "00694", "024"]
    roles.scope(conn, "bi_test_024", "026")
    assert visible(urls.warehouse, "bi_test_024") == ["00715", "026"]


@pytest.mark.parametrize(
    "statement",
    [
        "select * from marts_security.unit_scope",
        "select * from reference.units",
        "delete from marts.mart_probe",
        "alter table marts.mart_probe disable row level security",
        "set role dxw_bi",
    ],
)
def test_a_scoped_login_cannot_widen_its_view(scoped, urls, statement):
    with (
        psycopg.connect(as_role(urls.warehouse, "bi_test_024")) as reader,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        reader.execute(statement)


def test_tables_without_a_unit_are_read_whole(scoped, urls):
    with psycopg.connect(as_role(urls.warehouse, "bi_test_024")) as reader:
        assert reader.execute("select note from marts.mart_notes").fetchall() == [("no unit column",)]


def test_an_unknown_unit_is_refused(scoped, conn):
    with pytest.raises(ValueError, match="unknown unit '99999'"):
        roles.scope(conn, "bi_test_x", "99999")
