"""The next plan is data: a 2026-2030 plan for the new Tuyên Quang added by editing seeds only.

In a copy of the project, the seeds get a catalogue version KH-TQ-2026 valid from 1 January 2026
(no model, macro or Python file is touched): the commune work-dossier target rises from Plan 86's
70 % to 90 %, a new commune indicator reported by upload (COMM_DIGITAL_CITIZENS, >= 80 %) appears
and the Prime Minister's certificate for communes needs 75 % of dossiers signed online instead of
60 %. One commune's figures then arrive through the real paths (document-management batches
through the raw gate, a unit spreadsheet through the upload intake) for 2025S1 and 2026S1, the
project is built, and the marts of 2026S1 use the new plan while 2025S1 keeps Plan 86.

Every expected figure below is worked by hand from the numbers delivered and the plan rows.
"""

import csv
import shutil
from dataclasses import dataclass
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from dxw.intake import imports
from dxw.intake.ingest import FEEDS, ensure_raw_tables, land_gated
from dxw.intake.uploads import load_catalogue, write_template
from dxw.intake.uploads.template import HEADER_ROW
from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import dms_data
from dxw.sources import dms
from dxw.transform import dbt
from dxw.warehouse import database

pytestmark = pytest.mark.integration

NEW_PLAN, NEW_PLAN_FROM = "KH-TQ-2026", "2026-01-01"
NEW_INDICATOR = "COMM_DIGITAL_CITIZENS"


@dataclass(frozen=True)
class Dossiers:
    total: int
    secret: int
    online: int
    signed: int


# 2025S1: 110 - 10 secret = 100 open dossiers; 80 online (80 %), 65 signed online (65 %).
# 2026S1: 205 - 5 secret = 200 open dossiers; 170 online (85 %), 140 signed online (70 %).
DOSSIERS = {"2025S1": Dossiers(110, 10, 80, 65), "2026S1": Dossiers(205, 5, 170, 140)}
# The commune's own spreadsheet for 2026S1: 1,230 of 1,500 adults with a digital identity = 82 %.
CITIZENS = (1230, 1500)


def add_new_plan(seeds) -> None:
    """Append the KH-TQ-2026 rows to the copied seeds, as a data engineer would by hand."""
    with (seeds / "indicators.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    plan86 = next(r for r in rows if r["indicator_code"] == "COMM_WORK_DOSSIERS_ONLINE")
    new_rows = [
        {
            **plan86,
            "target_value": "90",
            "target_year": "2030",
            "plan_ref": "KH-TQ-2026 II.1",
            "note": "Tuyên Quang's 2026-2030 plan raises the commune target from 70 % to 90 %.",
            "catalogue_version": NEW_PLAN,
            "valid_from": NEW_PLAN_FROM,
        },
        {
            **dict.fromkeys(header, ""),
            "indicator_code": NEW_INDICATOR,
            "name_vi": "Tỷ lệ người dân trưởng thành có danh tính số",
            "name_en": "Adults with a digital identity",
            "levels": "commune",
            "target_levels": "commune",
            "plan_ref": "KH-TQ-2026 II.2",
            "numerator_definition": "Adults with a digital identity",
            "denominator_definition": "Adults living in the commune",
            "unit": "percent",
            "comparator": ">=",
            "target_value": "80",
            "target_year": "2030",
            "year_basis": "year_end",
            "met_rule": "met when the exact ratio numerator/denominator satisfies comparator and target",
            "source": "unit_upload",
            "catalogue_version": NEW_PLAN,
            "valid_from": NEW_PLAN_FROM,
        },
    ]
    with (seeds / "indicators.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, header, lineterminator="\n").writerows(new_rows)

    with (seeds / "award_rules.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    pm_commune = next(r for r in rows if r["award_code"] == "PM_CERTIFICATE" and r["unit_level"] == "commune")
    new_rule = {
        **pm_commune,
        "threshold": "75",
        "plan_period_from": "2026S1",
        "plan_period_to": "2030S2",
        "plan_ref": "KH-TQ-2026 IV",
        "basis_note": "Tuyên Quang's 2026-2030 plan: 75 % of work dossiers signed online.",
        "catalogue_version": NEW_PLAN,
        "valid_from": NEW_PLAN_FROM,
    }
    with (seeds / "award_rules.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, header, lineterminator="\n").writerow(new_rule)


def kept_commune(seeds) -> str:
    """A commune of Hà Giang kept whole by the 2025 reorganisation: its only predecessor is the
    commune of the same code, so the 2026 commune's figures are that commune's, unmixed."""
    with (seeds / "unit_succession.csv").open(encoding="utf-8") as handle:
        primary = [r for r in csv.DictReader(handle) if r["is_primary"] == "true" and len(r["old_code"]) == 5]
    predecessors: dict[str, set[str]] = {}
    for row in primary:
        predecessors.setdefault(row["new_code"], set()).add(row["old_code"])
    return sorted(new for new, old in predecessors.items() if old == {new})[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's dbt project and gates, the settings pointed at it."""
    original = get_settings()
    root = tmp_path_factory.mktemp("next-plan")
    shutil.copytree(
        original.dbt_project_dir,
        root / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    shutil.copytree(original.expectations_dir, root / "expectations")
    add_new_plan(root / "dbt_project" / "seeds")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DXW_PROJECT_DIR", str(root))
        patch.setenv("DXW_HOME", str(original.home))
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def commune(project):
    return kept_commune(project.dbt_project_dir / "seeds")


@pytest.fixture(scope="module")
def built(project, commune, tmp_path_factory):
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS, reset_warehouse

    reset_warehouse()
    ensure_raw_tables(project)
    unit = next(u for u in dms_data.dms_units(parse("2025S1")) if u.code == commune)
    # The document system still names the Hà Giang commune in 2026S1; the figures count towards
    # its 2025 successor of the same code (int_observations_placed).
    for period_id, figures in DOSSIERS.items():
        record = {
            "orgCode": dms_data.org_code(unit),
            "orgName": unit.name,
            "dossiersTotal": figures.total,
            "dossiersSecret": figures.secret,
            "processedOnline": figures.online,
            "signedOnline": figures.signed,
        }
        with database.connect(project, autocommit=True) as conn:
            landed = land_gated(conn, FEEDS[dms.DATASET].dataset, period_id, [record], [], {}, project)
        assert landed.status == "loaded"

    form = tmp_path_factory.mktemp("forms") / "bao-cao-2026S1.xlsx"
    write_template(form, load_catalogue(), commune, "2026S1")
    book = load_workbook(form)
    sheet = book.active
    codes = [sheet.cell(row, 3).value for row in range(HEADER_ROW + 1, sheet.max_row + 1)]
    assert [code for code in codes if code] == [NEW_INDICATOR]
    sheet.cell(HEADER_ROW + 1 + codes.index(NEW_INDICATOR), 6).value = CITIZENS[0]
    sheet.cell(HEADER_ROW + 1 + codes.index(NEW_INDICATOR), 7).value = CITIZENS[1]
    book.save(form)
    outcome = imports.import_upload(form, settings=project)
    assert (outcome.status, outcome.accepted, outcome.rejected) == ("accepted", 1, 0)

    assert dbt.run(["build", *WITHOUT_UNIT_TESTS], URLS.warehouse, project, check=False) == 0


def test_the_upload_form_of_a_period_lists_the_indicators_of_its_plan(project, commune):
    catalogue = load_catalogue()
    # 2025S2's cut-off (14 December 2025) is before the new plan: no upload indicator for communes.
    assert [i.code for i in catalogue.applicable(commune, "2025S2")] == []
    assert [i.code for i in catalogue.applicable(commune, "2026S1")] == [NEW_INDICATOR]
    versions = {p: catalogue.indicator("COMM_WORK_DOSSIERS_ONLINE", p) for p in ("2025S2", "2026S1")}
    assert {p: (i.catalogue_version, i.target_value) for p, i in versions.items()} == {
        "2025S2": ("KH86-2022.1", Decimal("70")),
        "2026S1": (NEW_PLAN, Decimal("90")),
    }


def test_each_half_year_is_judged_by_its_own_plan(built, conn, commune):
    rows = conn.execute(
        "select period_id, unit_structure, indicator_code, numerator, denominator, value, target_value, "
        "target_met, gap_to_target from marts_build.mart_semiannual_indicator "
        "where unit_code = %s and indicator_code <> 'COMM_WORK_DOSSIERS_SIGNED' order by 1, 2, 3",
        (commune,),
    ).fetchall()
    d = Decimal
    assert rows == [
        # Plan 86: 80/100 = 80 % >= 70 %, met, 10 points above; also restated under the 2025
        # commune of the same code (from_2025), with the same target.
        (
            "2025S1",
            "before_2025",
            "COMM_WORK_DOSSIERS_ONLINE",
            d(80),
            d(100),
            d("80.00"),
            d(70),
            True,
            d("10.00"),
        ),
        (
            "2025S1",
            "from_2025",
            "COMM_WORK_DOSSIERS_ONLINE",
            d(80),
            d(100),
            d("80.00"),
            d(70),
            True,
            d("10.00"),
        ),
        # The new indicator: 1230/1500 = 82 % >= 80 %, met, 2 points above.
        ("2026S1", "from_2025", NEW_INDICATOR, d(1230), d(1500), d("82.00"), d(80), True, d("2.00")),
        # KH-TQ-2026: 170/200 = 85 % < 90 %, not met (it would be under Plan 86's 70 %), 5 below.
        (
            "2026S1",
            "from_2025",
            "COMM_WORK_DOSSIERS_ONLINE",
            d(170),
            d(200),
            d("85.00"),
            d(90),
            False,
            d("-5.00"),
        ),
    ]


def test_the_year_takes_the_targets_of_its_plan(built, conn, commune):
    rows = conn.execute(
        "select period_id, target_value from marts_build.mart_annual_indicator "
        "where unit_code = %s and unit_structure = 'from_2025' "
        "and indicator_code = 'COMM_WORK_DOSSIERS_ONLINE' order by 1",
        (commune,),
    ).fetchall()
    # The Decree 09 year 2025 ends on 14 December 2025 (Plan 86), 2026 on 14 December 2026.
    assert rows == [("2025", Decimal(70)), ("2026", Decimal(90))]


def test_the_scorecard_counts_the_indicators_of_its_plan(built, conn, commune):
    rows = conn.execute(
        "select period_id, indicators_applicable, indicators_measured, indicators_met, mean_gap_to_target "
        "from marts_build.mart_unit_scorecard "
        "where unit_code = %s and unit_structure = 'from_2025' order by 1",
        (commune,),
    ).fetchall()
    # Communes have one targeted indicator in Plan 86 (work dossiers online: +10 points), two in
    # KH-TQ-2026 (dossiers online -5 and digital citizens +2: mean (-5 + 2) / 2 = -1.5).
    assert rows == [("2025S1", 1, 1, 1, Decimal("10.00")), ("2026S1", 2, 2, 1, Decimal("-1.50"))]


def test_awards_use_the_rule_version_of_the_period(built, conn, commune):
    rows = conn.execute(
        "select period_id, award_code, threshold, value, eligible from marts_build.mart_award_eligibility "
        "where grain = 'halfyear' and unit_code = %s and unit_structure = 'from_2025' order by 1, 2",
        (commune,),
    ).fetchall()
    d = Decimal
    assert rows == [
        # 2025S1 (a Hà Giang commune then; the restated 2025 commune did not exist at the cut-off,
        # so it is not eligible whatever the figure): 65/100 = 65 % against Plan 86's 50 % and 60 %.
        ("2025S1", "CHAIRMAN_CERTIFICATE", d(50), d("65.00"), False),
        ("2025S1", "PM_CERTIFICATE", d(60), d("65.00"), False),
        # 2026S1: 140/200 = 70 %. The new plan's Prime Minister's rule needs 75 %: not eligible (it
        # would be under Plan 86's 60 %). The Chairman's rule, which the new plan does not
        # restate, stays in force with Plan 86's 50 %: eligible.
        ("2026S1", "CHAIRMAN_CERTIFICATE", d(50), d("70.00"), True),
        ("2026S1", "PM_CERTIFICATE", d(75), d("70.00"), False),
    ]
    before = conn.execute(
        "select award_code, threshold, eligible from marts_build.mart_award_eligibility "
        "where grain = 'halfyear' and period_id = '2025S1' and unit_code = %s "
        "and unit_structure = 'before_2025' order by 1",
        (commune,),
    ).fetchall()
    # The Hà Giang commune existed at the 2025S1 cut-off: 65 % >= 60 % and >= 50 %, eligible.
    assert before == [("CHAIRMAN_CERTIFICATE", d(50), True), ("PM_CERTIFICATE", d(60), True)]
