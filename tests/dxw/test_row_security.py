"""Row-level security on the real unit history: scopes are unit versions, followed through 1 July 2025.

The unit history is the real one (dbt seeds units and unit_succession, and builds dim_unit); the
marts are probes with one row per unit version, so what a login reads is the set of versions it
may see. Expected sets are derived here from the seed CSV files, independently of the SQL.
"""

import csv
from datetime import date
from pathlib import Path

import psycopg
import pytest

from dxw import publish
from dxw.settings import get_settings
from dxw.transform import dbt
from dxw.warehouse import roles, row_security
from tests.dxw.test_roles import SCOPED_PASSWORD, as_role

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
UNITS = list(csv.DictReader((SEEDS / "units.csv").open(encoding="utf-8")))
SUCCESSION = list(csv.DictReader((SEEDS / "unit_succession.csv").open(encoding="utf-8")))
OLD, NEW = "before_2025", "from_2025"
OWN = (roles.OWNER, roles.LOADER)


def children(code: str) -> set[str]:
    """Pre-2025 units directly under ``code`` in units.csv."""
    return {u["code"] for u in UNITS if u["parent_code"] == code and u["valid_from"] < "2025-07-01"}


def predecessors(new_code: str) -> set[str]:
    """Old codes the new (1 July 2025) unit was formed from, in unit_succession.csv."""
    return {
        s["old_code"] for s in SUCCESSION if s["new_code"] == new_code and s["effective_date"] == "2025-07-01"
    }


def successors(old_code: str) -> set[str]:
    return {
        s["new_code"] for s in SUCCESSION if s["old_code"] == old_code and s["effective_date"] == "2025-07-01"
    }


@pytest.fixture(scope="module")
def history():
    """The real unit history and two probe marts published with row security."""
    from tests.conftest import URLS, reset_warehouse

    reset_warehouse()
    settings = get_settings()
    assert dbt.run(["seed", "--select", "units", "unit_succession"], URLS.warehouse, settings) == 0
    assert dbt.run(["run", "--select", "dim_unit"], URLS.warehouse, settings) == 0
    with psycopg.connect(URLS.warehouse, autocommit=True) as conn:
        conn.execute("create schema if not exists marts_build")
        conn.execute(
            "create table marts_build.mart_probe as select unit_structure, unit_code from core.dim_unit"
        )
        # Like mart_reporting_compliance: no unit_structure, the version valid on the cut-off day.
        conn.execute(
            "create table marts_build.mart_probe_by_day as "
            "select unit_code, cutoff_date from core.dim_unit, "
            "(values (date '2025-06-14'), (date '2025-12-14')) as days (cutoff_date) "
            "where cutoff_date between valid_from and coalesce(valid_to, 'infinity')"
        )
        roles.grant(conn, settings)
        for login, code, as_of in [
            ("bi_test_024", "024", None),
            ("bi_test_00691_old", "00691", date(2025, 1, 1)),
            ("bi_test_00691_new", "00691", None),
            ("bi_test_00688", "00688", None),
            ("bi_test_00694_new", "00694", None),
        ]:
            # Logins are server-wide and outlive a test run: their test password is set again.
            roles.scope(
                conn, login, code, as_of=as_of, password=SCOPED_PASSWORD, reset_password=True, own_roles=OWN
            )
        publish.publish(conn)
        yield conn


def seen(url, login, table="mart_probe"):
    with psycopg.connect(as_role(url, login)) as reader:
        return set(reader.execute(f"select * from marts.{table}").fetchall())


def test_a_district_sees_its_communes_and_only_the_new_communes_formed_from_them(history, urls):
    # 024's own versions: itself and its communes in units.csv; after 1 July 2025, the new
    # communes whose predecessors (unit_succession.csv) are all 024's communes.
    communes = children("024")
    new = {
        s["new_code"]
        for s in SUCCESSION
        if s["effective_date"] == "2025-07-01" and predecessors(s["new_code"]) <= communes
    }
    expected = {(OLD, "024")} | {(OLD, c) for c in communes} | {(NEW, c) for c in new}
    assert seen(urls.warehouse, "bi_test_024") == expected
    # By hand: new 00694 was formed from 00688 (part), 00694, 00946, 00949, all of 024: visible.
    # New 00691 includes 00934 of district 030: its figure would give 00934's, so it is hidden.
    assert (NEW, "00694") in expected
    assert (NEW, "00691") not in expected
    assert "00934" in predecessors("00691")
    assert (NEW, "08") not in expected


def test_a_reused_code_scoped_before_2025_does_not_see_the_new_unit_of_the_same_code(history, urls):
    # Old 00691 (Phường Trần Phú, 024) merged with 00688, 00692, 00697, 00934 into new 00691
    # (Phường Hà Giang 2): the new one's predecessors are not all old 00691's, so it is hidden.
    assert predecessors("00691") == {"00688", "00691", "00692", "00697", "00934"}
    assert seen(urls.warehouse, "bi_test_00691_old") == {(OLD, "00691")}


def test_the_new_unit_of_a_reused_code_sees_the_old_units_wholly_merged_into_it(history, urls):
    # Backward: an old commune is visible when all its successors are new 00691; 00688 was split
    # between 00691 and 00694, so its figure is not only new 00691's and stays hidden.
    whole = {old for old in predecessors("00691") if successors(old) == {"00691"}}
    assert whole == {"00691", "00692", "00697", "00934"}
    assert seen(urls.warehouse, "bi_test_00691_new") == {(NEW, "00691")} | {(OLD, c) for c in whole}


def test_a_split_commune_and_the_communes_it_went_to(history, urls):
    assert successors("00688") == {"00691", "00694"}
    # The old commune's login: neither successor is formed from it alone.
    assert seen(urls.warehouse, "bi_test_00688") == {(OLD, "00688")}
    # The new 00694's login: the old communes wholly merged into it, not the split 00688.
    whole = {old for old in predecessors("00694") if successors(old) == {"00694"}}
    assert whole == {"00694", "00946", "00949"}
    assert seen(urls.warehouse, "bi_test_00694_new") == {(NEW, "00694")} | {(OLD, c) for c in whole}


def test_a_mart_without_unit_structure_takes_the_version_valid_on_its_cutoff_day(history, urls):
    # 00691 on 14 June 2025 is old 00691 (024's), on 14 December 2025 the new one (not 024's).
    rows = seen(urls.warehouse, "bi_test_024", "mart_probe_by_day")
    assert ("00691", date(2025, 6, 14)) in rows
    assert ("00691", date(2025, 12, 14)) not in rows
    assert ("00694", date(2025, 12, 14)) in rows
    assert seen(urls.warehouse, "bi_test_00691_new", "mart_probe_by_day") >= {("00691", date(2025, 12, 14))}


def test_the_unscoped_bi_login_still_sees_every_row(history, urls):
    assert len(seen(urls.warehouse, roles.BI)) == len(UNITS)


def test_a_scoped_login_without_a_scope_row_sees_nothing(history, urls):
    conn = history
    roles.scope(conn, "bi_test_none", "02", password=SCOPED_PASSWORD, reset_password=True, own_roles=OWN)
    conn.execute("delete from marts_security.unit_scope where login = 'bi_test_none'")
    assert seen(urls.warehouse, "bi_test_none") == set()


def test_the_policy_computes_the_visible_versions_once_per_query(history, urls):
    with psycopg.connect(as_role(urls.warehouse, "bi_test_024")) as reader:
        plan = "\n".join(
            line
            for (line,) in reader.execute(
                "explain (analyze, costs off, timing off) select * from marts.mart_probe"
            )
        )
    assert "hashed SubPlan" in plan, plan
    assert "Function Scan on visible_unit_versions v (actual rows=10 loops=1)" in plan, plan


@pytest.mark.parametrize(
    "statement",
    [
        "select * from marts_security.unit_scope",
        "select * from marts_security.unit_version",
        "select * from marts_security.scope_versions('bi_test_00691_new')",
        "select * from reference.units",
        "select * from core.dim_unit",
        "delete from marts.mart_probe",
        "alter table marts.mart_probe disable row level security",
        "set role dxw_bi",
    ],
)
def test_a_scoped_login_cannot_widen_its_view(history, urls, statement):
    with (
        psycopg.connect(as_role(urls.warehouse, "bi_test_024")) as reader,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        reader.execute(statement)


@pytest.mark.parametrize("kind", ["view", "materialized view"])
def test_other_relations_in_marts_are_not_readable_by_scoped_logins(history, urls, kind):
    # Someone's view in marts (not on a mart table: those would block the publish's swap). A view
    # reads with its owner's rights and has no row security: the scoped group must not read it.
    conn = history
    conn.execute(f"create {kind} marts.every_unit as select unit_code from core.dim_unit")
    try:
        publish.publish(conn)
        with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
            assert bi.execute("select count(*) from marts.every_unit").fetchone() == (len(UNITS),)
        with (
            psycopg.connect(as_role(urls.warehouse, "bi_test_024")) as reader,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            reader.execute("select * from marts.every_unit")
    finally:
        conn.execute(f"drop {kind} marts.every_unit")


def test_a_mart_without_a_unit_refuses_the_whole_publish(history):
    conn = history
    before = publish.table_checksum(conn, "marts", "mart_probe")
    conn.execute("create table marts_build.mart_notes as select 'no unit column' as note")
    try:
        with pytest.raises(publish.PublishError, match=r"marts\.mart_notes cannot be protected by unit"):
            publish.publish(conn)
    finally:
        conn.execute("drop table marts_build.mart_notes")
    assert conn.execute("select to_regclass('marts.mart_notes')").fetchone() == (None,)
    assert publish.table_checksum(conn, "marts", "mart_probe") == before


@pytest.mark.parametrize(
    ("setup", "login", "reason"),
    [
        ("create role bi_test_super superuser login", "bi_test_super", "is a superuser"),
        ("create role bi_test_bypass bypassrls login", "bi_test_bypass", "has BYPASSRLS"),
        (None, roles.BI, "one of dxw's own roles"),
        (None, roles.LOADER, "one of dxw's own roles"),
        (None, roles.OWNER, "one of dxw's own roles"),
        ("create role bi_test_member login in role dxw_bi", "bi_test_member", "member of dxw_bi"),
        (
            "create role bi_test_via nologin in role dxw_bi; "
            "create role bi_test_indirect login in role bi_test_via",
            "bi_test_indirect",
            "member of dxw_bi",
        ),
    ],
)
def test_roles_row_security_cannot_restrict_are_refused(history, setup, login, reason):
    conn = history
    if setup:
        for statement in setup.split("; "):
            conn.execute(f"drop role if exists {statement.split()[2]}")
        for statement in setup.split("; "):
            conn.execute(statement)
    with pytest.raises(row_security.RowSecurityError, match=reason):
        roles.scope(conn, login, "024", own_roles=OWN)
    assert conn.execute(
        "select count(*) from marts_security.unit_scope where login = %s", (login,)
    ).fetchone() == (0,)


def test_an_existing_password_changes_only_when_asked(history, urls):
    conn = history
    with pytest.raises(row_security.RowSecurityError, match="--reset-password"):
        roles.scope(conn, "bi_test_024", "024", password="another-password", own_roles=OWN)
    assert seen(urls.warehouse, "bi_test_024")  # the old password still logs in
    roles.scope(conn, "bi_test_024", "024", password="another-password", reset_password=True, own_roles=OWN)
    with psycopg.connect(as_role(urls.warehouse, "bi_test_024", "another-password")) as reader:
        assert reader.execute("select count(*) from marts.mart_probe").fetchone()[0] > 0
    roles.scope(conn, "bi_test_024", "024", password=SCOPED_PASSWORD, reset_password=True, own_roles=OWN)


def test_scoping_says_what_the_login_reads(history):
    lines = roles.scope(history, "bi_test_00688", "00688", own_roles=OWN)
    assert (
        lines[0] == "bi_test_00688: existing login, scoped to 00688 (before_2025, 2004-01-01 to 2025-06-30)"
    )
    assert lines[1] == "bi_test_00688 sees 1 unit versions: 00688 (before_2025, 2004-01-01 to 2025-06-30)"
    assert lines[2] == "bi_test_00688 reads, in marts: mart_probe 1, mart_probe_by_day 1 rows"


@pytest.mark.parametrize(
    ("code", "as_of", "message"),
    [
        ("99999", None, "unknown unit '99999'"),
        (
            "00691",
            date(2000, 1, 1),
            "'00691' did not exist on 2000-01-01: its versions are 00691 .before_2025",
        ),
    ],
)
def test_an_unknown_unit_or_a_day_it_did_not_exist_is_refused(history, code, as_of, message):
    with pytest.raises(row_security.RowSecurityError, match=message):
        roles.scope(history, "bi_test_x", code, as_of=as_of, own_roles=OWN)
