"""Plan 86 VI.6's yearly figures: the run of a second half-year gates and publishes its year too,
and `dxw report --period 2025` writes the annual report with the 2021-2025 summary award."""

from decimal import Decimal

import pytest

from dxw.cli import INGEST_DAGS
from dxw.orchestration import dagrun
from dxw.serving.reports import write_report

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

HALF_YEARS = ["2024S1", "2024S2", "2025S1", "2025S2"]


@pytest.fixture(scope="module")
def published(simulator):
    """Four half-years ingested and transformed; only the run of 2025S2 (with its year) published."""
    from tests.conftest import reset_warehouse

    reset_warehouse()
    for dag_id in INGEST_DAGS:
        dagrun.run(dag_id, {"periods": HALF_YEARS, "source_url": simulator.url})
    dagrun.run("transform_warehouse")
    run = dagrun.run("semiannual_marts", {"period": "2025S2"})
    return dagrun.task_states(run)


def test_the_second_half_year_publishes_its_year_after_its_own_gate(published, conn):
    assert published["year_gate"] == "success"
    assert published["publish_year"] == "success"
    logged = conn.execute(
        """
        select p.period_id, r.suite, r.success from marts_audit.publish_log as p
        join marts_audit.quality_run as r on r.quality_run_id = p.gate_run_id
        order by p.publish_id
        """
    ).fetchall()
    assert sorted(logged) == [
        ("2025", "mart_annual_indicator", True),
        ("2025S2", "mart_semiannual_indicator", True),
    ]
    # 2024 was built but never gated: it is not published.
    years = conn.execute("select distinct period_id from marts.mart_annual_indicator").fetchall()
    assert years == [("2025",)]


def test_a_year_adds_up_its_counts_and_keeps_its_end_state(published, conn):
    """Worked from the sources' own rows: the Decree 09 year 2025 is 2025S1 + 2025S2 for counts
    (dossiers processed and signed, the document system's, for the district itself: the whole of
    2025S1 and its 15-30 June 2025 in 2025S2), and the state at the year's end for states
    (services fully online on the portal: its calendar months, so December 2025's), which only the
    units that exist then report: the new communes, not the district that ceased on 30 June."""
    signed, dossiers = conn.execute(
        """
        select sum(signed_online), sum(dossiers_total - dossiers_secret) from raw.dms_work_dossiers
        where org_code = 'HGG-034' and period_id in ('2025S1', '2025S2')
          and batch_id in (select batch_id from raw.load_batch where status = 'loaded')
        """
    ).fetchone()
    year = conn.execute(
        "select numerator, denominator from marts.mart_annual_indicator where period_id = '2025' "
        "and unit_structure = 'before_2025' and unit_code = '034' "
        "and indicator_code = 'DIST_WORK_DOSSIERS_SIGNED'"
    ).fetchone()
    assert year == (Decimal(signed), Decimal(dossiers))
    # The district has no state at the year's end: no row, or a row without a figure.
    district = conn.execute(
        "select numerator from marts.mart_annual_indicator where period_id = '2025' "
        "and unit_structure = 'before_2025' and unit_code = '034' and indicator_code = 'PS_FULL_ONLINE'"
    ).fetchone()
    assert district is None or district[0] is None
    # Phường Hà Giang 2 (00691, from 1 July 2025): its services fully online in December 2025, the
    # last calendar month the portal answered for 2025S2.
    full = conn.execute(
        "select full_count from raw.portal_provide_online "
        "where department_code = 'H08.00691' and period_id = '2025S2' and request_month = 12 "
        "and batch_id in (select batch_id from raw.load_batch where status = 'loaded')"
    ).fetchone()[0]
    numerator = conn.execute(
        "select numerator from marts.mart_annual_indicator where period_id = '2025' "
        "and unit_structure = 'from_2025' and unit_code = '00691' and indicator_code = 'PS_FULL_ONLINE'"
    ).fetchone()[0]
    assert numerator == full


def test_the_summary_award_reads_only_published_half_years(published, conn):
    # Only 2025S2 was published (2024S1..2025S1 were built but never gated): the summary award can
    # read 2025S2 alone, and on its cut-off (14 December 2025) only the 2025 communes exist.
    spans = conn.execute(
        "select distinct unit_structure, unit_level, evaluated_from, evaluated_to "
        "from marts.mart_award_eligibility where grain = 'plan_period'"
    ).fetchall()
    assert spans == [("from_2025", "commune", "2025S2", "2025S2")]


def test_the_annual_report_shows_the_year_and_the_summary_award(published, tmp_path):
    files = write_report("2025", tmp_path)
    page = files.html.read_text(encoding="utf-8")
    assert "Báo cáo kết quả chuyển đổi số năm 2025" in page
    assert "Khen thưởng tổng kết giai đoạn 2021 - 2025 (mục IV.3)" in page
    # The basis of the summary award is stated, and so is the Board's part of the criterion.
    assert "tỷ lệ của kỳ 6 tháng cuối cùng trong giai đoạn" in page
    assert "tích cực ứng dụng công nghệ số" in page
    assert "Theo dõi 6 tháng" not in page
    # The pilot annex lists the 2022 registry; its units belong to the pre-2025 structure.
    assert "Phụ lục D. Đơn vị chỉ đạo điểm (mục III.4)" in page
    assert "Đơn vị trước sắp xếp năm 2025: không có số liệu trong kỳ này" in page
    assert files.xlsx.exists()


@pytest.mark.parametrize("period_id", ["2025S2", "2025"])
def test_2025s2_and_the_year_2025_read_in_both_structures(published, tmp_path, period_id):
    # The new structure is the period's own: the new province, two-tier, its coverage in words
    # (the warehouse's sources report the 73 new communes formed from Hà Giang's, of 124).
    new = write_report(period_id, tmp_path)
    page = new.html.read_text(encoding="utf-8")
    assert new.html.name == f"bao-cao-{period_id}.html"
    assert "cơ cấu đơn vị sau sắp xếp (từ 01/7/2025, chính quyền hai cấp)" in page
    assert "73 trên 124 xã có số liệu" in page
    assert "Một phần" in page
    # The old structure on request: Hà Giang's units until 30 June 2025, said so, no targets judged
    # for units that ceased before the cut-off (the year's window, 15/12/2024 - 14/12/2025, holds
    # 198 days until 30 June; 2025S2's 16 of 183).
    old = write_report(period_id, tmp_path, structure="before_2025")
    page = old.html.read_text(encoding="utf-8")
    assert old.html.name == f"bao-cao-{period_id}-before_2025.html"
    assert "cơ cấu đơn vị trước sắp xếp (đến 30/6/2025)" in page
    days = "16 trên 183 ngày" if period_id == "2025S2" else "198 trên 365 ngày"
    assert days in page
    assert "Tỉnh Hà Giang" in page
