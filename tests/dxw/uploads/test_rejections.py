import csv
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from dxw.errors import InputError
from dxw.intake.uploads.catalogue import load_catalogue
from dxw.intake.uploads.rejections import summary_vi, write_csv_rows, write_rejections
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import read_upload

HEADER = ["Mã đơn vị", "Mã chỉ tiêu", "Tử số", "Mẫu số", "Ghi chú"]
ROWS = [
    ["024", "DIST_HOUSEHOLD_BROADBAND", "80", "100", ""],
    ["024", "DIST_COMMUNE_BROADBAND", "120", "100", ""],
    ["024", "DIST_ECOMMERCE_PRODUCTS", "1", "2", '=HYPERLINK("http://evil.example","bấm")'],
    ["024", "DIST_DIGITAL_BUSINESSES", "130", "100", "ghi chú"],
    ["024", "X", "1", "2", ""],
]


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "bao_cao.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([["Kỳ báo cáo: 2025S1"], [], ["Hướng dẫn: điền số"], HEADER, *ROWS])
    return validate(read_upload(path), load_catalogue(), "2025S1", unit_code="024")


def test_summary_counts_accepted_and_rejected_rows_by_reason(validation):
    assert summary_vi(validation) == (
        "Đã nhận 1 dòng, từ chối 4 dòng: 2 dòng tử số lớn hơn mẫu số, 1 dòng chứa công thức, "
        "1 dòng mã chỉ tiêu không có trong danh mục (tệp 'bao_cao.csv', kỳ 2025S1). "
        "Hãy sửa các dòng bị từ chối theo lý do ghi trong báo cáo rồi nộp lại tệp."
    )


def test_xlsx_report(tmp_path, validation):
    path = write_rejections(tmp_path / "tu_choi.xlsx", validation)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Dòng bị từ chối", "Tóm tắt"]
    sheet = book["Dòng bị từ chối"]
    assert [c.value for c in sheet[1]] == ["Trang tính", "Dòng", "Lý do từ chối", "Mã lỗi", *HEADER]
    assert all(c.font.bold for c in sheet[1])
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert [(r[1], r[3]) for r in rows] == [
        (6, "numerator_gt_denominator"),
        (7, "formula"),
        (8, "numerator_gt_denominator"),
        (9, "unknown_indicator"),
    ]
    assert rows[0][2] == "Tử số (120) lớn hơn mẫu số (100)"
    assert rows[0][4:] == ["024", "DIST_COMMUNE_BROADBAND", "120", "100", None]
    summary = {r[0]: r[1] for r in book["Tóm tắt"].iter_rows(values_only=True)}
    assert summary["Số dòng được nhận"] == 1
    assert summary["Số dòng bị từ chối"] == 4
    assert summary["Tóm tắt"] == summary_vi(validation)


def test_xlsx_report_never_turns_a_rejected_formula_back_into_a_formula(tmp_path, validation):
    path = write_rejections(tmp_path / "tu_choi.xlsx", validation)
    sheet = openpyxl.load_workbook(path)["Dòng bị từ chối"]
    cell = sheet.cell(3, 9)
    assert cell.value == '=HYPERLINK("http://evil.example","bấm")'
    assert cell.data_type == "s"
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_csv_report_has_a_bom_and_inert_cells(tmp_path, validation):
    path = write_rejections(tmp_path / "tu_choi.csv", validation)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["Trang tính", "Dòng", "Lý do từ chối", "Mã lỗi", *HEADER]
    assert rows[2][3] == "formula"
    assert rows[2][8] == '\'=HYPERLINK("http://evil.example","bấm")'
    assert ["Số dòng được nhận", "1"] in rows


def test_report_of_a_clean_upload(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(
        "Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n024,DIST_HOUSEHOLD_BROADBAND,1,2\n", encoding="utf-8"
    )
    clean = validate(read_upload(path), load_catalogue(), "2025S1")
    assert summary_vi(clean) == "Đã nhận 1 dòng, không có dòng nào bị từ chối (tệp 'ok.csv', kỳ 2025S1)."
    report = write_rejections(tmp_path / "report.xlsx", clean)
    assert openpyxl.load_workbook(report)["Dòng bị từ chối"].max_row == 1


def test_report_extension_must_be_xlsx_or_csv(tmp_path, validation):
    with pytest.raises(InputError, match=r"\.xlsx or \.csv"):
        write_rejections(tmp_path / "report.pdf", validation)


def test_summary_of_a_table_without_data_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n,,,\n", encoding="utf-8")
    empty = validate(read_upload(path), load_catalogue(), "2025S1")
    assert summary_vi(empty).startswith("Tệp không có dòng số liệu nào")


def test_rows_from_sheets_with_different_layouts_get_column_letters(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "A"
    book["A"].append(["Mã đơn vị", "Mã chỉ tiêu", "Tử số", "Mẫu số"])
    book["A"].append(["024", "X", 1, 2])
    other = book.create_sheet("B")
    other.append(["Mã chỉ tiêu", "Mã đơn vị", "Mẫu số", "Tử số", "Ghi chú"])
    other.append(["Y", "024", 2, 1, "note"])
    book.save(tmp_path / "two.xlsx")
    result = validate(read_upload(tmp_path / "two.xlsx"), load_catalogue(), "2025S1")
    sheet = openpyxl.load_workbook(write_rejections(tmp_path / "r.xlsx", result))["Dòng bị từ chối"]
    assert [c.value for c in sheet[1]][4:] == ["Cột A", "Cột B", "Cột C", "Cột D", "Cột E"]
    assert [[c.value for c in r][:2] for r in sheet.iter_rows(min_row=2)] == [["A", 2], ["B", 2]]


def test_report_lists_no_data_rows_and_warnings_apart_from_rejections(tmp_path):
    path = tmp_path / "bao_cao.csv"
    path.write_text(
        "Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n"
        "024,DIST_HOUSEHOLD_BROADBAND,6000,13000\n"
        "024,DIST_EPAYMENT_ACCOUNTS,không có số liệu,không có số liệu\n",
        encoding="utf-8",
    )
    previous = {("024", date(2004, 1, 1), "DIST_HOUSEHOLD_BROADBAND"): Decimal(10000)}
    result = validate(read_upload(path), load_catalogue(), "2025S1", "024", previous=previous)
    # 13000 against 10000 is +30 %, outside the default ±20 % band.
    assert summary_vi(result) == (
        "Đã nhận 1 dòng, không có dòng nào bị từ chối; 1 dòng không có số liệu "
        "(024/DIST_EPAYMENT_ACCOUNTS): đơn vị đã báo cáo, các chỉ tiêu này được ghi là chưa đo được "
        "trong kỳ; 1 cảnh báo: 1 dòng mẫu số thay đổi nhiều so với kỳ trước (tệp 'bao_cao.csv', kỳ 2025S1). "
        "Hãy kiểm tra lại các dòng có cảnh báo; số liệu của các dòng này vẫn được ghi nhận."
    )
    book = openpyxl.load_workbook(write_rejections(tmp_path / "bien_nhan.xlsx", result))
    assert book.sheetnames == ["Dòng bị từ chối", "Không có số liệu", "Cảnh báo", "Tóm tắt"]
    assert [[c.value for c in r] for r in book["Không có số liệu"].iter_rows(min_row=2)] == [
        ["bao_cao.csv", 3, "024", "DIST_EPAYMENT_ACCOUNTS", "Không có số liệu"]
    ]
    (warning,) = [[c.value for c in r] for r in book["Cảnh báo"].iter_rows(min_row=2)]
    assert warning[:4] == ["bao_cao.csv", 2, "024", "DIST_HOUSEHOLD_BROADBAND"]
    assert warning[4].startswith("Mẫu số (13000) tăng 30% so với kỳ 2024S2 (10000)")
    summary = {r[0]: r[1] for r in book["Tóm tắt"].iter_rows(values_only=True)}
    assert (summary["Số dòng không có số liệu"], summary["Số cảnh báo"]) == (1, 1)
    rows = list(csv.reader(write_rejections(tmp_path / "r.csv", result).read_text("utf-8-sig").splitlines()))
    assert ["bao_cao.csv", "3", "024", "DIST_EPAYMENT_ACCOUNTS", "Không có số liệu"] in rows
    assert ["Số cảnh báo", "1"] in rows


def test_csv_cells_led_by_a_tab_or_carriage_return_are_made_inert_and_numbers_stay(tmp_path):
    # OWASP's list: = + - @, tab and carriage return; a signed number and the "no data" dash are
    # not formulas to Excel and are written as they are.
    path = write_csv_rows(tmp_path / "r.csv", [["\t=1+1", "\rx", "@SUM(A1)", "+1+1", "-5", "-", "ok"]])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["'\t=1+1", "'\rx", "'@SUM(A1)", "'+1+1", "-5", "-", "ok"]]
