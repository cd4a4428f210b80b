"""The semi-annual report from real published marts, opened in openpyxl and rendered by Chromium."""

import csv
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, LineChart

from dxw.cli import INGEST_DAGS
from dxw.orchestration import dagrun
from dxw.serving.reports import ReportNotPublished, vn_number, vn_percent, write_report
from dxw.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
HALF_YEARS = ["2024S2", "2025S1"]


@pytest.fixture(scope="module")
def published(simulator):
    """A warehouse where 2024S2 and then 2025S1 went through ingestion, transformation and publishing."""
    from tests.conftest import reset_warehouse

    reset_warehouse()
    for dag_id in INGEST_DAGS:  # every source the pipeline ingests, served by the bundled simulator
        dagrun.run(dag_id, {"periods": HALF_YEARS, "source_url": simulator.url})
    dagrun.run("transform_warehouse")
    for period in HALF_YEARS:
        dagrun.run("semiannual_marts", {"period": period})


@pytest.fixture(scope="module")
def report(published, tmp_path_factory):
    return write_report("2025S1", tmp_path_factory.mktemp("report"))


class Rows(HTMLParser):
    """Cell texts of every ``<tr data-unit|data-indicator>``, keyed by (section id, key)."""

    def __init__(self):
        super().__init__()
        self.rows: dict[tuple[str, str], list[str]] = {}
        self.sections: list[str] = []
        self.row: list[str] | None = None
        self.key: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id", ""))
        elif tag == "tr" and ("data-unit" in attrs or "data-indicator" in attrs):
            self.key = (self.sections[-1], attrs.get("data-unit") or attrs["data-indicator"])
            self.row = []
        elif tag == "td" and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self.sections.pop()
        elif tag == "tr" and self.row is not None:
            self.rows[self.key] = self.row
            self.row = None

    def handle_data(self, data):
        if self.row:
            self.row[-1] += data


def table_rows(page: str) -> dict[tuple[str, str], list[str]]:
    parser = Rows()
    parser.feed(page)
    return parser.rows


DEMO_NOTE = (
    "DEMO: danh sách minh họa, không phải danh sách đăng ký thực tế năm 2022; Hội đồng Thi đua, khen "
    "thưởng tỉnh thay bằng danh sách đã tiếp nhận (mục III.4 Kế hoạch 86)"
)


def pilot_registry() -> list[dict[str, str]]:
    """The shipped pilot registry (seed pilot_units), read from the file itself."""
    path = get_settings().dbt_project_dir / "seeds" / "pilot_units.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM.exists(), "Chromium is missing at /usr/bin/chromium: `make chromium` installs it"
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def png_pixels(path: Path) -> tuple[int, int, list[bytes], int]:
    """Width, height, unfiltered scanlines and channels of an 8-bit RGB(A) PNG (no imaging library)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    lines, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        lines.append(bytes(line))
        previous = line
    return width, height, lines, channels


def test_report_files_are_written(report):
    assert report.html.name == "bao-cao-2025S1.html"
    assert report.html.stat().st_size > 20_000
    assert report.xlsx.name == "bao-cao-2025S1.xlsx"
    assert report.xlsx.stat().st_size > 10_000


def test_the_report_says_which_window_the_portal_figures_cover(report):
    """The portal answers per calendar month: its 2025S1 figures cover 1 January - 30 June 2025,
    not the Decree 09 window 15 December 2024 - 14 June 2025. Shared days, by hand: January 1 to
    June 14 = 31 + 28 + 31 + 30 + 31 + 14 = 165 of the window's 17 + 31 + 28 + 31 + 30 + 31 + 14
    = 182 days."""
    note = (
        "Số liệu DVC trực tuyến toàn trình, Hồ sơ TTHC giải quyết đúng hạn lấy từ Cổng Dịch vụ công, "
        "tổng hợp theo tháng dương lịch 01/01/2025 – 30/06/2025: Cổng chỉ cung cấp số liệu theo tháng, "
        "quý, năm, không theo thời gian chốt số liệu 15/12/2024 – 14/06/2025 của Nghị định số "
        "09/2019/NĐ-CP (trùng 165 trên 182 ngày)."
    )
    page = report.html.read_text(encoding="utf-8")
    assert note in page
    assert "trừ số liệu Cổng Dịch vụ công (theo tháng dương lịch" in page
    summary = openpyxl.load_workbook(report.xlsx)["Tóm tắt"]
    cells = {row[0].value: row[1].value for row in summary.iter_rows(max_col=2) if row[0].value}
    assert note in cells["Thời gian của số liệu"]


def test_a_half_year_never_published_is_refused_by_name(published, tmp_path):
    with pytest.raises(ReportNotPublished, match="2025S2"):
        write_report("2025S2", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_html_holds_the_published_figures(report, conn):
    page = report.html.read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="vi">')
    for heading in (
        "Báo cáo kết quả chuyển đổi số 6 tháng đầu năm 2025",
        "Tóm tắt kết quả toàn tỉnh",
        "Kết quả theo cấp",
        "Theo dõi khen thưởng: đơn vị đang đạt ngưỡng",
        "Phụ lục A. Chất lượng dữ liệu",
        "Phụ lục B. Tình hình thực hiện chế độ báo cáo",
        "15/12/2024 – 14/06/2025",
    ):
        assert heading in page
    rows = table_rows(page)

    # The province row of the summary is the province's row of the mart.
    value, num, den, change = conn.execute(
        "select value, numerator, denominator, change_since_previous from marts.mart_semiannual_indicator "
        "where period_id = '2025S1' and unit_structure = 'before_2025' and unit_code = '02' "
        "and indicator_code = 'PS_FULL_ONLINE'"
    ).fetchone()
    province = rows[("tom-tat", "PS_FULL_ONLINE")]
    assert province[2] == vn_percent(value, 2)
    assert province[3] == f"{vn_number(num)} / {vn_number(den)}"
    assert change is not None
    assert province[6] == f"{change:+.2f}".replace(".", ",")

    # A district's figures are the mart's.
    for indicator in ("DIST_WORK_DOSSIERS_SIGNED", "PS_FULL_ONLINE"):
        value, met = conn.execute(
            "select value, target_met from marts.mart_semiannual_indicator where period_id = '2025S1' "
            "and unit_structure = 'before_2025' and unit_code = '034' and indicator_code = %s",
            (indicator,),
        ).fetchone()
        cells = rows[("cap-district", "034")]
        assert cells[1] == "Huyện Bắc Quang"
        # Services online is monitoring at district level (IV.1.a targets the provincial bodies):
        # no mark; the district dossier target is marked met or not.
        mark = "" if met is None else "✓" if met else "✗"
        assert any(cell.startswith(vn_percent(value, 2)) and cell.endswith(mark) for cell in cells)
        assert (met is None) is (indicator == "PS_FULL_ONLINE")

    # Every Prime Minister's certificate candidate district is listed with its rank and figures.
    candidates = conn.execute(
        """
        select unit_code, unit_name, candidate_rank, value,
               (select count(*) from marts.mart_award_eligibility as h
                where h.unit_code = a.unit_code and h.award_code = a.award_code and h.eligible
                  and h.grain = 'halfyear' and h.unit_structure = a.unit_structure
                  and h.period_id in ('2024S2', '2025S1'))
        from marts.mart_award_eligibility as a
        where period_id = '2025S1' and unit_structure = 'before_2025' and eligible and grain = 'halfyear'
          and award_code = 'PM_CERTIFICATE' and unit_level = 'district'
        """
    ).fetchall()
    assert candidates
    # A half-year's list is monitoring: the units on track, not the award list.
    heading = (
        f"Bằng khen của Thủ tướng Chính phủ – Cấp huyện (ngưỡng ≥ 80 %): {len(candidates)} đơn vị đang đạt"
    )
    assert heading in page
    pilots = {r["unit_code"] for r in pilot_registry() if r["unit_code"]}
    for code, name, rank, value, eligible_periods in candidates:
        cells = rows[("award-halfyear-PM_CERTIFICATE-district-before_2025", code)]
        # A pilot unit of Plan 86 III.4 carries the marker beside its name.
        assert cells[:2] == [str(rank), f"{name} ★" if code in pilots else name]
        assert cells[4] == vn_percent(value, 2)
        assert cells[7] == "2025S1"  # the period evaluated
        assert cells[8] == f"{eligible_periods}/2"  # half-years eligible, of the two published

    # The annex names the gate run the publish relied on.
    gate = conn.execute(
        "select gate_run_id from marts_audit.publish_log where period_id = '2025S1' order by publish_id desc"
    ).fetchone()[0]
    assert f"số {gate}, bộ kiểm tra mart_semiannual_indicator" in page
    assert "Các kỳ đã công bố: 2024S2, 2025S1." in page


def test_pilot_units_are_flagged_in_the_marts_and_listed_in_the_report(report, conn):
    registry = pilot_registry()
    # The units.csv seed: a pilot whose unit ended before 2025S1's cut-off (14 June 2025) has no
    # row of its own then (Sở TT&TT, the board's department, merged into Sở KH&CN on 1 March 2025).
    with (get_settings().dbt_project_dir / "seeds" / "units.csv").open(encoding="utf-8") as handle:
        ended = {
            (row["code"], row["valid_from"])
            for row in csv.DictReader(handle)
            if row["valid_to"] and row["valid_to"] < "2025-06-14"
        }
    assert ("02.STTTT", "2004-01-01") in ended
    coded = {
        (r["unit_code"], r["pilot_level"])
        for r in registry
        if r["unit_code"] and (r["unit_code"], r["unit_valid_from"]) not in ended
    }
    # Every coded pilot that stands at the cut-off (the board's district, the districts'
    # communes) has figures in 2025S1 and so a scorecard row, flagged with its level; nothing else
    # is flagged, and no unit of the 2025 structure is.
    flagged = conn.execute(
        "select unit_code, pilot_level, unit_structure from marts.mart_unit_scorecard "
        "where period_id = '2025S1' and pilot_level is not null"
    ).fetchall()
    assert {(code, level) for code, level, _ in flagged} == coded
    assert {structure for _, _, structure in flagged} == {"before_2025"}
    # The award rules are for districts and communes: the board's district 024 and the communes.
    awarded = conn.execute(
        "select distinct unit_code, pilot_level, unit_structure from marts.mart_award_eligibility "
        "where pilot_level is not null"
    ).fetchall()
    assert {(code, level) for code, level, _ in awarded} == {
        (code, level) for code, level in coded if level == "district" or code == "024"
    }
    assert {structure for _, _, structure in awarded} == {"before_2025"}

    page = report.html.read_text(encoding="utf-8")
    assert "Phụ lục D. Đơn vị chỉ đạo điểm (mục III.4)" in page
    # The shipped registry is a demo list, and the annex says so in the registry's own words.
    assert {r["source_note"] for r in registry} == {DEMO_NOTE}
    assert f"Nguồn danh sách: {DEMO_NOTE}</p>" in page
    rows = table_rows(page)
    # The board's district 024, with its dossier figure of the half-year from the mart.
    value = conn.execute(
        "select value from marts.mart_semiannual_indicator where period_id = '2025S1' and unit_code = '024' "
        "and unit_structure = 'before_2025' and indicator_code = 'DIST_WORK_DOSSIERS_SIGNED'"
    ).fetchone()[0]
    district = rows[("phu-luc-d", "024")]
    assert district[:3] == ["Tỉnh Hà Giang", "Thành phố Hà Giang", "024"]
    assert f"Hồ sơ công việc cấp huyện xử lý và ký số: {vn_percent(value, 2)}" in district[5]
    assert rows[("cap-district", "024")][1] == "Thành phố Hà Giang ★"
    # A district that registered three communes: all three are listed under it.
    per_district: dict[str, list[str]] = {}
    for r in registry:
        if r["pilot_level"] == "district":
            per_district.setdefault(r["registered_by_code"], []).append(r["unit_code"])
    three = next(code for code, communes in per_district.items() if len(communes) == 3)
    name = conn.execute(
        "select unit_name from core.dim_unit where unit_code = %s and unit_structure = 'before_2025'",
        (three,),
    ).fetchone()[0]
    for commune in per_district[three]:
        cells = rows[("phu-luc-d", commune)]
        assert cells[0] == name
        assert cells[2] == commune
        assert cells[5].startswith("Hồ sơ công việc cấp xã xử lý trên mạng: ")
    # Each provincial body's subordinate unit is listed by name, without a code.
    subordinates = [r for r in registry if r["pilot_level"] == "department"]
    for r in subordinates:
        assert rows[("phu-luc-d", f"{r['registered_by_code']}/{r['subordinate_unit_name']}")][2] == "-"


def test_each_published_half_year_passed_its_own_gate_and_compares_with_gated_figures(published, conn):
    # semiannual_marts ran for 2024S2, then 2025S1: each publish names a passed gate of its half-year.
    # The run of 2024S2, a second half-year, also gated and published its year, 2024.
    gates = conn.execute(
        "select l.period_id, r.period_id, r.success from marts_audit.publish_log as l "
        "join marts_audit.quality_run as r on r.quality_run_id = l.gate_run_id"
    ).fetchall()
    assert sorted(gates) == [("2024", "2024", True), ("2024S2", "2024S2", True), ("2025S1", "2025S1", True)]
    for table in ("mart_semiannual_indicator", "mart_unit_scorecard"):
        periods = conn.execute(f"select distinct period_id from marts.{table} order by 1").fetchall()
        assert periods == [(p,) for p in HALF_YEARS], table
    periods = conn.execute(
        "select distinct period_id from marts.mart_award_eligibility order by 1"
    ).fetchall()
    assert periods == [("2024",), *((p,) for p in HALF_YEARS)]  # the year's view of the awards
    # 2025S1's change is its value minus 2024S2's published value, row by row; 2024S1 was never
    # published, so 2024S2 has no change at all.
    rows, wrong, changes = conn.execute(
        """
        select count(*), count(*) filter (where m.change_since_previous is distinct from m.value - p.value),
               count(m.change_since_previous)
        from marts.mart_semiannual_indicator as m
        left join marts.mart_semiannual_indicator as p
            on (p.unit_structure, p.unit_code, p.indicator_code, p.period_id)
            = (m.unit_structure, m.unit_code, m.indicator_code, '2024S2')
        where m.period_id = '2025S1'
        """
    ).fetchone()
    assert rows > 1000
    assert changes > 1000
    assert wrong == 0
    assert conn.execute(
        "select count(change_since_previous) from marts.mart_semiannual_indicator where period_id = '2024S2'"
    ).fetchone() == (0,)


def test_workbook_has_the_sheets_figures_and_charts(report, conn):
    book = openpyxl.load_workbook(report.xlsx)
    assert book.sheetnames == [
        "Tóm tắt",
        "Theo cấp",
        "Biểu đồ",
        "Khen thưởng",
        "Chất lượng dữ liệu",
        "Tuân thủ báo cáo",
        "Chỉ đạo điểm",
    ]
    # Two district charts (work dossiers signed, and households covered, which the reporting
    # system holds for the pilot district 024; services online has no district target), the
    # trend, two commune charts.
    charts = [BarChart, BarChart, LineChart, BarChart, BarChart]
    assert [type(c) for c in book["Biểu đồ"]._charts] == charts
    levels = book["Theo cấp"]
    assert levels.freeze_panes == "A2"
    header = [c.value for c in levels[1]]
    rows = [
        dict(zip(header, values, strict=True)) for values in levels.iter_rows(min_row=2, values_only=True)
    ]
    mart = conn.execute(
        "select unit_code, indicator_code, value, numerator from marts.mart_semiannual_indicator "
        "where period_id = '2025S1' and unit_structure = 'before_2025'"
    ).fetchall()
    assert len(rows) == len(mart)
    sheet = {(r["Mã đơn vị"], r["Mã chỉ tiêu"]): r for r in rows}
    for code, indicator, value, numerator in mart:
        row = sheet[(code, indicator)]
        if value is None:  # not measured (a body with no catalogue of eligible services)
            assert (row["Giá trị"], row["Tử số"]) == (None, None)
            continue
        assert row["Giá trị"] == pytest.approx(float(value) / 100)
        assert row["Tử số"] == pytest.approx(float(numerator))
    eligible = conn.execute(
        "select count(*) from marts.mart_award_eligibility "
        "where period_id = '2025S1' and unit_structure = 'before_2025' and eligible"
    ).fetchone()[0]
    assert book["Khen thưởng"].max_row == 1 + eligible
    compliance = conn.execute(
        "select count(*) from marts.mart_reporting_compliance where period_id = '2025S1'"
    ).fetchone()[0]
    assert book["Tuân thủ báo cáo"].max_row == 1 + compliance


def test_chromium_renders_the_charts(report, tmp_path, conn):
    dom = chromium("--dump-dom", report.html.as_uri(), profile=tmp_path / "profile").stdout
    svgs = re.findall(r'<svg[^>]*class="chart".*?</svg>', dom, re.S)
    assert len(svgs) == 5  # two district indicators, the trend, two commune histograms
    district, _, trend, *communes = svgs
    assert district.count('class="bar"') == 11
    assert 'class="target"' in district
    paths = re.findall(r'<path class="series" d="([^"]+)"', trend)
    # One line per indicator the province has a value for; a line across both half-years where it
    # has both (households covered reach the province only from 2025, through the pilot district).
    both, either = conn.execute(
        "select count(*) filter (where halves = 2), count(*) from (select indicator_code, count(*) as halves "
        "from marts.mart_semiannual_indicator where unit_code = '02' and unit_structure = 'before_2025' "
        "and period_id = any(%s) and value is not null group by indicator_code) as measured",
        (HALF_YEARS,),
    ).fetchone()
    assert len(paths) == either
    assert sum(1 for d in paths if re.fullmatch(r"M[\d. ]+L[\d. ]+", d)) == both >= 6
    for histogram in communes:
        assert 'class="bar"' in histogram
        assert 'class="marker"' in histogram

    screenshot = tmp_path / "report.png"
    chromium(
        f"--screenshot={screenshot}", "--window-size=1280,2400", report.html.as_uri(), profile=tmp_path / "p2"
    )
    assert screenshot.stat().st_size > 50_000  # a blank page of this size compresses to ~15 KB
    width, height, lines, channels = png_pixels(screenshot)
    assert (width, height) == (1280, 2400)
    colours, inked = set(), 0
    for line in lines[::8]:
        pixels = [line[i : i + 3] for i in range(0, len(line), channels * 4)]
        colours.update(pixels)
        inked += sum(1 for p in pixels if p != b"\xff\xff\xff")
    assert len(colours) > 50  # text, tables and the coloured bars, not a blank or single-colour page
    assert inked / (len(lines[::8]) * width / 4) > 0.03
