"""The real DAGs through Airflow's dag.test(): ingest, transform, quality gate, publish."""

import shutil

import psycopg
import pytest
from psycopg import sql

from dxw import publish
from dxw.intake import upload_folder
from dxw.intake.ingest import portal_dataset, portal_endpoint
from dxw.landing import copy
from dxw.orchestration import dagrun
from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator.upload_data import drop_uploads, figures
from dxw.sources import portal

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def published_state(conn):
    """Checksum of every published mart table and the number of publishes so far."""
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    ).fetchall()
    sums = {name: publish.table_checksum(conn, "marts", name) for (name,) in tables}
    count = conn.execute("select count(*) from marts_audit.publish_log").fetchone()[0]
    return sums, count


@pytest.fixture(scope="module")
def published(simulator):
    """A warehouse where 2025S1 went through ingestion, transformation and publishing."""
    from tests.conftest import reset_warehouse

    reset_warehouse()
    dagrun.run("ingest_public_service_portal", {"period": "2025S1", "source_url": simulator.url})
    dagrun.run("ingest_document_management", {"period": "2025S1", "source_url": simulator.url})
    dagrun.run("ingest_reporting_system", {"period": "2025S1", "source_url": simulator.url})
    shutil.rmtree(get_settings().uploads_dir, ignore_errors=True)  # what other tests dropped
    drop_uploads(upload_folder.folders()["inbox"], "2025S1")
    dagrun.run("ingest_unit_uploads")
    dagrun.run("transform_warehouse")
    dagrun.run("semiannual_marts", {"period": "2025S1"})


def test_every_kind_of_source_reaches_the_published_marts(published, conn):
    rows = conn.execute(
        """
        select f.source_system, count(distinct f.unit_code), count(distinct f.indicator_code)
        from core.fct_indicator_observation as f
        where f.period_id = '2025S1' and f.unit_structure = 'before_2025' group by 1 order by 1
        """
    ).fetchall()
    # data/provincial_bodies.csv: 35 Hà Giang bodies existed in 2025S1's window (15 Dec 2024 - 14
    # Jun 2025), 27 of them serving the public; 9 ended before its cut-off (Decree 45/2025, 1 March;
    # the social-security office on 1 April) and their part rolls forward into the body that took
    # them over, so 26 bodies stand at the cut-off, 18 of them serving the public.
    assert rows == [
        ("document_management", 193 + 11 + 26, 4),
        ("public_service_portal", 193 + 11 + 18, 2),
        ("reporting_system", 26 + 1, 3),  # the bodies at the cut-off x 2 indicators, the pilot district
        # simulator.submissions: district 035 never sends its form.
        ("unit_upload", 10, 6),
    ]
    # A district's upload and a department's DHIS2 values are published with their targets.
    published_rows = conn.execute(
        """
        select indicator_code, count(*) from marts.mart_semiannual_indicator
        where period_id = '2025S1' and unit_structure = 'before_2025'
          and indicator_code in ('DIST_HOUSEHOLD_BROADBAND', 'DEPT_REPORTS_CONNECTED')
          and value is not null
        group by 1 order by 1
        """
    ).fetchall()
    # Department indicators roll up into the province (the 26 bodies at the cut-off + 02); a
    # district indicator stays with the districts.
    assert published_rows == [("DEPT_REPORTS_CONNECTED", 26 + 1), ("DIST_HOUSEHOLD_BROADBAND", 10)]


def test_a_figure_from_two_sources_counts_once_from_the_system(published, conn):
    # The pilot district 024 writes its households covered by broadband in its upload form and
    # the reporting system holds the same figure, 3 households in 100 fewer covered
    # (dxw.simulator.dhis2_data.pilot_figures). Seed source_precedence: reporting_system is
    # system_measured (precedence 2), unit_upload self_reported (3), so the system's figure is
    # official although the upload was loaded after it; the upload's stays, not official.
    covered, households = figures("024", "DIST_HOUSEHOLD_BROADBAND", parse("2025S1"))
    system_covered = covered - round(0.03 * households)
    rows = conn.execute(
        """
        select source_system, numerator, denominator, is_official, loaded_at
        from core.fct_indicator_observation
        where unit_code = '024' and unit_structure = 'before_2025'
          and indicator_code = 'DIST_HOUSEHOLD_BROADBAND' and period_id = '2025S1'
        order by source_system
        """
    ).fetchall()
    assert [row[:4] for row in rows] == [
        ("reporting_system", system_covered, households, True),
        ("unit_upload", covered, households, False),
    ]
    assert rows[1][4] > rows[0][4]  # the upload is the later load
    published_row = conn.execute(
        "select numerator, denominator from marts.mart_semiannual_indicator "
        "where unit_code = '024' and unit_structure = 'before_2025' "
        "and indicator_code = 'DIST_HOUSEHOLD_BROADBAND' and period_id = '2025S1'"
    ).fetchone()
    assert published_row == (system_covered, households)


def test_units_are_marked_by_their_days_in_the_half_year(published, conn):
    # 2025S1's Decree 09 window is 15 Dec 2024..14 Jun 2025 (17 + 31 + 28 + 31 + 30 + 31 + 14 =
    # 182 days): every pre-2025 unit existed throughout but the bodies created in 2025 (1 March:
    # 31 + 30 + 31 + 14 = 106 days; the regional social-security office on 1 April: 75 days); the
    # 2025 units (from 1 July 2025) not at all, their rows restate their predecessors' figures.
    rows = conn.execute(
        "select unit_structure, unit_days_in_period, covers_whole_period, count(*) > 0 "
        "from marts.mart_semiannual_indicator where period_id = '2025S1' group by 1, 2, 3 order by 1, 2"
    ).fetchall()
    assert rows == [
        ("before_2025", 75, False, True),
        ("before_2025", 106, False, True),
        ("before_2025", 182, True, True),
        ("from_2025", 0, False, True),
    ]
    refused = conn.execute("select count(*) from core.fct_refused_observation").fetchone()
    assert refused == (0,)  # every source names units that existed in 2025S1


def test_uploads_were_archived_and_the_faulty_one_reported_back(published):
    folders = upload_folder.folders()
    assert upload_folder.pending() == []
    assert len(list((folders["archive"] / "2025S1").glob("*/*.xlsx"))) == 10
    assert [p.name for p in folders["outbox"].rglob("*.xlsx")] == ["bao-cao-027-2025S1.tu-choi.xlsx"]


def test_the_reporting_duty_shows_the_units_on_time_late_and_missing_as_they_submitted(published, conn):
    rows = conn.execute(
        "select unit_level, status, channels, count(*), array_agg(unit_code order by unit_code) "
        "from marts.mart_reporting_compliance where period_id = '2025S1' group by 1, 2, 3 order by 1, 2"
    ).fetchall()
    # By hand from the simulator's documented schedule (dxw.simulator.submissions) and Plan 86
    # VI.6: the 26 provincial bodies that exist on the cut-off (data/provincial_bodies.csv) and 11
    # districts report, the 193 communes do not. The deadline is 14 June (Decree 09 cut-off) + 5
    # days = 19 June 2025. Departments submit through the reporting system, 02.HND and 02.SXD on
    # 23 June (late), the other 24 by 18 June; the
    # districts drop their forms in the inbox, 031 on 23 June (late), 035 never, the other 9 by
    # 18 June. The pilot district 024 also reports households covered through the reporting
    # system (from 2025), entered when it submits. The warehouse loaded everything in 2026: that
    # must not make anyone late.
    on_time_districts = ["026", "027", "028", "029", "030", "032", "033", "034"]
    assert [row[:4] for row in rows] == [
        ("department", "late", "reporting_system", 2),
        ("department", "on_time", "reporting_system", 24),
        ("district", "late", "unit_upload", 1),
        ("district", "missing", None, 1),
        ("district", "on_time", "reporting_system,unit_upload", 1),
        ("district", "on_time", "unit_upload", 8),
    ]
    assert [row[4] for row in rows if row[1] != "on_time"] == [["02.HND", "02.SXD"], ["031"], ["035"]]
    assert rows[4][4] == ["024"]
    assert rows[5][4] == on_time_districts


def test_ingesting_the_same_period_twice_leaves_the_same_rows(published, conn, simulator):
    def raw_rows():
        return conn.execute(
            "select 'progress', count(*), count(distinct department_code), sum(total_received) "
            "from raw.portal_dvc_progress union all "
            "select 'online', count(*), count(distinct department_code), sum(full_count) "
            "from raw.portal_provide_online"
        ).fetchall()

    before = raw_rows()
    run = dagrun.run("ingest_public_service_portal", {"period": "2025S1", "source_url": simulator.url})
    assert raw_rows() == before
    # The portal answers per calendar month, January..June 2025: every agency answers both
    # endpoints for each month it exists, 193 communes + 11 districts + the bodies serving the
    # public, 23 in January and February, 18 from March (Decree 45/2025 mergers of 1 March):
    # 2 x 227 + 4 x 222 = 1342 rows, 231 agencies (27 bodies) over the half-year.
    assert [row[1:3] for row in before] == [(1342, 231), (1342, 231)]
    latest = conn.execute(
        "select distinct on (dataset) dataset, status from raw.load_batch "
        "where period_id = '2025S1' and dataset like 'portal%' order by dataset, batch_id desc"
    ).fetchall()
    assert latest == [("portal_dvc_progress", "unchanged"), ("portal_provide_online", "unchanged")]
    assert dagrun.task_states(run)["periods_to_pull"] == "success"


def test_published_marts_match_the_audited_build(published, conn):
    assert publish.table_checksum(conn, "marts", "mart_semiannual_indicator") == publish.table_checksum(
        conn, "marts_build", "mart_semiannual_indicator"
    )
    rows = conn.execute(
        "select count(*) from marts.mart_semiannual_indicator "
        "where period_id = '2025S1' and unit_structure = 'before_2025' and indicator_code like 'PS%'"
    ).fetchone()[0]
    assert rows == 2 * (222 + 1)  # the agencies at the cut-off and the province
    published = conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    ).fetchall()
    assert published == [
        ("mart_annual_indicator",),
        ("mart_annual_scorecard",),
        ("mart_award_eligibility",),
        ("mart_reporting_compliance",),
        ("mart_semiannual_indicator",),
        ("mart_unit_scorecard",),
    ]


def test_rerunning_a_half_year_reproduces_identical_marts(published, conn):
    built = [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.columns "
            "where table_schema = 'marts_build' and column_name = 'period_id' order by 1"
        ).fetchall()
    ]
    assert "mart_semiannual_indicator" in built
    build_before = {name: publish.table_checksum(conn, "marts_build", name, "2025S1") for name in built}
    published_before, _ = published_state(conn)
    # The build is incremental: with 2025S1's rows in place a re-run would rebuild nothing and
    # prove nothing. Without them, the re-run must build the half-year anew from the core.
    for name in built:
        conn.execute(
            sql.SQL("delete from marts_build.{} where period_id = '2025S1'").format(sql.Identifier(name))
        )
    assert all(publish.table_checksum(conn, "marts_build", name, "2025S1")[0] == 0 for name in built)

    dagrun.run("semiannual_marts", {"period": "2025S1"})
    rebuilt = {name: publish.table_checksum(conn, "marts_build", name, "2025S1") for name in built}
    assert rebuilt == build_before
    assert rebuilt["mart_semiannual_indicator"][0] > 0
    assert published_state(conn)[0] == published_before
    periods = conn.execute("select period_id from marts_audit.publish_log order by publish_id").fetchall()
    assert periods == [("2025S1",), ("2025S1",)]


def test_incomplete_half_year_fails_the_gate_naming_the_check(published, conn):
    from dxw import quality

    conn.execute(
        "delete from marts_build.mart_semiannual_indicator "
        "where unit_code = '00688' and indicator_code = 'PS_ON_TIME' and period_id = '2025S1'"
    )
    result = quality.validate("mart_semiannual_indicator", run_id="test", period_id="2025S1")
    assert not result.success
    assert [f.check for f in result.blocking] == [
        "one row per unit (and each unit it rolls up into) and indicator of its sources; a state "
        "(year_basis year_end) only for the units that exist at the cut-off"
    ]
    # A half-year that was never ingested has no rows at all: every completeness check says so.
    empty = quality.validate("mart_semiannual_indicator", run_id="test", period_id="2024S2")
    assert {f.check for f in empty.blocking} >= {
        "mart is not empty",
        "every unit that reports to a source is present for the half-year (a body merged inside it "
        "counts under the one that absorbed it)",
    }
    conn.execute("drop table marts_build.mart_semiannual_indicator")
    conn.execute(
        "create table marts_build.mart_semiannual_indicator as table marts.mart_semiannual_indicator"
    )


def test_failing_expectation_blocks_publishing(published, conn, simulator):
    before = published_state(conn)
    # The portal sends a commune whose fully-online services exceed its online services.
    endpoint = portal_endpoint("provide-online-tree")
    records = portal.fetch(get_settings(), simulator.url, endpoint, parse("2025S1")).records
    # June's record: the services offered are a state, the half-year's is its last month's.
    bad = next(r for r in records if r["departmentCode"] == "H02.026.00715" and r["requestMonth"] == 6)
    bad["fullCount"] = bad["onlineServiceTotal"] + 40
    copy.land(conn, portal_dataset(endpoint), "2025S1", records)
    dagrun.run("transform_warehouse")  # the core's own dbt tests let a ratio above 100% through

    with pytest.raises(dagrun.DagRunFailed) as failed:
        dagrun.run("semiannual_marts", {"period": "2025S1"})

    states = failed.value.task_states
    assert states["quality_gate"] == "failed"
    assert states["publish_marts"] == "upstream_failed"
    assert all(state == "success" for task, state in states.items() if task.startswith("dbt."))
    # The published marts are byte-for-byte what they were; the build holds the bad figures.
    assert published_state(conn) == before
    build_value = conn.execute(
        "select value from marts_build.mart_semiannual_indicator "
        "where unit_code = '00715' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()[0]
    assert build_value > 100
    # The gate says which check failed, for which unit, indicator and half-year.
    failures = conn.execute(
        """
        select f.check_name, f.failing_rows::text from marts_audit.quality_failure as f
        join marts_audit.quality_run as r using (quality_run_id)
        where r.quality_run_id = (select max(quality_run_id) from marts_audit.quality_run)
        """
    ).fetchall()
    checks = {check: rows for check, rows in failures}
    assert {"numerator <= denominator", "percentage within 0-100"} <= set(checks)
    for rows in checks.values():
        assert '"unit_code": "00715"' in rows
        assert '"indicator_code": "PS_FULL_ONLINE"' in rows


def test_every_published_mart_has_row_security_for_the_scoped_group(published, conn):
    from dxw.warehouse import roles, row_security
    from tests.conftest import URLS
    from tests.dxw.test_roles import SCOPED_PASSWORD, as_role

    # As deployed: the roles are granted (dxw db grant) before a publish; the fixture's reset
    # dropped them, so grant, then publish the audited half-year again.
    roles.grant(conn, get_settings())
    latest = next(p for p in publish.published_periods(conn) if p.period_id == "2025S1")
    publish.publish(conn, run_id="rls", gate_run_id=latest.gate_run_id, period_id="2025S1")
    relations = conn.execute(
        "select c.relname, c.relkind, c.relrowsecurity, "
        "has_table_privilege('dxw_bi_scoped', c.oid, 'select'), "
        "array(select p.polname::text from pg_policy p where p.polrelid = c.oid "
        "and 'dxw_bi_scoped'::regrole = any(p.polroles)) "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1"
    ).fetchall()
    assert {name for name, *_ in relations} >= {
        "mart_semiannual_indicator",
        "mart_unit_scorecard",
        "mart_reporting_compliance",
    }
    for name, kind, secured, readable, policies in relations:
        # A table: row security with the scoped group's policy; anything else: not readable.
        assert (kind in ("r", "p") and secured and policies == [row_security.SCOPE_POLICY]) or not readable, (
            name
        )
    # Computed once per query on the real mart, not once per row.
    roles.scope(
        conn, "bi_test_024", "024", password=SCOPED_PASSWORD, reset_password=True, own_roles=(roles.OWNER,)
    )
    with psycopg.connect(as_role(URLS.warehouse, "bi_test_024")) as reader:
        plan = "\n".join(
            line
            for (line,) in reader.execute(
                "explain (analyze, costs off, timing off) select * from marts.mart_semiannual_indicator"
            )
        )
    assert "hashed SubPlan" in plan, plan
    assert "loops=1)" in plan.split("Function Scan on visible_unit_versions")[1].splitlines()[0], plan
