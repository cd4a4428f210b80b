from decimal import Decimal

import openpyxl
import pytest

from dxw.intake.uploads.catalogue import CatalogueError, load_catalogue
from dxw.intake.uploads.template import HEADERS, TITLE, write_template
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import read_upload


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def fill(path, numbers: dict[str, tuple]) -> None:
    """Type numbers into the form as a clerk would, by indicator code."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    for row in range(7, sheet.max_row + 1):
        code = sheet.cell(row, 3).value
        if code in numbers:
            for column, value in zip((6, 7, 8), numbers[code], strict=True):
                sheet.cell(row, column).value = value
    book.save(path)


def test_template_layout(tmp_path, catalogue):
    path = write_template(tmp_path / "mau.xlsx", catalogue, "024", "2025S1")
    sheet = openpyxl.load_workbook(path).active
    assert sheet["A1"].value == TITLE
    assert sheet["A2"].value == "Đơn vị: 024 - Thành phố Hà Giang"
    assert sheet["A3"].value.startswith("Kỳ báo cáo: 2025S1 (số liệu từ ngày 15/12/2024 đến ngày 14/06/2025")
    assert sheet["A4"].value.startswith("Hướng dẫn:")
    assert [c.value for c in sheet[6]] == list(HEADERS)
    assert all(c.font.bold for c in sheet[6])
    assert sheet.freeze_panes == "A7"
    assert sheet.column_dimensions["D"].width == 70
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=7)]
    assert [r[2] for r in rows] == [i.code for i in catalogue.applicable("024", "2025S1")]
    assert all(r[0] == "024" and r[1] == "Thành phố Hà Giang" and r[4] == "2025S1" for r in rows)
    assert all(r[5] is None and r[6] is None and r[7] is None for r in rows)
    assert sheet["A7"].number_format == "@"  # Excel keeps leading zeros of unit codes
    validations = {
        (dv.type, dv.operator, dv.formula1, dv.formula2): str(dv.sqref)
        for dv in sheet.data_validations.dataValidation
    }
    assert validations[("whole", "greaterThanOrEqual", "0", None)] == "F7:G12"
    assert validations[("whole", "between", "0", "1")] == "H11"  # DIST_MOBILE_UNIVERSAL is a flag
    assert "(1 = đạt, 0 = chưa đạt)" in sheet["D11"].value


def test_template_round_trip_is_all_accepted(tmp_path, catalogue):
    path = write_template(tmp_path / "mau.xlsx", catalogue, "024", "2025S1")
    fill(
        path,
        {
            "DIST_HOUSEHOLD_BROADBAND": (41_000, 50_000, None),
            "DIST_COMMUNE_BROADBAND": (8, 8, 100),
            "DIST_ECOMMERCE_PRODUCTS": (12, 40, "30,0"),
            "DIST_DIGITAL_BUSINESSES": (70, 100, None),
            "DIST_MOBILE_UNIVERSAL": (None, None, 1),
            "DIST_EPAYMENT_ACCOUNTS": (3, 4, 75),
        },
    )
    parsed = read_upload(path)
    assert parsed.period_id == "2025S1"
    assert parsed.tables[0].unit_code == "024"
    result = validate(parsed, catalogue, "2025S1", unit_code="024")
    assert result.rejected == []
    assert {o.indicator_code: o.value for o in result.accepted} == {
        "DIST_HOUSEHOLD_BROADBAND": Decimal(82),
        "DIST_COMMUNE_BROADBAND": Decimal(100),
        "DIST_ECOMMERCE_PRODUCTS": Decimal(30),
        "DIST_DIGITAL_BUSINESSES": Decimal(70),
        "DIST_MOBILE_UNIVERSAL": Decimal(1),
        "DIST_EPAYMENT_ACCOUNTS": Decimal(75),
    }
    assert [o.row_no for o in result.accepted] == [7, 8, 9, 10, 11, 12]


def test_unfilled_template_rows_are_rejected_as_missing(tmp_path, catalogue):
    path = write_template(tmp_path / "mau.xlsx", catalogue, "02.SNV", "2025S1")
    fill(path, {"DEPT_DIGITAL_INSPECTIONS": (5, 10, None)})
    result = validate(read_upload(path), catalogue, "2025S1", unit_code="02.SNV")
    assert [(o.indicator_code, o.value) for o in result.accepted] == [
        ("DEPT_DIGITAL_INSPECTIONS", Decimal(50))
    ]
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(8, "missing_value")]


def test_no_template_for_a_unit_without_upload_indicators(tmp_path, catalogue):
    with pytest.raises(CatalogueError, match="00691"):
        write_template(tmp_path / "mau.xlsx", catalogue, "00691", "2025S1")
    # 2026S1 (15/12/2025 - 14/06/2026) starts after the districts ended on 30/06/2025.
    with pytest.raises(CatalogueError, match="024"):
        write_template(tmp_path / "mau.xlsx", catalogue, "024", "2026S1")
