import unicodedata
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from dxw.intake.uploads.catalogue import load_catalogue
from dxw.intake.uploads.rejections import summary_vi
from dxw.intake.uploads.safety import UnsafeUpload, UploadError
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import header_field, read_upload

HEADER = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Mã chỉ tiêu",
    "Tên chỉ tiêu",
    "Kỳ báo cáo",
    "Tử số",
    "Mẫu số",
    "Giá trị (%)",
]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def write_xlsx(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cells in (merges or {}).get(name, []):
            sheet.merge_cells(cells)
    book.save(path)
    return path


def numbers(validation) -> dict[tuple[str, str], tuple]:
    return {
        (o.unit_code, o.indicator_code): (o.numerator, o.denominator, o.value, o.sheet, o.row_no)
        for o in validation.accepted
    }


def test_messy_workbook_is_read_and_accepted_with_the_right_numbers(tmp_path, catalogue):
    title = "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ"
    messy = [
        [title],
        ["Kỳ báo cáo: 6 tháng đầu năm 2025"],
        [],
        [
            nfd("Mã ĐV"),
            "Ten don vi",
            nfd("Mã chỉ tiêu"),
            "Tên chỉ tiêu",
            "Tử số (người/hồ sơ)",
            "  MẪU  SỐ ",
            "Tỷ lệ (%)",
        ],
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)"],
        ["024", "Thành phố Hà Giang", "DIST_HOUSEHOLD_BROADBAND", "Hộ gia đình", "1.234", "1.500", "82,27 %"],
        # 8 communes: TP Hà Giang's commune-level units in units.csv (see test_validate).
        # Issue 14: "không có" in NFD in both figures is a "no data" answer, never 0 of 8.
        [None, None, "dist_commune_broadband", "Xã có băng rộng", nfd("không có"), nfd("Không có")],
        [],
        [None, None, "DIST_ECOMMERCE_PRODUCTS", "Sản phẩm", 1234, "1 500", None],
        [None, None, "DIST_DIGITAL_BUSINESSES", "Doanh nghiệp", "855", "1.000", "85,5%"],
        [None, None, "DIST_MOBILE_UNIVERSAL", "4G", None, None, "1"],
        [],
        [None, "Người lập biểu"],
        [],
        [],
    ]
    communes = [
        ["Kỳ báo cáo:", "2025S1"],
        HEADER,
        ["026", "Huyện Đồng Văn", "DIST_EPAYMENT_ACCOUNTS", "Tài khoản", "2025S1", "1,234,567", "2.000.000"],
    ]
    path = write_xlsx(
        tmp_path / "messy.xlsx",
        {"Hướng dẫn": [["Điền số liệu vào trang Báo cáo"]], "Báo cáo": messy, "Đồng Văn": communes},
        merges={"Báo cáo": ["A1:G1", "A6:A11", "B6:B11"]},
    )
    parsed = read_upload(path)

    assert [t.name for t in parsed.tables] == ["Báo cáo", "Đồng Văn"]
    assert parsed.ignored_sheets == ("Hướng dẫn",)
    assert parsed.period_id == "2025S1"
    assert parsed.table("Báo cáo").header_row == 4
    assert [(r.sheet, r.row_no) for r in parsed.rows] == [
        ("Báo cáo", 6),
        ("Báo cáo", 7),
        ("Báo cáo", 9),
        ("Báo cáo", 10),
        ("Báo cáo", 11),
        ("Đồng Văn", 3),
    ]
    assert parsed.rows[1].values["unit_code"] == "024"  # merged down from A6

    result = validate(parsed, catalogue, "2025S1")
    assert result.rejected == []
    assert numbers(result) == {
        ("024", "DIST_HOUSEHOLD_BROADBAND"): (1234, 1500, Decimal("82.2667"), "Báo cáo", 6),
        ("024", "DIST_ECOMMERCE_PRODUCTS"): (1234, 1500, Decimal("82.2667"), "Báo cáo", 9),
        ("024", "DIST_DIGITAL_BUSINESSES"): (855, 1000, Decimal("85.5"), "Báo cáo", 10),
        ("024", "DIST_MOBILE_UNIVERSAL"): (1, 1, 1, "Báo cáo", 11),
        ("026", "DIST_EPAYMENT_ACCOUNTS"): (1234567, 2000000, Decimal("61.7284"), "Đồng Văn", 3),
    }
    assert [(n.unit_code, n.indicator_code, n.row_no) for n in result.no_data] == [
        ("024", "DIST_COMMUNE_BROADBAND", 7)
    ]
    assert "Bỏ qua trang tính 'Hướng dẫn' vì không có bảng số liệu." in summary_vi(result)


def test_decimal_numerator_is_read_but_rejected_as_not_whole(tmp_path, catalogue):
    path = write_xlsx(
        tmp_path / "x.xlsx",
        {"S": [HEADER, ["024", "", "DIST_DIGITAL_BUSINESSES", "", "2025S1", "85,5", "100"]]},
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(2, "not_whole_number")]
    assert "Tử số (85,5) phải là số nguyên" in result.rejected[0].reason_vi


def test_percent_formatted_cell_is_read_as_shown(tmp_path, catalogue):
    path = write_xlsx(
        tmp_path / "pct.xlsx",
        {"S": [HEADER, ["024", "", "DIST_DIGITAL_BUSINESSES", "", "2025S1", 855, 1000, 0.855]]},
    )
    book = openpyxl.load_workbook(path)
    book["S"]["H2"].number_format = "0.0%"
    book.save(path)
    parsed = read_upload(path)
    assert parsed.rows[0].values["value"] == Decimal("85.5")
    assert numbers(validate(parsed, catalogue, "2025S1"))[("024", "DIST_DIGITAL_BUSINESSES")][2] == Decimal(
        "85.5"
    )


def test_two_row_header_with_merged_cells(tmp_path, catalogue):
    rows = [
        ["Mã đơn vị", "Mã chỉ tiêu", "Kết quả", None, "Ghi chú"],
        [None, None, "Tử số", "Mẫu số", None],
        ["024", "DIST_COMMUNE_BROADBAND", 7, 8, "đã rà soát"],
    ]
    path = write_xlsx(tmp_path / "two.xlsx", {"S": rows}, merges={"S": ["A1:A2", "B1:B2", "C1:D1", "E1:E2"]})
    parsed = read_upload(path)
    assert parsed.tables[0].header_row == 2
    result = validate(parsed, catalogue, "2025S1")
    assert [(o.row_no, o.numerator, o.denominator, o.comment) for o in result.accepted] == [
        (3, 7, 8, "đã rà soát")
    ]


def test_array_formula_reaches_validation_as_formula_text(tmp_path, catalogue):
    path = write_xlsx(
        tmp_path / "arr.xlsx", {"S": [HEADER, ["024", "", "DIST_COMMUNE_BROADBAND", "", "2025S1", None, 10]]}
    )
    book = openpyxl.load_workbook(path)
    book["S"]["F2"] = ArrayFormula("F2", "=SUM(G2:G2)")
    book.save(path)
    parsed = read_upload(path)
    assert parsed.rows[0].values["numerator"] == "=SUM(G2:G2)"
    assert validate(parsed, catalogue, "2025S1").rejected[0].reason_code == "formula"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Mã ĐV", "unit_code"),
        ("Ma don vi", "unit_code"),
        (nfd("MÃ ĐƠN VỊ"), "unit_code"),
        ("Tử số (người/hồ sơ)", "numerator"),
        ("Tử số\n(hồ sơ)", "numerator"),
        ("Tỷ lệ (%)", "value"),
        ("Giá trị", "value"),
        ("Giá trị (%):", "value"),
        ("Kỳ báo cáo", "period"),
        ("Đơn vị tính", None),
        ("Kết quả", None),
    ],
)
def test_header_aliases(header, field):
    assert header_field(header) == field


def test_csv_utf8_bom_semicolon_and_decimal_comma(tmp_path, catalogue):
    path = tmp_path / "bao_cao.csv"
    path.write_text(
        "Kỳ báo cáo: 2025S1;;;\n"
        "Mã đơn vị;Mã chỉ tiêu;Tử số;Mẫu số;Giá trị (%);Ghi chú\n"
        "024;DIST_HOUSEHOLD_BROADBAND;1.234;1.500;82,3;Huyện đã rà soát\n"
        ";;;;;\n"
        "024;DIST_MOBILE_UNIVERSAL;;;0;\n",
        encoding="utf-8-sig",
    )
    parsed = read_upload(path)
    assert [r.row_no for r in parsed.rows] == [3, 5]
    result = validate(parsed, catalogue, "2025S1")
    assert result.rejected == []
    assert numbers(result)[("024", "DIST_HOUSEHOLD_BROADBAND")][:2] == (1234, 1500)
    assert result.accepted[0].comment == "Huyện đã rà soát"
    assert numbers(result)[("024", "DIST_MOBILE_UNIVERSAL")][2] == 0


def test_csv_comma_delimited_without_bom(tmp_path, catalogue):
    path = tmp_path / "plain.csv"
    path.write_text(
        'Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n024,DIST_HOUSEHOLD_BROADBAND,"1,234,567","2,000,000"\n',
        encoding="utf-8",
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert numbers(result)[("024", "DIST_HOUSEHOLD_BROADBAND")][:2] == (1234567, 2000000)


def to_cp1258(text: str) -> bytes:
    """Windows-1258 writes Vietnamese as base letters plus separate combining tone marks."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for char in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out.append(base + "".join(c for c in decomposed if c in tones))
    return "".join(out).encode("cp1258")


def test_csv_in_windows_1258(tmp_path, catalogue):
    path = tmp_path / "cp1258.csv"
    path.write_bytes(
        to_cp1258(
            "Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số,Ghi chú\n024,DIST_HOUSEHOLD_BROADBAND,5,10,Huyện Đồng Văn\n"
        )
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert [(o.numerator, o.comment) for o in result.accepted] == [(5, "Huyện Đồng Văn")]


def test_csv_in_utf16_with_tabs(tmp_path, catalogue):
    path = tmp_path / "utf16.csv"
    path.write_text(
        "Mã đơn vị\tMã chỉ tiêu\tTử số\tMẫu số\n024\tDIST_HOUSEHOLD_BROADBAND\t5\t10\n", encoding="utf-16"
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert [(o.numerator, o.denominator) for o in result.accepted] == [(5, 10)]


def test_csv_in_an_unknown_encoding_is_refused(tmp_path):
    path = tmp_path / "garbled.csv"
    path.write_bytes(b"Ma don vi,Ma chi tieu\n\x81\x8d\x8f\x90\x9d\n")
    with pytest.raises(UploadError) as caught:
        read_upload(path)
    assert caught.value.code == "bad_encoding"
    assert "CSV UTF-8" in caught.value.reason_vi


def test_file_without_a_table_raises_upload_error(tmp_path):
    path = write_xlsx(tmp_path / "notable.xlsx", {"Sheet1": [["Xin chào"], ["Tử số", "Mẫu số"]]})
    with pytest.raises(UploadError) as caught:
        read_upload(path)
    assert caught.value.code == "no_table"
    assert "Không tìm thấy bảng số liệu" in caught.value.reason_vi


def test_unsafe_file_is_refused_before_openpyxl_opens_it(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (5 * 1024 * 1024))
    with pytest.raises(UnsafeUpload) as caught:
        read_upload(bomb)
    assert caught.value.code == "zip_bomb"


def test_a_table_with_too_many_rows_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("Mã chỉ tiêu,Tử số\n" + "X,1\n" * 6000, encoding="utf-8")
    with pytest.raises(UploadError) as caught:
        read_upload(path)
    assert caught.value.code == "too_many_rows"


def test_unit_metadata_above_the_table_fills_a_missing_unit_column(tmp_path, catalogue):
    rows = [
        ["Đơn vị: 02.SNV - Sở Nội vụ"],
        ["Kỳ báo cáo: 2025S1"],
        ["Mã chỉ tiêu", "Tử số", "Mẫu số", "Giá trị"],
    ]
    rows += [["DEPT_DIGITAL_INSPECTIONS", 5, 10, None], ["DEPT_DATA_WAREHOUSE", None, None, 1]]
    parsed = read_upload(write_xlsx(tmp_path / "dept.xlsx", {"S": rows}))
    assert parsed.tables[0].unit_code == "02.SNV"
    result = validate(parsed, catalogue, "2025S1")
    assert [(o.unit_code, o.indicator_code) for o in result.accepted] == [
        ("02.SNV", "DEPT_DIGITAL_INSPECTIONS"),
        ("02.SNV", "DEPT_DATA_WAREHOUSE"),
    ]
