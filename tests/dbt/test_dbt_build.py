"""`dbt build` on a fresh database: seeds, models and every dbt test, then the roll-up figures."""

import csv
from decimal import Decimal

import pytest

from dxw.intake.ingest import FEEDS, ensure_raw_tables, ingest
from dxw.settings import get_settings
from dxw.transform import dbt

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(simulator):
    from tests.conftest import URLS, reset_warehouse

    reset_warehouse()
    for period in ("2024S2", "2025S1"):
        for dataset in FEEDS:
            ingest(dataset, period, simulator.url)
    ensure_raw_tables()  # as transform_warehouse does: uploads may not have arrived yet
    # With dbt's unit tests: a failing one fails this build (tests.conftest.WITHOUT_UNIT_TESTS).
    assert dbt.run(["build"], URLS.warehouse, get_settings(), check=False) == 0


def test_every_unit_and_its_ancestors_has_a_row(built, conn):
    counts = conn.execute(
        "select unit_structure, indicator_code, count(*) from marts_build.mart_semiannual_indicator "
        "where period_id = '2025S1' group by 1, 2 order by 1, 2"
    ).fetchall()
    assert counts == [
        # Before 2025 (data/provincial_bodies.csv: 26 Hà Giang bodies stand at the 14 June 2025
        # cut-off, 18 of them serving the public; the 9 that ended before it on 1 March or 1 April
        # 2025 roll forward into the bodies that took them over): 193 communes + 11 districts +
        # 18 bodies + province 02 on the portal; 193 communes + 11 districts + 02; 26 bodies + 02
        # (document management and the reporting system); the pilot district 024 + 02 (reporting
        # system, households covered); 11 districts + 02.
        ("before_2025", "COMM_WORK_DOSSIERS_ONLINE", 205),
        ("before_2025", "COMM_WORK_DOSSIERS_SIGNED", 205),
        ("before_2025", "DEPT_REPORTS_CONNECTED", 27),
        ("before_2025", "DEPT_SYSTEMS_CONNECTED", 27),
        ("before_2025", "DEPT_WORK_DOSSIERS_ONLINE", 27),
        ("before_2025", "DIST_HOUSEHOLD_BROADBAND", 2),
        ("before_2025", "DIST_WORK_DOSSIERS_SIGNED", 12),
        ("before_2025", "PS_FULL_ONLINE", 223),
        ("before_2025", "PS_ON_TIME", 223),
        # Under the 2025 structure: the 73 communes that succeeded Hà Giang's, the 26 new
        # province's bodies that took over Hà Giang's (18 serving the public) + province 08.
        ("from_2025", "COMM_WORK_DOSSIERS_ONLINE", 74),
        ("from_2025", "COMM_WORK_DOSSIERS_SIGNED", 74),
        ("from_2025", "DEPT_REPORTS_CONNECTED", 27),
        ("from_2025", "DEPT_SYSTEMS_CONNECTED", 27),
        ("from_2025", "DEPT_WORK_DOSSIERS_ONLINE", 27),
        ("from_2025", "DIST_HOUSEHOLD_BROADBAND", 1),
        ("from_2025", "DIST_WORK_DOSSIERS_SIGNED", 1),
        ("from_2025", "PS_FULL_ONLINE", 92),
        ("from_2025", "PS_ON_TIME", 92),
    ]


def test_old_and_new_province_show_the_same_totals(built, conn):
    rows = conn.execute(
        "select indicator_code, unit_code, numerator, denominator from marts_build.mart_semiannual_indicator "
        "where period_id = '2025S1' and unit_level = 'province' order by 1, 2"
    ).fetchall()
    by_indicator: dict[str, dict[str, tuple]] = {}
    for indicator, unit, numerator, denominator in rows:
        by_indicator.setdefault(indicator, {})[unit] = (numerator, denominator)
    assert set(by_indicator) == {
        "COMM_WORK_DOSSIERS_ONLINE", "COMM_WORK_DOSSIERS_SIGNED", "DEPT_REPORTS_CONNECTED",
        "DEPT_SYSTEMS_CONNECTED", "DEPT_WORK_DOSSIERS_ONLINE", "DIST_HOUSEHOLD_BROADBAND",
        "DIST_WORK_DOSSIERS_SIGNED",
        "PS_FULL_ONLINE", "PS_ON_TIME",
    }  # fmt: skip
    for indicator, units in by_indicator.items():
        assert units["02"] == units["08"], indicator


def test_split_commune_counts_once_towards_its_primary_successor(built, conn):
    # 00688 Phường Quang Trung was split; its primary successor is 00691 Phường Hà Giang 2.
    successors = conn.execute(
        "select old_code from reference.unit_succession where new_code = '00691' and is_primary"
    ).fetchall()
    new = conn.execute(
        "select numerator, reporting_units from marts_build.mart_semiannual_indicator "
        "where unit_structure = 'from_2025' and unit_code = '00691' "
        "and indicator_code = 'PS_ON_TIME' and period_id = '2025S1'"
    ).fetchone()
    assert ("00688",) in successors
    expected = conn.execute(
        "select sum(total_on_time) from raw.portal_dvc_progress as p "
        "join reference.unit_crosswalk as c on c.source_unit_id = p.department_code "
        "join reference.unit_succession as s on s.old_code = c.unit_code and s.is_primary "
        "where p.period_id = '2025S1' and s.new_code = '00691' and p.batch_id in "
        "(select batch_id from staging.stg_raw__load_batch)"
    ).fetchone()[0]
    assert new[0] == expected
    assert new[1] == len(successors)


def test_province_is_the_ratio_of_sums_not_the_mean_of_ratios(built, conn):
    raw_num, raw_den, mean_of_ratios = conn.execute(
        """
        select sum(total_on_time), sum(total_completed), avg(100.0 * total_on_time / total_completed)
        from raw.portal_dvc_progress where period_id = '2025S1'
        """
    ).fetchone()
    num, den, value = conn.execute(
        "select numerator, denominator, value from marts_build.mart_semiannual_indicator "
        "where unit_code = '02' and indicator_code = 'PS_ON_TIME' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()
    assert (num, den) == (raw_num, raw_den)
    assert value == round(100 * raw_num / raw_den, 2)
    assert abs(value - round(mean_of_ratios, 2)) > 0.01, "test data cannot tell the two roll-ups apart"


def eligible_catalogue() -> tuple[dict[str, int], dict[str, int]]:
    """The seed eligible_online_services, read here: (per unit code, per unit level)."""
    path = get_settings().dbt_project_dir / "seeds" / "eligible_online_services.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return (
        {r["unit_code"]: int(r["eligible_services"]) for r in rows if r["unit_code"]},
        {r["unit_level"]: int(r["eligible_services"]) for r in rows if not r["unit_code"]},
    )


def test_services_online_divide_by_the_eligible_services(built, conn):
    """Plan 86 IV.1.a: the denominator is the services eligible for full online provision.

    Worked from the portal's own rows and the catalogue: portal codes are H02.<body> for the
    provincial bodies (letters, unit 02.<body>), H02.<district> for the districts (3 digits) and
    H02.<district>.<commune> for the communes; a body has its own catalogue entry (the one in
    force at the 14 June 2025 cut-off: the latest in the file), districts and communes their
    level's. A body with no entry and no level entry has no ratio: neither part counts.
    """
    by_unit, by_level = eligible_catalogue()
    # The portal lands calendar months: the services offered are a state, June's (the half-year's
    # last calendar month), given by the agencies that answered June.
    rows = conn.execute(
        "select department_code, full_count, online_service_total from raw.portal_provide_online "
        "where period_id = '2025S1' and request_month = 6"
    ).fetchall()
    numerator = denominator = offered = 0
    for code, full, total in rows:
        parts = code.removeprefix("H02.").split(".")
        if not parts[0].isdigit():
            eligible = by_unit.get(f"02.{parts[0]}")
            if eligible is None:
                continue
        else:
            eligible = by_level["district" if len(parts) == 1 else "commune"]
        numerator, denominator, offered = numerator + full, denominator + eligible, offered + total
    num, den = conn.execute(
        "select numerator, denominator from marts_build.mart_semiannual_indicator "
        "where unit_code = '02' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()
    assert (num, den) == (numerator, denominator)
    assert den != offered  # not the services offered online (fully + partly)


def test_portal_figures_say_which_window_they_cover(built, conn):
    """The portal offers calendar months only: its half-year is January-June (window_basis
    calendar_months), not Decree 09's 15 Dec - 14 Jun that the other sources report for."""
    windows = conn.execute(
        "select indicator_code, window_basis, window_start::text, window_end::text, count(*) "
        "from marts_build.mart_semiannual_indicator where period_id = '2025S1' "
        "and indicator_code in ('PS_ON_TIME', 'PS_FULL_ONLINE', 'DEPT_WORK_DOSSIERS_ONLINE') "
        "group by 1, 2, 3, 4 order by 1, 2"
    ).fetchall()
    # Every row of an indicator has the window of its source (counts as in the first test).
    assert windows == [
        ("DEPT_WORK_DOSSIERS_ONLINE", "decree09", "2024-12-15", "2025-06-14", 27 + 27),
        ("PS_FULL_ONLINE", "calendar_months", "2025-01-01", "2025-06-30", 223 + 92),
        ("PS_ON_TIME", "calendar_months", "2025-01-01", "2025-06-30", 223 + 92),
    ]
    # The year is the calendar year for the portal (2024: only its second half was loaded).
    assert conn.execute(
        "select distinct window_basis, window_start::text, window_end::text "
        "from marts_build.mart_annual_indicator where period_id = '2024' and indicator_code = 'PS_ON_TIME'"
    ).fetchall() == [("calendar_months", "2024-01-01", "2024-12-31")]
    # The catalogue says it per indicator.
    assert conn.execute(
        "select indicator_code, primary_source, window_basis from core.dim_indicator "
        "where indicator_code in ('PS_ON_TIME', 'PS_FULL_ONLINE', 'DEPT_WORK_DOSSIERS_ONLINE') order by 1"
    ).fetchall() == [
        ("DEPT_WORK_DOSSIERS_ONLINE", "document_management", "decree09"),
        ("PS_FULL_ONLINE", "public_service_portal", "calendar_months"),
        ("PS_ON_TIME", "public_service_portal", "calendar_months"),
    ]


def test_district_rolls_up_its_communes_and_itself(built, conn):
    expected = conn.execute(
        """
        select sum(total_on_time), sum(total_completed) from raw.portal_dvc_progress
        where period_id = '2025S1' and (department_code = 'H02.030' or department_code like 'H02.030.%')
        """
    ).fetchone()
    got = conn.execute(
        "select numerator, denominator, reporting_units from marts_build.mart_semiannual_indicator "
        "where unit_code = '030' and indicator_code = 'PS_ON_TIME' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()
    assert got[:2] == expected
    assert got[2] == 1 + 24  # Vị Xuyên's People's Committee and its 24 communes


def test_targets_apply_by_level_and_no_change_against_an_unpublished_half(built, conn):
    # IV.1.a sets the services-online target for sở, ngành, đoàn thể tỉnh: a district's figure is
    # monitoring, without a target.
    target, met, change = conn.execute(
        "select target_value, target_met, change_since_previous from marts_build.mart_semiannual_indicator "
        "where unit_code = '024' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()
    assert (target, met) == (None, None)
    # 2024S2 is built but was never gated nor published: there is nothing to compare with.
    assert change is None
    assert conn.execute(
        "select count(change_since_previous) from marts_build.mart_semiannual_indicator"
    ).fetchone() == (0,)
    target, met, num, den = conn.execute(
        "select target_value, target_met, numerator, denominator from marts_build.mart_semiannual_indicator "
        "where unit_code = '02.SNV' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1' "
        "and unit_structure = 'before_2025'"
    ).fetchone()
    assert target == 100
    assert met is (num >= den)
    no_target = conn.execute(
        "select count(*) from marts_build.mart_semiannual_indicator "
        "where indicator_code = 'PS_ON_TIME' and (target_value is not null or target_met is not null)"
    ).fetchone()[0]
    assert no_target == 0


def test_descriptions_are_visible_in_postgres(built, conn):
    comment = conn.execute(
        "select obj_description('marts_build.mart_semiannual_indicator'::regclass, 'pg_class')"
    ).fetchone()[0]
    assert "One row per unit structure, unit, indicator and half-year" in comment


def test_sql_periods_agree_with_dxw_periods(built, conn):
    """dim_date (SQL) and dxw.periods (Python) implement the same two conventions."""
    from datetime import date

    from dxw.periods import parse, period_of

    rows = conn.execute(
        "select date_day, decree09_halfyear_id, calendar_halfyear_id, decree09_month_id, decree09_year_id "
        "from core.dim_date where date_day between '2024-12-01' and '2025-12-31' order by 1"
    ).fetchall()
    assert rows[0][0] == date(2024, 12, 1)
    assert len(rows) == (date(2025, 12, 31) - date(2024, 12, 1)).days + 1
    for day, d09_half, cal_half, d09_month, d09_year in rows:
        assert d09_half == period_of(day, "halfyear", "decree09").id, day
        assert cal_half == period_of(day, "halfyear", "calendar").id, day
        assert d09_month == period_of(day, "month", "decree09").id, day
        assert d09_year == period_of(day, "year", "decree09").id, day
    for period_id in ("2025S1", "2025S2", "2025Q1", "202502", "2025"):
        windows = conn.execute(
            "select calendar_start, calendar_end, decree09_start, decree09_end from core.dim_period "
            "where period_id = %s",
            (period_id,),
        ).fetchone()
        period = parse(period_id)
        assert windows == (*period.window("calendar"), *period.window("decree09")), period_id


def test_award_candidates_and_scorecard(built, conn):
    rows = conn.execute(
        "select award_code, unit_level, unit_code, numerator, denominator, threshold, eligible "
        "from marts_build.mart_award_eligibility "
        "where period_id = '2025S1' and unit_structure = 'before_2025'"
    ).fetchall()
    assert {(award, level) for award, level, *_ in rows} == {
        ("PM_CERTIFICATE", "district"), ("PM_CERTIFICATE", "commune"),
        ("CHAIRMAN_CERTIFICATE", "district"), ("CHAIRMAN_CERTIFICATE", "commune"),
    }  # fmt: skip
    assert len([r for r in rows if r[1] == "district"]) == 2 * 11
    # Eligibility on the exact ratio: 100 x numerator >= threshold x denominator.
    assert all(eligible == (100 * num >= threshold * den) for *_, num, den, threshold, eligible in rows)
    pm = {code for award, level, code, *_, eligible in rows if award == "PM_CERTIFICATE" and eligible}
    chairman = {
        code for award, level, code, *_, eligible in rows if award == "CHAIRMAN_CERTIFICATE" and eligible
    }
    assert pm < chairman, "every PM candidate also clears the lower Chairman's threshold"
    scorecard = conn.execute(
        "select unit_level, count(*), min(indicators_applicable), max(indicators_met) "
        "from marts_build.mart_unit_scorecard where period_id = '2025S1' and unit_structure = 'before_2025' "
        "group by 1 order by 1"
    ).fetchall()
    # Plan 86 IV.1 sets targets for provincial bodies, districts and communes, none for the
    # province itself: it has no scorecard row.
    assert [(level, n) for level, n, *_ in scorecard] == [
        ("commune", 193), ("department", 26), ("district", 11),
    ]  # fmt: skip


def test_docs_generate_documents_every_mart(built):
    import json

    settings = get_settings()
    from tests.conftest import URLS, dbt_target

    assert dbt.run(["docs", "generate"], URLS.warehouse, settings, check=False) == 0
    catalog = json.loads((dbt_target() / "catalog.json").read_text())
    marts = {
        node["metadata"]["name"]
        for node in catalog["nodes"].values()
        if node["metadata"]["schema"] == "marts_build"
    }
    assert marts == {
        "mart_semiannual_indicator",
        "mart_annual_indicator",
        "mart_annual_scorecard",
        "mart_unit_scorecard",
        "mart_award_eligibility",
        "mart_reporting_compliance",
    }


def test_reporting_compliance_lists_the_units_with_the_duty(built, conn):
    rows = conn.execute(
        "select unit_level, status, count(*), min(completeness), max(completeness) "
        "from marts_build.mart_reporting_compliance where period_id = '2025S1' group by 1, 2 order by 1, 2"
    ).fetchall()
    # Plan 86 VI.6: the 26 provincial bodies that exist on the cut-off (data/provincial_bodies.csv)
    # and the 11 districts report; communes do not, nor do the former Tuyên Quang's units (in the
    # registry for coverage). Departments report through the reporting system:
    # simulator.submissions has 02.SXD and 02.HND enter their data set 9 days after the 14 June
    # cut-off (deadline 19 June), the other 24 within 4 days. Of the 4 department indicators they
    # report themselves (2 in the data set, 2 by upload), the data set measures 2: 50 %. No
    # district uploaded in this build; the pilot district 024 reports households covered through
    # the reporting system (from 2025), entered within 4 days of the cut-off: on time, with 1 of
    # its 6 self-reported indicators (16.67 %). The other 10 are missing, with 0 of 6.
    assert rows == [
        ("department", "late", 2, Decimal("50.00"), Decimal("50.00")),
        ("department", "on_time", 24, Decimal("50.00"), Decimal("50.00")),
        ("district", "missing", 10, Decimal("0.00"), Decimal("0.00")),
        ("district", "on_time", 1, Decimal("16.67"), Decimal("16.67")),
    ]


def test_every_published_mart_is_exposed_to_bi():
    import json

    manifest = json.loads(dbt.manifest_path(get_settings()).read_text())
    published = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "publish" in node["tags"]
    }
    exposed = manifest["exposures"]["exposure.dxw.bi_dashboards"]["depends_on"]["nodes"]
    assert published == {node.split(".")[-1] for node in exposed}
    assert len(published) == 6  # four semi-annual marts, the annual indicator mart and scorecard
