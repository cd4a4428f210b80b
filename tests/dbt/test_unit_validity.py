"""Units exist in the period: a source still naming Hà Giang's units after 30 June 2025.

The document-management system delivers 2026S1 under the pre-2025 codes (its 2025S1 figures,
when it reported only Hà Giang's units, landed as 2026S1). 2026S1's Decree 09 window is 15 Dec
2025..14 Jun 2026, after every pre-2025 unit's end: a commune's figures count towards its 2025
successor commune, a provincial body's towards the new province's body its successions lead to
(data/provincial_bodies.csv), a district's are refused (its successor is the province).
"""

import csv

import pytest

from dxw.intake.ingest import FEEDS, ensure_raw_tables, land_gated
from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import dms_data
from dxw.sources import dms
from dxw.transform import dbt
from dxw.warehouse import database

pytestmark = pytest.mark.integration

# Figures as the system measured them in 2025S1, delivered again as 2026S1.
MEASURED = parse("2025S1")


@pytest.fixture(scope="module")
def built():
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS, reset_warehouse

    reset_warehouse()
    ensure_raw_tables()
    records = dms_data.work_dossier_rows(MEASURED)
    assert all(r["orgCode"].startswith("HGG-") for r in records)
    settings = get_settings()
    with database.connect(settings, autocommit=True) as conn:
        result = land_gated(conn, FEEDS[dms.DATASET].dataset, "2026S1", records, [], {}, settings)
    assert result.status == "loaded"
    assert dbt.run(["build", *WITHOUT_UNIT_TESTS], URLS.warehouse, settings, check=False) == 0


def successions() -> list[dict[str, str]]:
    with (get_settings().dbt_project_dir / "seeds" / "unit_succession.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_districts_after_their_end_are_refused(built, conn):
    # The document system measures district dossiers signed online: 11 districts, whose
    # successor is province 08 (a district's figure is not the province's): nothing to map to.
    rows = conn.execute(
        "select refusal_reason, count(*), count(distinct unit_code) from core.fct_refused_observation "
        "where period_id = '2026S1' group by 1"
    ).fetchall()
    assert rows == [("after_unit_end", 11, 11)]
    levels = conn.execute(
        "select unit_level, count(*) from core.fct_refused_observation as r join core.dim_unit as u "
        "on r.unit_code = u.unit_code and r.unit_structure = u.unit_structure group by 1 order by 1"
    ).fetchall()
    assert levels == [("district", 11)]


def test_bodies_count_towards_the_new_provinces_body(built, conn):
    # Sở Thông tin và Truyền thông merged into Sở Khoa học và Công nghệ on 1 March 2025 (Decree
    # 45/2025), which became the new province's on 1 July 2025: both Hà Giang rows of the
    # delivery add up under 08.SKHCN (work dossiers processed online / not secret).
    records = {r["orgCode"]: r for r in dms_data.work_dossier_rows(MEASURED)}
    parts = [records["HGG-02.SKHCN"], records["HGG-02.STTTT"]]
    fact = conn.execute(
        "select numerator, denominator, is_mapped from core.fct_indicator_observation "
        "where period_id = '2026S1' and unit_code = '08.SKHCN' "
        "and indicator_code = 'DEPT_WORK_DOSSIERS_ONLINE'"
    ).fetchone()
    assert fact == (
        sum(r["processedOnline"] for r in parts),
        sum(r["dossiersTotal"] - r["dossiersSecret"] for r in parts),
        True,
    )


def test_communes_count_towards_their_successor_for_the_whole_half_year(built, conn):
    # Every pre-2025 commune the delivery names (5-digit code) has one primary successor in the
    # seed; the facts hold two commune indicators for each distinct successor, mapped, and the
    # 2025 communes existed all 182 days of 2026S1 (17 + 31 + 28 + 31 + 30 + 31 + 14).
    delivered = {r["orgCode"].removeprefix("HGG-") for r in dms_data.work_dossier_rows(MEASURED)}
    successors = {
        row["new_code"]
        for row in successions()
        if row["is_primary"] == "true" and len(row["old_code"]) == 5 and row["old_code"] in delivered
    }
    assert len(successors) == 73
    facts = conn.execute(
        "select count(*), count(distinct unit_code), bool_and(is_mapped), "
        "bool_and(unit_structure = 'from_2025'), min(unit_days_in_period), bool_and(covers_whole_period) "
        "from core.fct_indicator_observation where period_id = '2026S1' and indicator_code like 'COMM%'"
    ).fetchone()
    assert facts == (2 * len(successors), len(successors), True, True, 182, True)

    # 2025 commune 00691 (Phường Hà Giang 2): the sum of its predecessors' figures.
    predecessors = {
        row["old_code"] for row in successions() if row["new_code"] == "00691" and row["is_primary"] == "true"
    }
    rows = [
        r for r in dms_data.work_dossier_rows(MEASURED) if r["orgCode"].removeprefix("HGG-") in predecessors
    ]
    assert len(rows) == len(predecessors) == 5
    expected = (
        sum(r["signedOnline"] for r in rows),
        sum(r["dossiersTotal"] - r["dossiersSecret"] for r in rows),
        ",".join(sorted(r["orgCode"] for r in rows)),
    )
    fact = conn.execute(
        "select numerator, denominator, source_unit_id from core.fct_indicator_observation "
        "where period_id = '2026S1' and unit_code = '00691' and indicator_code = 'COMM_WORK_DOSSIERS_SIGNED'"
    ).fetchone()
    assert fact == expected

    # The marts show 2026S1 under the 2025 structure only, the new commune for the whole half-year.
    marts = conn.execute(
        "select unit_structure, count(*) filter (where unit_code = '00691'), bool_and(covers_whole_period) "
        "from marts_build.mart_semiannual_indicator where period_id = '2026S1' group by 1"
    ).fetchall()
    assert marts == [("from_2025", 2, True)]
