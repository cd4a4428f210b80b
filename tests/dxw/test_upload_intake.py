"""Unit uploads through the CLI into the warehouse (issue 14, points 5-7), with the real database and dbt.

The files are CSVs written here by hand the way a district's clerk saves them: Vietnamese headers,
numbers the Vietnamese way, "no data" answers typed in the figure cells, the form's title block
deleted. Expected values are worked by hand in the comments.
"""

import csv
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from dxw.cli import main
from dxw.intake.ingest import ensure_raw_tables
from dxw.settings import get_settings
from dxw.transform import dbt
from tests.conftest import WITHOUT_UNIT_TESTS

pytestmark = pytest.mark.integration

HEADER = "Mã đơn vị,Tên đơn vị,Mã chỉ tiêu,Kỳ báo cáo,Tử số,Mẫu số,Giá trị (%),Ghi chú\n"


def uploaded(conn):
    return conn.execute(
        "select b.scope, b.period_id, u.unit_code, u.indicator_code, u.numerator, u.denominator, u.value, "
        "u.no_data, length(u.comment) from raw.unit_upload_observations u "
        "join raw.load_batch b using (batch_id) where b.status = 'loaded' order by u.indicator_code"
    ).fetchall()


def test_a_form_without_its_header_lines_takes_unit_and_period_from_its_rows(
    tmp_path, conn, empty_warehouse, capsys
):
    # No "Kỳ báo cáo: ..." and no "Đơn vị: ..." line: every row says 024 and 2025S1 (one as the
    # number 24 Excel left when it dropped the leading zero). A note of exactly 32 767 characters
    # (Excel's cell limit) lands whole.
    note = "Số liệu đã rà soát. " * 1638 + "abcdefg"
    assert len(note) == 32767
    path = tmp_path / "bao-cao-024.csv"
    path.write_text(
        HEADER
        + "024,Thành phố Hà Giang,DIST_HOUSEHOLD_BROADBAND,2025S1,1.234,1.500,,\n"
        + f"24,Thành phố Hà Giang,DIST_DIGITAL_BUSINESSES,2025S1,85,100,,{note}\n",
        encoding="utf-8-sig",
    )
    assert main(["ingest", "upload", str(path), "--report-dir", str(tmp_path / "out")]) == 0
    assert "bao-cao-024.csv: accepted (unit 024, 2025S1)" in capsys.readouterr().out
    assert uploaded(conn) == [
        ("024", "2025S1", "024", "DIST_DIGITAL_BUSINESSES", 85, 100, 85, False, 32767),
        # 1234 / 1500 = 82.2667 % (rounded to 4 places).
        ("024", "2025S1", "024", "DIST_HOUSEHOLD_BROADBAND", 1234, 1500, 82.2667, False, None),
    ]


def test_rows_disagreeing_with_the_period_of_the_other_rows_are_rejected(
    tmp_path, conn, empty_warehouse, capsys
):
    path = tmp_path / "hai-ky.csv"
    path.write_text(
        HEADER
        + "024,,DIST_HOUSEHOLD_BROADBAND,2025S1,1234,1500,,\n"
        + "024,,DIST_DIGITAL_BUSINESSES,2025S1,85,100,,\n"
        + "024,,DIST_ECOMMERCE_PRODUCTS,2024S2,3,4,,\n",
        encoding="utf-8",
    )
    assert main(["ingest", "upload", str(path), "--report-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "hai-ky.csv: partial (unit 024, 2025S1)" in out
    assert "1 x period_mismatch" in out
    report = load_workbook(tmp_path / "out" / "hai-ky.tu-choi.xlsx")["Dòng bị từ chối"]
    assert [cell.value for cell in report[2]][:4] == [
        "hai-ky.csv",
        4,
        "Kỳ báo cáo của dòng (2024S2) khác kỳ của tệp (2025S1)",
        "period_mismatch",
    ]
    assert [row[3] for row in uploaded(conn)] == ["DIST_DIGITAL_BUSINESSES", "DIST_HOUSEHOLD_BROADBAND"]


@pytest.fixture
def no_data_built(tmp_path, urls, conn, empty_warehouse, capsys):
    """District 024's 2025S1 upload with two "no data" answers, landed through the CLI and built."""
    path = tmp_path / "bao-cao-024.csv"
    path.write_text(
        "Kỳ báo cáo: 6 tháng đầu năm 2025\nĐơn vị: 024 - Thành phố Hà Giang\n\n"
        + HEADER
        + "024,,DIST_HOUSEHOLD_BROADBAND,2025S1,1.234,1.500,,\n"
        + "024,,DIST_ECOMMERCE_PRODUCTS,2025S1,Không có,không có,,chưa thống kê\n"
        + "024,,DIST_DIGITAL_BUSINESSES,2025S1,,,N/A,\n"
        # A yes/no criterion: "không" is "chưa đạt" (not achieved), a report of 0.
        + "024,,DIST_MOBILE_UNIVERSAL,2025S1,,,không,\n",
        encoding="utf-8",
    )
    assert main(["ingest", "upload", str(path), "--report-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "accepted rows: 2, rejected rows: 0, no-data rows: 2" in out
    ensure_raw_tables()  # the other sources delivered nothing: their staging reads empty tables
    assert dbt.run(["build", *WITHOUT_UNIT_TESTS], urls.warehouse, get_settings(), check=False) == 0
    return tmp_path / "out" / "bao-cao-024.bien-nhan.xlsx"


def test_no_data_answers_land_flagged_without_figures_and_the_receipt_lists_them(no_data_built, conn):
    assert uploaded(conn) == [
        ("024", "2025S1", "024", "DIST_DIGITAL_BUSINESSES", None, None, None, True, None),
        ("024", "2025S1", "024", "DIST_ECOMMERCE_PRODUCTS", None, None, None, True, len("chưa thống kê")),
        ("024", "2025S1", "024", "DIST_HOUSEHOLD_BROADBAND", 1234, 1500, 82.2667, False, None),
        ("024", "2025S1", "024", "DIST_MOBILE_UNIVERSAL", 0, 1, 0, False, None),
    ]
    receipt = load_workbook(no_data_built)["Không có số liệu"]
    assert [[cell.value for cell in row] for row in receipt.iter_rows()] == [
        ["Trang tính", "Dòng", "Mã đơn vị", "Mã chỉ tiêu", "Tình trạng"],
        ["bao-cao-024.csv", 6, "024", "DIST_ECOMMERCE_PRODUCTS", "Không có số liệu"],
        ["bao-cao-024.csv", 7, "024", "DIST_DIGITAL_BUSINESSES", "Không có số liệu"],
    ]


def test_no_data_is_reported_without_figure_in_the_marts_never_zero(no_data_built, conn):
    rows = conn.execute(
        "select unit_code, indicator_code, figure_status, numerator, denominator, value, target_met, "
        "gap_to_target, rank_in_level, reporting_units, units_without_figure "
        "from marts_build.mart_semiannual_indicator "
        "where period_id = '2025S1' and unit_structure = 'before_2025' and unit_code in ('024', '02') "
        "and indicator_code in "
        "('DIST_ECOMMERCE_PRODUCTS', 'DIST_DIGITAL_BUSINESSES', 'DIST_HOUSEHOLD_BROADBAND') order by 2, 1"
    ).fetchall()
    d = Decimal
    assert rows == [
        # Reported without a figure, at the district and rolled up to the province: no 0/0, no
        # value, no judgement against the target, no rank.
        ("02", "DIST_DIGITAL_BUSINESSES", "reported_without_figure", *[None] * 6, 0, 1),
        ("024", "DIST_DIGITAL_BUSINESSES", "reported_without_figure", *[None] * 6, 0, 1),
        ("02", "DIST_ECOMMERCE_PRODUCTS", "reported_without_figure", *[None] * 6, 0, 1),
        ("024", "DIST_ECOMMERCE_PRODUCTS", "reported_without_figure", *[None] * 6, 0, 1),
        # 1234 / 1500 = 82.27 % against the district target "> 80 %": met, 2.27 points above; the
        # only district with a figure ranks first. The province row is monitoring (no target).
        ("02", "DIST_HOUSEHOLD_BROADBAND", "measured", d(1234), d(1500), d("82.27"), None, None, 1, 1, 0),
        (
            "024",
            "DIST_HOUSEHOLD_BROADBAND",
            "measured",
            d(1234),
            d(1500),
            d("82.27"),
            True,
            d("2.27"),
            1,
            1,
            0,
        ),
    ]
    # Compliance: the district submitted; of its own indicators, two were measured (broadband
    # households and the yes/no answer "không"), the two "no data" answers were not: they are
    # counted as reported without a figure (DIST_ECOMMERCE_PRODUCTS, DIST_DIGITAL_BUSINESSES).
    assert conn.execute(
        "select submitted, indicators_reported, indicators_without_figure "
        "from marts_build.mart_reporting_compliance where unit_code = '024' and period_id = '2025S1'"
    ).fetchone() == (True, 2, 2)


def test_a_raw_table_of_an_earlier_release_gets_the_no_data_column(tmp_path, conn, empty_warehouse):
    # The layout before issue 14: no no_data column; its rows were all figures.
    ensure_raw_tables()
    conn.execute("alter table raw.unit_upload_observations drop column no_data")
    path = tmp_path / "bao-cao.csv"
    path.write_text(
        "Mã đơn vị,Mã chỉ tiêu,Kỳ báo cáo,Tử số,Mẫu số\n024,DIST_ECOMMERCE_PRODUCTS,2025S1,-,-\n",
        encoding="utf-8",
    )
    assert main(["ingest", "upload", str(path), "--report-dir", str(tmp_path / "out")]) == 0
    assert [row[3:8] for row in uploaded(conn)] == [("DIST_ECOMMERCE_PRODUCTS", None, None, None, True)]


def test_a_refused_file_named_like_a_formula_stays_one_inert_cell_in_the_refusal_report(
    tmp_path, conn, empty_warehouse, capsys
):
    # A ".csv" holding NUL bytes is refused as a whole (dxw.intake.uploads.safety); its report is the
    # one-line CSV beside the file. Its name has a comma and starts with "=": written by hand it
    # became a live formula and shifted the reason into a third column.
    upload = tmp_path / "=HYPERLINK(1),x.csv"
    upload.write_bytes(b"M\x00\x00a\x00 don vi\n")
    assert main(["ingest", "upload", str(upload), "--report-dir", str(tmp_path / "out")]) == 1
    report = tmp_path / "out" / "=HYPERLINK(1),x.tu-choi.csv"
    rows = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["Tệp", "Lý do từ chối"]
    assert len(rows) == 2
    assert len(rows[1]) == 2
    assert rows[1][0] == "'=HYPERLINK(1),x.csv"
    assert "không phải tệp văn bản" in rows[1][1]
