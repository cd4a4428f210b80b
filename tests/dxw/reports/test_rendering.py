"""The HTML page and the workbook, rendered from hand-built report data (no database)."""

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from openpyxl.chart import BarChart, LineChart

from dxw.periods import parse
from dxw.serving.reports import html, workbook
from dxw.serving.reports.model import (
    BEFORE_2025,
    FROM_2025,
    AwardCandidate,
    Compliance,
    Figure,
    Pilot,
    PilotAward,
    Publish,
    QualityFailure,
    QualityRun,
    ReportData,
    structure_of,
)
from dxw.serving.reports.queries import load_catalogue
from dxw.settings import get_settings

EVIL = "<script>alert('x')</script>"
LOADED = datetime(2025, 6, 20, 3, 0, tzinfo=UTC)


def figure(code, name, level, parent, indicator, num, den, target=None, change=None):
    value = (Decimal(100) * num / den).quantize(Decimal("0.01"))
    met = None if target is None else value >= target
    return Figure(
        unit_code=code,
        unit_name=name,
        unit_level=level,
        parent_code=parent,
        indicator_code=indicator,
        numerator=Decimal(num),
        denominator=Decimal(den),
        value=value,
        target_value=None if target is None else Decimal(target),
        comparator=">=",
        target_met=met,
        gap_to_target=None if target is None else value - target,
        change_since_previous=change,
    )


def qualitative(code, name, level, parent, achieved, applicable):
    """A yes/no criterion's row: a unit's own answer (applicable 1) or a roll-up of k of n units."""
    return Figure(
        unit_code=code,
        unit_name=name,
        unit_level=level,
        parent_code=parent,
        indicator_code="DIST_MOBILE_UNIVERSAL",
        numerator=Decimal(achieved),
        denominator=Decimal(1 if applicable == 1 else achieved + 1),
        value=None,
        target_met=achieved == applicable,
        is_qualitative=True,
        units_achieved=achieved,
        units_applicable=applicable,
    )


def sample(period_id: str = "2025S1") -> ReportData:
    period = parse(period_id)
    structure = structure_of(period)
    if structure == BEFORE_2025:
        province = ("02", "Tỉnh Hà Giang")
        figures = [
            figure("02", province[1], "province", None, "PS_FULL_ONLINE", 1700, 2000, 100, Decimal("6.5")),
            figure("02", province[1], "province", None, "DIST_WORK_DOSSIERS_SIGNED", 1234, 1500),
            figure("02", province[1], "province", None, "COMM_WORK_DOSSIERS_ONLINE", 600, 900),
            figure("024", "Thành phố Hà Giang", "district", "02", "DIST_WORK_DOSSIERS_SIGNED", 950, 1000, 90),
            figure("026", f"Huyện {EVIL}", "district", "02", "DIST_WORK_DOSSIERS_SIGNED", 284, 500, 90),
            # IV.1.a sets the services-online target for sở, ngành, đoàn thể tỉnh only: the
            # districts' figures are monitoring, without a target.
            figure("02.SNV", "Sở Nội vụ", "department", "02", "PS_FULL_ONLINE", 90, 100, 100),
            figure("024", "Thành phố Hà Giang", "district", "02", "PS_FULL_ONLINE", 900, 1000),
            figure("026", f"Huyện {EVIL}", "district", "02", "PS_FULL_ONLINE", 800, 1000),
            qualitative("02", province[1], "province", None, 1, 2),
            qualitative("024", "Thành phố Hà Giang", "district", "02", 1, 1),
            qualitative("026", f"Huyện {EVIL}", "district", "02", 0, 1),
        ]
        communes = [("00688", "Phường Quang Trung", "024"), ("00712", "Xã Lũng Cú", "026")]
    else:
        province = ("08", "Tỉnh Tuyên Quang")
        figures = [
            figure("08", province[1], "province", None, "PS_FULL_ONLINE", 1800, 2000, 100, Decimal("1.2")),
            figure("08", province[1], "province", None, "COMM_WORK_DOSSIERS_ONLINE", 700, 900),
        ]
        communes = [("00688", "Phường Hà Giang 1", "08"), ("00712", "Xã Lũng Cú", "08")]
    for (code, name, parent), (num, den) in zip(communes, [(80, 100), (55, 100)], strict=True):
        figures.append(figure(code, name, "commune", parent, "COMM_WORK_DOSSIERS_ONLINE", num, den, 70))
        figures.append(figure(code, name, "commune", parent, "COMM_WORK_DOSSIERS_SIGNED", num - 5, den))
    publish = Publish(
        publish_id=7,
        published_at=datetime(2025, 6, 21, 1, 30, tzinfo=UTC),
        period_id=period_id,
        run_id="manual__2025-06-21",
        gate_run_id=41,
        tables=(("mart_semiannual_indicator", 9640, "cf84839042e3c71a945b62b4a531be18"),),
    )
    award = AwardCandidate(
        award_code="PM_CERTIFICATE",
        award_name="Bằng khen của Thủ tướng Chính phủ",
        unit_level="commune",
        unit_code="00688",
        unit_name=communes[0][1],
        parent_name="Thành phố Hà Giang",
        indicator_code="COMM_WORK_DOSSIERS_SIGNED",
        value=Decimal("75.00"),
        numerator=Decimal(75),
        denominator=Decimal(100),
        comparator=">=",
        threshold=Decimal(60),
        margin=Decimal("15.00"),
        rank=1,
        plan_ref="IV.3",
        last_loaded_at=LOADED,
        periods_eligible=2,
        periods_published=3,
    )
    return ReportData(
        period=period,
        structure=structure,
        generated_at=datetime(2025, 6, 22, 9, 5, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        indicators=load_catalogue(get_settings(), period),
        figures=figures,
        trend_periods=["2024S2", period_id],
        trend={"PS_FULL_ONLINE": [Decimal("78.5"), Decimal("85.0")]},
        based_on=publish,
        current=publish,
        awards=[award],
        award_thresholds=[
            ("PM_CERTIFICATE", "commune", Decimal(60)),
            ("CHAIRMAN_CERTIFICATE", "commune", Decimal(50)),
        ],
        quality=QualityRun(
            quality_run_id=41,
            suite="mart_semiannual_indicator",
            table_name=f"marts_build.mart_semiannual_indicator ({period_id})",
            success=True,
            evaluated=12,
            failed_errors=0,
            failed_warnings=1,
            started_at=LOADED,
            failures=(
                QualityFailure("outlier change", "expect_column_values_to_be_between", "warning", 1, (EVIL,)),
            ),
        ),
        compliance=[
            Compliance(
                "024",
                "Thành phố Hà Giang",
                "district",
                submitted=True,
                indicators_applicable=3,
                indicators_reported=1,
                completeness=Decimal("33.33"),
                deadline=date(2025, 6, 19),
                deadline_assumption="Giả định: hạn gửi là 5 ngày sau ngày chốt số liệu",
                submitted_at=LOADED,
                on_time=False,
                status="late",
            ),
            Compliance(
                "026",
                f"Huyện {EVIL}",
                "district",
                submitted=False,
                indicators_applicable=3,
                indicators_reported=0,
                completeness=Decimal(0),
                deadline=date(2025, 6, 19),
                deadline_assumption="Giả định: hạn gửi là 5 ngày sau ngày chốt số liệu",
                submitted_at=None,
                on_time=None,
                status="missing",
            ),
        ],
    )


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}".*?</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(0)


def test_page_is_vietnamese_self_contained_and_escaped():
    page = html.render(sample())
    assert page.startswith('<!DOCTYPE html>\n<html lang="vi">')
    assert '<meta charset="utf-8">' in page
    assert "<script" not in page  # neither ours nor the unit's
    # A unit named with markup is text wherever it appears: the level table and the compliance
    # annex (the template, autoescaped), the quality failure examples, the charts (SVG).
    assert f"<td>Huyện {escape(EVIL)}" in page
    assert f"<td>{escape(EVIL)}</td>" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in section(page, "bieu-do")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@media print" in page
    for heading in (
        "Báo cáo kết quả chuyển đổi số 6 tháng đầu năm 2025",
        "1. Tóm tắt kết quả toàn tỉnh",
        "2. Biểu đồ",
        "3. Kết quả theo cấp",
        "4. Theo dõi khen thưởng: đơn vị đang đạt ngưỡng",
        "Phụ lục A. Chất lượng dữ liệu",
        "Phụ lục B. Tình hình thực hiện chế độ báo cáo",
    ):
        assert heading in page
    assert "15/12/2024 – 14/06/2025" in page
    assert "22/06/2025 09:05" in page  # generation time in Vietnamese local time
    assert "Lần công bố số 7" in page
    assert "cf84839042e3c71a945b62b4a531be18" in page


def test_summary_shows_the_province_against_targets():
    summary = section(html.render(sample()), "tom-tat")
    row = re.search(r'<tr data-indicator="PS_FULL_ONLINE">.*?</tr>', summary).group(0)
    assert "85,00 %" in row
    assert "1.700 / 2.000" in row
    assert "≥ 100 %" in row
    assert "Chưa đạt" in row
    assert "+6,50" in row
    district = re.search(r'<tr data-indicator="DIST_WORK_DOSSIERS_SIGNED">.*?</tr>', summary).group(0)
    assert "82,27 %" in district
    assert "Cấp huyện: 1/2" in district
    unmeasured = re.search(r'<tr data-indicator="DIST_HOUSEHOLD_BROADBAND">.*?</tr>', summary).group(0)
    assert "Chưa có số liệu (đơn vị chưa báo cáo)" in unmeasured  # a self-reported indicator
    assert "&gt; 80 %" in unmeasured
    unconnected = re.search(r'<tr data-indicator="DEPT_REPORTS_CONNECTED">.*?</tr>', summary).group(0)
    assert "Chưa có số liệu (nguồn dữ liệu chưa được kết nối)" in unconnected  # a system's indicator


def test_the_services_online_target_is_judged_on_the_departments():
    summary = section(html.render(sample()), "tom-tat")
    row = re.search(r'<tr data-indicator="PS_FULL_ONLINE">.*?</tr>', summary).group(0)
    assert "Sở, ngành, đoàn thể tỉnh: 0/1" in row  # Sở Nội vụ 90/100 < 100 %
    assert "Cấp huyện" not in row
    districts = section(html.render(sample()), "cap-district")
    assert "theo dõi, không có mục tiêu" in districts
    # The report says what the services ratio divides by and which part of the target is not measured.
    page = html.render(sample())
    assert "tính trên số dịch vụ công đủ điều kiện" in page
    assert "bao gồm cả thiết bị di động” chưa được đo" in page


def test_qualitative_criteria_are_shown_as_achieved_or_not():
    page = html.render(sample())
    row = re.search(r'<tr data-indicator="DIST_MOBILE_UNIVERSAL">.*?</tr>', section(page, "tom-tat")).group(0)
    # 024 achieved, 026 did not: 1 of the 2 districts, so the province has not met it.
    assert "1/2 đơn vị đạt" in row
    assert "Chưa đạt" in row
    assert "Đạt (mọi đơn vị)" in row
    assert "%" not in row.replace("Mục tiêu", "")
    districts = section(page, "cap-district")
    assert re.search(r'data-unit="024".*?✓ Đạt', districts, re.S)
    assert "≥ 1 %" not in page  # the old chart line of "achieved" stored as 100 against 1


def test_levels_list_units_below_target():
    levels = section(html.render(sample()), "cap-district")
    assert "Huyện &lt;script&gt;" in levels
    assert "Đơn vị chưa đạt mục tiêu: Hồ sơ công việc cấp huyện xử lý và ký số (≥ 90 %) – 1/2 huyện" in levels
    assert "56,80 %" in levels


def test_charts_of_a_half_year_before_2025():
    page = html.render(sample("2025S1"))
    charts = section(page, "bieu-do")
    # One district ratio with a district target (services online is monitoring there, 4G/5G is
    # yes/no: neither gets a bar chart), the trend, two commune histograms.
    assert charts.count("<svg") == 1 + 1 + 2
    assert "Phổ cập 4G/5G" not in charts
    assert charts.count("<title") >= 5
    assert "Mục tiêu ≥ 70 %" in charts
    assert "Bằng khen Thủ tướng ≥ 60 %" in charts


def test_a_district_bar_shows_the_marts_verdict_not_one_from_its_rounded_value():
    # 89.996 % is shown as 90,00 % but misses ">= 90" on the exact ratio: the mart's target_met
    # (macro meets_target) colours the bar and titles it, the page and the workbook agree.
    data = sample("2025S1")
    data.figures = [
        replace(f, value=Decimal("90.00"), target_met=False)
        if (f.unit_code, f.indicator_code) == ("024", "DIST_WORK_DOSSIERS_SIGNED")
        else f
        for f in data.figures
    ]
    charts = section(html.render(data), "bieu-do")
    assert "Thành phố Hà Giang: 90,0 % (chưa đạt mục tiêu)" in charts
    assert "(đạt mục tiêu)" not in charts


def test_after_the_2025_reorganisation_the_district_chart_is_explained_instead():
    data = sample("2025S2")
    assert data.structure == FROM_2025
    page = html.render(data)
    charts = section(page, "bieu-do")
    assert charts.count("<svg") == 1 + 2
    assert "Không có biểu đồ theo huyện: từ 01/7/2025 cấp huyện không còn tồn tại" in charts
    assert "Tỉnh Tuyên Quang" in page
    assert "6 tháng cuối năm 2025" in page
    assert "cap-district" not in page


def test_workbook_has_the_same_content_with_native_charts():
    book = workbook.build(sample())
    assert book.sheetnames == [
        "Tóm tắt",
        "Theo cấp",
        "Biểu đồ",
        "Khen thưởng",
        "Chất lượng dữ liệu",
        "Tuân thủ báo cáo",
        "Chỉ đạo điểm",
    ]
    charts = book["Biểu đồ"]._charts
    assert [type(c) for c in charts] == [BarChart, LineChart, BarChart, BarChart]
    levels = book["Theo cấp"]
    assert levels.freeze_panes == "A2"
    header = [c.value for c in levels[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in levels.iter_rows(min_row=2)]
    evil = next(
        r for r in rows if r["Mã đơn vị"] == "026" and r["Mã chỉ tiêu"] == "DIST_WORK_DOSSIERS_SIGNED"
    )
    assert evil["Đơn vị"] == f"Huyện {EVIL}"  # a cell holds text, nothing to escape
    assert evil["Giá trị"] == pytest.approx(0.568)
    assert evil["Đạt mục tiêu"] == "Chưa đạt"
    value_cell = levels.cell(row=2, column=header.index("Giá trị") + 1)
    assert value_cell.number_format == "0.00%"
    awards = book["Khen thưởng"]
    assert awards["F2"].value == "Phường Quang Trung"
    assert awards["B2"].value.startswith("Theo dõi 6 tháng")  # a half-year's list is monitoring
    assert awards["N2"].value == "2/3"
    quality = book["Chất lượng dữ liệu"]
    assert any(EVIL in str(cell.value) for row in quality.iter_rows() for cell in row)


def test_workbook_after_2025_has_no_district_chart():
    book = workbook.build(sample("2025S2"))
    assert [type(c) for c in book["Biểu đồ"]._charts] == [LineChart, BarChart, BarChart]
    assert "không còn cấp huyện" in book["Biểu đồ"]["A1"].value


def test_the_annual_report_shows_the_summary_award_with_its_basis():
    data = sample("2025")
    assert data.is_annual
    assert data.structure == FROM_2025  # a year is reported in the structure of its end
    summary = replace(
        data.awards[0],
        grain="plan_period",
        basis="last_halfyear",
        evaluated=("2025S1", "2025S1"),
        board_condition="Người dân được tuyên truyền, tích cực ứng dụng công nghệ số",
        structure=BEFORE_2025,
    )
    data.awards = [
        summary,
        replace(data.awards[0], grain="year", basis="year_ratio", evaluated=("2025", "2025")),
    ]
    page = html.render(data)
    assert "Báo cáo kết quả chuyển đổi số năm 2025" in page
    awards = page[page.index('id="khen-thuong"') : page.index('id="phu-luc-a"')]  # nested sections
    assert "Khen thưởng tổng kết giai đoạn 2021 - 2025 (mục IV.3)" in awards
    assert "tỷ lệ của kỳ 6 tháng cuối cùng trong giai đoạn" in awards  # the basis, stated
    assert "đơn vị trước sắp xếp" in awards  # a commune of before 1 July 2025 in the summary award
    assert "Theo năm (tham khảo cho khen thưởng hằng năm" in awards
    assert "Người dân được tuyên truyền, tích cực ứng dụng công nghệ số" in awards  # for the Board
    assert "Theo dõi 6 tháng" not in awards
    # No annual submission reaches the warehouse: the annex says so instead of "nobody had to report".
    annex = section(page, "phu-luc-b")
    assert "chưa tiếp nhận báo cáo năm riêng" in annex
    assert "không có đơn vị nào phải báo cáo" not in annex


def test_the_compliance_annex_counts_late_and_missing_and_states_the_assumed_deadline():
    annex = section(html.render(sample()), "phu-luc-b")
    # Two districts with the duty: 024 submitted late, 026 submitted nothing.
    row = re.search(r"<tr><td>[^<]*</td>((?:<td[^>]*>[^<]*</td>)+)</tr>", annex).group(1)
    assert re.findall(r">([^<]*)</td>", row)[:5] == ["2", "1", "0", "1", "1"]
    assert "Giả định: hạn gửi là 5 ngày sau ngày chốt số liệu." in annex
    assert "cấp xã không có nhiệm vụ này" in annex


def test_quality_annex_counts_observations_refused_for_units_outside_the_half_year():
    annex = section(html.render(sample()), "phu-luc-a")
    assert "Không có số liệu nào bị loại vì đơn vị không tồn tại trong kỳ." in annex
    data = sample("2026S1")
    data.refused = [("document_management", "after_unit_end", 1234)]
    annex = section(html.render(data), "phu-luc-a")
    row = re.search(
        r"<caption>Số liệu không được tính vì đơn vị không tồn tại.*?</table>", annex, re.S
    ).group(0)
    assert "đơn vị đã chấm dứt hoạt động trước kỳ và không có đơn vị kế thừa cùng cấp" in row
    assert "Hệ thống quản lý văn bản và điều hành" in row
    assert "1.234" in row


DEMO = "DEMO: danh sách minh họa"


def pilots() -> list[Pilot]:
    """The board's district 024, one commune 024 picked, a department's subordinate unit (named)."""
    return [
        Pilot("province", "02", "Tỉnh Hà Giang", "024", BEFORE_2025, "district", "Thành phố Hà Giang",
              date(2022, 3, 25), DEMO),
        Pilot("district", "024", "Thành phố Hà Giang", "00688", BEFORE_2025, "commune", "Phường Quang Trung",
              date(2022, 3, 30), DEMO),
        Pilot("department", "02.SNV", "Sở Nội vụ", None, None, "subordinate", EVIL, date(2022, 3, 28), DEMO),
    ]  # fmt: skip


def unit_row(html_section: str, key: str) -> str:
    match = re.search(rf'<tr data-unit="{re.escape(key)}">(.*?)</tr>', html_section, re.S)
    assert match, f"no row {key}"
    return match.group(1)


def test_pilot_annex_lists_the_registry_with_the_period_figures():
    page = html.render(replace(sample(), pilots=pilots()))
    annex = section(page, "phu-luc-d")
    assert "Phụ lục D. Đơn vị chỉ đạo điểm (mục III.4)" in annex
    assert DEMO in annex  # the demo list says so where the board reads it
    # District 024: of the plan's 7 district targets (IV.1.b, by hand: dossiers signed, households
    # and communes on broadband, e-commerce, digital businesses, 4G/5G, e-payment), the sample
    # measures two and both are met: 950/1000 = 95.00 % >= 90 %, and 4G/5G achieved.
    district = unit_row(annex, "024")
    assert '<td class="num">2 / 2 / 7</td>' in district
    assert "Hồ sơ công việc cấp huyện xử lý và ký số: 95,00 %" in district
    # Commune 00688: the one commune target (IV.1.c, 70 % online), 80/100 = 80.00 %, met.
    commune = unit_row(annex, "00688")
    assert '<td class="num">1 / 1 / 1</td>' in commune
    assert "Hồ sơ công việc cấp xã xử lý trên mạng: 80,00 %" in commune
    # A subordinate unit has no code and no figures of its own; its name is escaped.
    subordinate = unit_row(annex, f"02.SNV/{escape(EVIL)}")
    assert EVIL not in subordinate
    assert escape(EVIL) in subordinate
    assert "Không có mã đơn vị, không có số liệu riêng" in subordinate
    assert re.findall(r"<h3>D\.\d\. (.*?):", annex) == [
        "Cấp tỉnh (Hội đồng Thi đua, khen thưởng tỉnh chọn)",
        "Cấp huyện, thành phố (xã chỉ đạo điểm)",
        "Cấp sở, ngành, đoàn thể tỉnh (đơn vị thuộc và trực thuộc)",
    ]


def test_pilots_are_marked_in_the_level_tables_and_award_lists():
    page = html.render(replace(sample(), pilots=pilots()))
    mark = '<span class="pilot"'
    assert mark in unit_row(section(page, "cap-district"), "024")
    assert mark not in unit_row(section(page, "cap-district"), "026")
    assert mark in unit_row(section(page, "cap-commune"), "00688")
    assert mark not in unit_row(section(page, "cap-commune"), "00712")
    assert mark in unit_row(section(page, "khen-thuong"), "00688")
    # After the 2025 reorganisation code 00688 names a new commune (Phường Hà Giang 1): not the pilot.
    after = html.render(replace(sample("2025S2"), pilots=pilots()))
    assert mark not in unit_row(section(after, "cap-commune"), "00688")
    annex = section(after, "phu-luc-d")
    assert "Đơn vị trước sắp xếp năm 2025: không có số liệu trong kỳ này" in unit_row(annex, "00688")


def test_year_report_shows_the_pilots_summary_award_figure():
    # The plan's last year: the pilots are judged at the summary. District 024's figure for the
    # Prime Minister's certificate, its last half-year 2025S1, 85.00 % against 80 %: eligible.
    award = PilotAward(
        "PM_CERTIFICATE", "Bằng khen của Thủ tướng Chính phủ", Decimal("85.00"), ">=", Decimal(80), True,
        ("2025S1", "2025S1"),
    )  # fmt: skip
    data = replace(sample("2025"), pilots=pilots(), pilot_awards={"024": [award]})
    annex = section(html.render(data), "phu-luc-d")
    assert "Khen thưởng tổng kết 2021 - 2025 (mục IV.3)" in annex
    district = unit_row(annex, "024")
    assert "Bằng khen của Thủ tướng Chính phủ: 85,00 % (ngưỡng ≥ 80 %, 2025S1)" in district
    assert 'title="Đạt mục tiêu"' in district
    # The year 2025 is reported in the 2025 structure: the old units have no figures of their own.
    assert "Đơn vị trước sắp xếp năm 2025: không có số liệu trong kỳ này" in district


def test_pilot_annex_without_a_registry_says_so():
    annex = section(html.render(sample()), "phu-luc-d")
    assert "chưa có danh sách đăng ký chỉ đạo điểm" in annex


def test_workbook_lists_the_pilots_and_flags_them_per_figure():
    book = workbook.build(replace(sample(), pilots=pilots()))
    sheet = book["Chỉ đạo điểm"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]
    # 024: its two measured district targets; 00688: its commune target; the subordinate unit: one
    # row without figures.
    assert [(r["Mã đơn vị"], r["Mã chỉ tiêu"]) for r in rows] == [
        ("024", "DIST_WORK_DOSSIERS_SIGNED"),
        ("024", "DIST_MOBILE_UNIVERSAL"),
        ("00688", "COMM_WORK_DOSSIERS_ONLINE"),
        (None, None),
    ]
    assert rows[0]["Giá trị"] == pytest.approx(0.95)
    assert rows[3]["Đơn vị chỉ đạo điểm"] == EVIL
    levels = book["Theo cấp"]
    header = [c.value for c in levels[1]]
    flagged = {
        (row[header.index("Mã đơn vị")], row[header.index("Chỉ đạo điểm (mục III.4)")])
        for row in levels.iter_rows(min_row=2, values_only=True)
        if row[header.index("Chỉ đạo điểm (mục III.4)")]
    }
    assert flagged == {
        ("024", "Cấp tỉnh (Hội đồng Thi đua, khen thưởng tỉnh chọn)"),
        ("00688", "Cấp huyện, thành phố (xã chỉ đạo điểm)"),
    }
