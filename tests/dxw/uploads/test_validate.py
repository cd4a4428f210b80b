import csv
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from dxw.intake.uploads.catalogue import Catalogue, Succession, UnitRef, load_catalogue
from dxw.intake.uploads.safety import UploadError
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import read_upload

HEADER = ["Mã đơn vị", "Tên đơn vị", "Mã chỉ tiêu", "Kỳ báo cáo", "Tử số", "Mẫu số", "Giá trị (%)", "Ghi chú"]
FIRST_DATA_ROW = 5
GOOD = ["024", "Thành phố Hà Giang", "DIST_HOUSEHOLD_BROADBAND", "2025S1", 80, 100, None, None]


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def row(
    unit="024", indicator="DIST_ECOMMERCE_PRODUCTS", numerator=None, denominator=None, value=None, **other
):
    return [
        unit,
        "",
        indicator,
        other.get("period", "2025S1"),
        numerator,
        denominator,
        value,
        other.get("note"),
    ]


def upload(tmp_path: Path, rows: list[list], period_line: str = "Kỳ báo cáo: 2025S1") -> Path:
    """A form with a title, a period line and a blank row above the header: data starts on row 5."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    for values in [["BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ"], [period_line], [], HEADER, *rows]:
        sheet.append(values)
    path = tmp_path / "upload.xlsx"
    book.save(path)
    return path


def check(tmp_path, catalogue, bad_row, unit_code=None, period_id="2025S1"):
    """Validate a good row followed by ``bad_row``; the bad row is rejected and nothing of it accepted."""
    result = validate(read_upload(upload(tmp_path, [GOOD, bad_row])), catalogue, period_id, unit_code)
    assert [o.row_no for o in result.accepted] == [FIRST_DATA_ROW]
    assert len(result.rejected) == 1
    rejection = result.rejected[0]
    assert (rejection.sheet, rejection.row_no) == ("Báo cáo", FIRST_DATA_ROW + 1)
    return rejection


@pytest.mark.parametrize(
    ("bad_row", "code", "reason"),
    [
        (
            row("99999", numerator=1, denominator=2),
            "unknown_unit",
            "Mã đơn vị '99999' không có trong danh mục đơn vị hành chính của kỳ 2025S1",
        ),
        (
            # The new province's Sở Nội vụ (from 01/07/2025) in 2025S1 (15/12/2024 .. 14/06/2025).
            row("08.SNV", indicator="DEPT_DIGITAL_INSPECTIONS", numerator=1, denominator=2),
            "unit_not_valid",
            "Sở Nội vụ (08.SNV) bắt đầu hoạt động từ 01/07/2025, sau kỳ 2025S1 (15/12/2024 - 14/06/2025)",
        ),
        (
            row(indicator="X", numerator=1, denominator=2),
            "unknown_indicator",
            "Mã chỉ tiêu 'X' không có trong danh mục chỉ tiêu",
        ),
        (row(indicator="", numerator=1, denominator=2), "missing_indicator", "Thiếu mã chỉ tiêu"),
        (
            row(indicator="PS_ON_TIME", numerator=1, denominator=2),
            "indicator_not_uploadable",
            "Chỉ tiêu 'PS_ON_TIME' được lấy tự động từ Cổng dịch vụ công",
        ),
        (
            row(indicator="DEPT_DIGITAL_INSPECTIONS", numerator=1, denominator=2),
            "indicator_not_applicable",
            "Chỉ tiêu 'DEPT_DIGITAL_INSPECTIONS' không áp dụng cho cấp huyện",
        ),
        (
            row("00691", "DIST_COMMUNE_BROADBAND", 1, 2),
            "indicator_not_applicable",
            "Chỉ tiêu 'DIST_COMMUNE_BROADBAND' không áp dụng cho cấp xã",
        ),
        (row(numerator=None, denominator=100), "missing_numbers", "Thiếu tử số"),
        (row(numerator=None, denominator=None, value=50), "missing_numbers", "Thiếu tử số và mẫu số"),
        (row(numerator=-5, denominator=100), "negative", "Tử số (-5) là số âm"),
        (row(numerator=5, denominator="-100"), "negative", "Mẫu số (-100) là số âm"),
        (row(numerator=120, denominator=100), "numerator_gt_denominator", "Tử số (120) lớn hơn mẫu số (100)"),
        (row(numerator=5, denominator=0), "zero_denominator", "Mẫu số bằng 0 nhưng tử số là 5"),
        (
            row(numerator=50, denominator=100, value=150),
            "value_out_of_range",
            "Giá trị (150) phải nằm trong khoảng 0 đến 100 (%)",
        ),
        (
            row(numerator=80, denominator=100, value="70,5"),
            "value_mismatch",
            "Giá trị (70,5%) không khớp với tử số/mẫu số (80/100 = 80%)",
        ),
        (row(numerator=1, denominator=3, value="33,4"), "value_mismatch", "(1/3 = 33,33%)"),
        (
            row(indicator="DIST_MOBILE_UNIVERSAL", value=2),
            "value_out_of_range",
            "Chỉ tiêu đạt/chưa đạt chỉ nhận 1 (đạt) hoặc 0 (chưa đạt), không nhận 2",
        ),
        (row(indicator="DIST_MOBILE_UNIVERSAL", value="0,5"), "value_out_of_range", "không nhận 0,5"),
        (
            row(indicator="DIST_MOBILE_UNIVERSAL", numerator=1, denominator=1),
            "missing_value",
            "hãy nhập 1 (đạt) hoặc 0 (chưa đạt) vào cột Giá trị",
        ),
        (row(numerator="abc", denominator=100), "not_a_number", "Tử số: 'abc' không phải là số"),
        (row(numerator="1,5", denominator=100), "not_whole_number", "Tử số (1,5) phải là số nguyên"),
        (
            row(numerator=1, denominator=2, period="2025S2"),
            "period_mismatch",
            "Kỳ báo cáo của dòng (2025S2) khác kỳ của tệp (2025S1)",
        ),
        (
            row(numerator=1, denominator=2, period="kỳ 1"),
            "bad_period",
            "Kỳ báo cáo 'kỳ 1' của dòng không đúng định dạng",
        ),
        (
            row(numerator="=F5/2", denominator=100),
            "formula",
            "Ô E6 (Tử số) chứa công thức '=F5/2'; hãy nhập giá trị số",
        ),
        (
            row(numerator=1, denominator=2, note='=HYPERLINK("http://evil.example","Bấm vào đây")'),
            "formula",
            "Ô H6 (Ghi chú) chứa công thức '=HYPERLINK(",
        ),
        (
            row(numerator=1, denominator=2, note="@SUM(1+1)*cmd|' /C calc'!A0"),
            "formula",
            "Ô H6 (Ghi chú) bắt đầu bằng '@'",
        ),
        (
            row(indicator="DIST_HOUSEHOLD_BROADBAND", numerator=1, denominator=2),
            "duplicate",
            "Trùng với dòng 5 (cùng đơn vị '024' và chỉ tiêu 'DIST_HOUSEHOLD_BROADBAND'); "
            "chỉ dòng đầu tiên được nhận",
        ),
    ],
)
def test_each_problem_rejects_its_row_with_a_vietnamese_reason(tmp_path, catalogue, bad_row, code, reason):
    rejection = check(tmp_path, catalogue, bad_row)
    assert rejection.reason_code == code
    assert reason in rejection.reason_vi
    assert rejection.cells[2] == (bad_row[2] or "")


def test_missing_unit(tmp_path, catalogue):
    rejection = check(tmp_path, catalogue, row("", numerator=1, denominator=2))
    assert (rejection.reason_code, rejection.reason_vi) == ("missing_unit", "Thiếu mã đơn vị")


def test_a_unit_reports_only_for_itself_and_units_below_it(tmp_path, catalogue):
    rejection = check(tmp_path, catalogue, row("026", numerator=1, denominator=2), unit_code="024")
    assert rejection.reason_code == "unit_not_allowed"
    assert rejection.reason_vi == (
        "Đơn vị '024' (Thành phố Hà Giang) không được báo cáo thay cho đơn vị '026' (Huyện Đồng Văn)"
    )
    province = validate(
        read_upload(upload(tmp_path, [GOOD, row("026", numerator=1, denominator=2)])),
        catalogue,
        "2025S1",
        "02",
    )
    assert province.rejected == []
    assert [o.unit_code for o in province.accepted] == ["024", "026"]


def test_unknown_uploading_unit_raises(tmp_path, catalogue):
    with pytest.raises(UploadError) as caught:
        validate(read_upload(upload(tmp_path, [GOOD])), catalogue, "2025S1", "024X")
    assert caught.value.code == "unknown_uploader"


def test_legacy_district_is_not_valid_after_the_reorganisation(tmp_path, catalogue):
    path = upload(tmp_path, [row(numerator=1, denominator=2, period="2026S1")], "Kỳ báo cáo: 2026S1")
    result = validate(read_upload(path), catalogue, "2026S1")
    assert result.accepted == []
    assert result.rejected[0].reason_code == "unit_not_valid"
    assert "đã kết thúc hoạt động từ 01/07/2025" in result.rejected[0].reason_vi


def test_sheet_period_different_from_the_upload_period(tmp_path, catalogue):
    rows = [[*GOOD[:3], None, *GOOD[4:]]]
    result = validate(read_upload(upload(tmp_path, rows, "Kỳ báo cáo: 2025S2")), catalogue, "2025S1")
    assert result.accepted == []
    assert result.rejected[0].reason_code == "period_mismatch"
    assert result.rejected[0].reason_vi == "Kỳ báo cáo ghi ở đầu trang tính (2025S2) khác kỳ của tệp (2025S1)"


def test_every_duplicate_after_the_first_is_rejected_and_names_the_first(tmp_path, catalogue):
    duplicate = row("024", "DIST_HOUSEHOLD_BROADBAND", 1, 2)
    result = validate(read_upload(upload(tmp_path, [GOOD, duplicate, duplicate])), catalogue, "2025S1")
    assert [o.row_no for o in result.accepted] == [5]
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(6, "duplicate"), (7, "duplicate")]
    assert all("Trùng với dòng 5 " in r.reason_vi for r in result.rejected)


def test_value_within_tolerance_is_accepted_and_the_computed_value_wins(tmp_path, catalogue):
    rows = [row(numerator=1, denominator=3, value="33,35"), row("026", numerator=0, denominator=0, value=0)]
    result = validate(read_upload(upload(tmp_path, rows)), catalogue, "2025S1")
    assert result.rejected == []
    assert [o.value for o in result.accepted] == [Decimal("33.3333"), None]


def test_leading_zeros_dropped_by_excel_are_restored(tmp_path, catalogue):
    result = validate(
        read_upload(upload(tmp_path, [row(24, numerator=1, denominator=2)])), catalogue, "2025S1"
    )
    assert [o.unit_code for o in result.accepted] == ["024"]


def test_uploading_unit_fills_rows_without_a_unit(tmp_path, catalogue):
    path = upload(tmp_path, [row(None, "DIST_MOBILE_UNIVERSAL", value=1)])
    result = validate(read_upload(path), catalogue, "2025S1", unit_code="024")
    observation = result.accepted[0]
    assert (observation.unit_code, observation.numerator, observation.denominator, observation.value) == (
        "024",
        1,
        1,
        1,
    )


def test_csv_formula_injection_is_rejected(tmp_path, catalogue):
    path = tmp_path / "inject.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Mã đơn vị", "Mã chỉ tiêu", "Tử số", "Mẫu số", "Ghi chú"])
        writer.writerow(["024", "DIST_HOUSEHOLD_BROADBAND", "1", "2", "=cmd|' /C calc'!A0"])
        writer.writerow(["024", "DIST_COMMUNE_BROADBAND", "+cmd|' /C calc'!A0", "2", ""])
        writer.writerow(["024", "DIST_ECOMMERCE_PRODUCTS", "-1+1", "2", ""])
        # A note starting with "-" is refused too: a spreadsheet opening it would run it as a formula.
        writer.writerow(["024", "DIST_DIGITAL_BUSINESSES", "-", "2", "- không có"])
    result = validate(read_upload(path), catalogue, "2025S1")
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [
        (2, "formula"),
        (3, "formula"),
        (4, "formula"),
        (5, "formula"),
    ]
    assert "Ô E2 (Ghi chú) chứa công thức '=cmd|' /C calc'!A0'" in result.rejected[0].reason_vi
    assert result.accepted == []


def test_formula_cells_from_excel_are_never_evaluated(tmp_path, catalogue):
    path = upload(
        tmp_path, [row(numerator="=G5", denominator=100), row("026", numerator=1, denominator="=1+1")]
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert result.accepted == []
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(5, "formula"), (6, "formula")]
    assert result.rejected[1].reason_vi.startswith("Ô F6 (Mẫu số) chứa công thức '=1+1'")


def test_unit_codes_are_case_insensitive(tmp_path, catalogue):
    path = upload(tmp_path, [row("02.snv", "DEPT_DATA_WAREHOUSE", value="0")])
    result = validate(read_upload(path), catalogue, "2025S1")
    assert [(o.unit_code, o.value) for o in result.accepted] == [("02.SNV", 0)]


# -- Denominators the unit registry knows (issue 12, item 7) ---------------------------------------

# TP Hà Giang (024) in units.csv: the rows with parent_code 024 and level commune are 00688 Phường
# Quang Trung, 00691 Phường Trần Phú, 00692 Phường Ngọc Hà, 00694 Phường Nguyễn Trãi, 00697 Phường
# Minh Khai, 00700 Xã Ngọc Đường, 00946 Xã Phương Độ and 00949 Xã Phương Thiện, all valid
# 2004-01-01 .. 2025-06-30: 8 commune-level units on 14/06/2025, the last day of 2025S1's window.
COMMUNES_OF_024 = 8


def test_commune_count_denominator_equal_to_the_registry_is_accepted(tmp_path, catalogue):
    path = upload(
        tmp_path, [row(indicator="DIST_COMMUNE_BROADBAND", numerator=8, denominator=COMMUNES_OF_024)]
    )
    result = validate(read_upload(path), catalogue, "2025S1")
    assert result.rejected == []
    assert [(o.numerator, o.denominator, o.value) for o in result.accepted] == [(8, 8, 100)]


@pytest.mark.parametrize("denominator", [COMMUNES_OF_024 - 1, COMMUNES_OF_024 + 1])
def test_commune_count_denominator_off_by_one_is_rejected(tmp_path, catalogue, denominator):
    rejection = check(
        tmp_path, catalogue, row(indicator="DIST_COMMUNE_BROADBAND", numerator=5, denominator=denominator)
    )
    assert rejection.reason_code == "denominator_not_registry"
    assert rejection.reason_vi == (
        f"Mẫu số (số xã, phường, thị trấn) là {denominator} nhưng Thành phố Hà Giang có 8 "
        "xã, phường, thị trấn theo danh mục đơn vị hành chính (ngày 14/06/2025)"
    )


def test_commune_count_of_a_district_in_its_last_half_year_is_counted_on_its_last_day(tmp_path, catalogue):
    # 2025S2's window is 15/06 - 14/12/2025; 024 existed until 30/06/2025, with the same 8 communes.
    path = upload(
        tmp_path,
        [row(indicator="DIST_COMMUNE_BROADBAND", numerator=8, denominator=9, period="2025S2")],
        "Kỳ báo cáo: 2025S2",
    )
    result = validate(read_upload(path), catalogue, "2025S2")
    assert result.rejected[0].reason_code == "denominator_not_registry"
    assert "có 8 xã, phường, thị trấn theo danh mục đơn vị hành chính (ngày 30/06/2025)" in (
        result.rejected[0].reason_vi
    )


# -- Warning band against the previous half-year (issue 12, item 7) -----------------------------------

HOUSEHOLDS = "DIST_HOUSEHOLD_BROADBAND"
PREVIOUS = {("024", date(2004, 1, 1), HOUSEHOLDS): Decimal(10000)}


@pytest.mark.parametrize(
    ("denominator", "warned"),
    [
        (13000, "Mẫu số (13000) tăng 30% so với kỳ 2024S2 (10000), vượt ngưỡng ±20%"),  # +3000/10000
        (7500, "Mẫu số (7500) giảm 25% so với kỳ 2024S2 (10000), vượt ngưỡng ±20%"),  # -2500/10000
        (11000, None),  # +1000/10000 = +10 %, inside the band
        (12000, None),  # +20 % exactly: on the band, not outside it
    ],
)
def test_a_denominator_outside_the_band_is_accepted_with_a_warning(tmp_path, catalogue, denominator, warned):
    path = upload(tmp_path, [row(indicator=HOUSEHOLDS, numerator=5000, denominator=denominator)])
    result = validate(read_upload(path), catalogue, "2025S1", previous=PREVIOUS)
    assert result.rejected == []
    assert [o.denominator for o in result.accepted] == [denominator]
    if warned is None:
        assert result.warnings == []
    else:
        (warning,) = result.warnings
        assert (warning.code, warning.row_no, warning.previous_period_id) == (
            "denominator_outside_band",
            FIRST_DATA_ROW,
            "2024S2",
        )
        assert warning.reason_vi == warned + ": đề nghị đơn vị kiểm tra lại; số liệu vẫn được ghi nhận"


def test_no_previous_figure_no_warning_and_the_band_is_a_parameter(tmp_path, catalogue):
    path = upload(tmp_path, [row(indicator=HOUSEHOLDS, numerator=5000, denominator=13000)])
    parsed = read_upload(path)
    assert validate(parsed, catalogue, "2025S1").warnings == []
    # Another unit version's figure is not this unit's previous figure.
    other = {("026", date(2004, 1, 1), HOUSEHOLDS): Decimal(10000)}
    assert validate(parsed, catalogue, "2025S1", previous=other).warnings == []
    # A band of 0.35 takes +30 % in.
    assert validate(parsed, catalogue, "2025S1", previous=PREVIOUS, band=Decimal("0.35")).warnings == []


# -- "No data" answers (issue 12, item 6) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "value"),
    [
        ("không có số liệu", "không có số liệu", None),
        ("Chưa có số liệu.", None, None),
        (None, None, "không có số liệu"),
        ("N/A", "n/a", None),
        ("#N/A", "#N/A", "#N/A"),
        ("—", "—", None),
        ("không có", "không có", None),
        ("khong co", "-", None),
        ("không có", "không có", "không có"),
        # Issue 14: the short marks alone, any case, NFC or NFD.
        ("x", "X", None),
        ("KHÔNG", None, None),
        (None, "không", None),
        ("Không Có", None, None),
        (unicodedata.normalize("NFD", "không có"), None, None),
        (None, None, "-"),
        ("n/a", None, "N/A"),
    ],
)
def test_a_row_whose_figures_say_no_data_is_listed_not_measured_and_not_rejected(
    tmp_path, catalogue, numerator, denominator, value
):
    rows = [GOOD, row(numerator=numerator, denominator=denominator, value=value)]
    result = validate(read_upload(upload(tmp_path, rows)), catalogue, "2025S1")
    assert result.rejected == []
    assert [o.indicator_code for o in result.accepted] == ["DIST_HOUSEHOLD_BROADBAND"]
    assert [(n.row_no, n.unit_code, n.indicator_code) for n in result.no_data] == [
        (FIRST_DATA_ROW + 1, "024", "DIST_ECOMMERCE_PRODUCTS")
    ]


def test_no_data_phrase_in_nfd(tmp_path, catalogue):
    import unicodedata

    phrase = unicodedata.normalize("NFD", "Không có số liệu")
    result = validate(
        read_upload(upload(tmp_path, [row(numerator=phrase, denominator=phrase)])), catalogue, "2025S1"
    )
    assert (len(result.no_data), result.accepted, result.rejected) == (1, [], [])


@pytest.mark.parametrize("word", ["không có", "Không", "-", "x", "N/A"])
def test_a_no_data_word_beside_a_real_denominator_is_refused_not_read_as_zero(tmp_path, catalogue, word):
    # Issue 14: "không có" households out of 12 000 used to be 0 of 12 000 (0 %); a no-data word
    # beside a real figure is now refused, and the unit is told to write 0 for a zero.
    rejection = check(tmp_path, catalogue, row(numerator=word, denominator=12000))
    assert rejection.reason_code == "not_a_number"
    assert rejection.reason_vi == (
        f"Tử số: '{word}' chỉ dùng khi cả dòng không có số liệu: hãy ghi như vậy ở cả tử số và mẫu số "
        "(hoặc ở ô Giá trị của chỉ tiêu đạt/chưa đạt), hoặc nhập số (số 0 thì nhập 0)"
    )


def test_digit_zeros_are_a_report_of_zero_over_zero(tmp_path, catalogue):
    result = validate(read_upload(upload(tmp_path, [row(numerator=0, denominator=0)])), catalogue, "2025S1")
    assert result.no_data == []
    assert [(o.numerator, o.denominator, o.value) for o in result.accepted] == [(0, 0, None)]


def test_a_no_data_phrase_beside_a_real_figure_is_rejected(tmp_path, catalogue):
    rejection = check(tmp_path, catalogue, row(numerator="không có số liệu", denominator=12000))
    assert rejection.reason_code == "not_a_number"
    assert rejection.reason_vi.startswith("Tử số: 'không có số liệu' chỉ dùng khi cả dòng không có số liệu")


def test_yes_no_indicator_no_means_not_achieved_and_only_the_phrase_means_no_data(tmp_path, catalogue):
    rows = [
        row(indicator="DIST_MOBILE_UNIVERSAL", value="không"),
        row("026", indicator="DIST_MOBILE_UNIVERSAL", value="không có số liệu"),
    ]
    result = validate(read_upload(upload(tmp_path, rows)), catalogue, "2025S1")
    assert [(o.unit_code, o.value) for o in result.accepted] == [("024", 0)]
    assert [n.unit_code for n in result.no_data] == ["026"]


def test_an_x_in_a_yes_no_cell_is_refused_as_neither_answer(tmp_path, catalogue):
    # "x" often ticks a box: in a yes/no cell it says neither "đạt" nor "chưa đạt" for sure.
    rejection = check(tmp_path, catalogue, row(indicator="DIST_MOBILE_UNIVERSAL", value="x"))
    assert (rejection.reason_code, rejection.reason_vi) == (
        "not_a_number",
        "Giá trị (%): 'x' không cho biết đạt hay chưa đạt: hãy nhập 1 (đạt), 0 (chưa đạt) hoặc "
        "'không có số liệu'",
    )


def test_no_data_rows_are_still_checked_for_unit_and_indicator(tmp_path, catalogue):
    rows = [
        row("99999", numerator="N/A", denominator="N/A"),
        row(indicator="X", numerator="N/A", denominator="N/A"),
    ]
    result = validate(read_upload(upload(tmp_path, rows)), catalogue, "2025S1")
    assert result.no_data == []
    assert [r.reason_code for r in result.rejected] == ["unknown_unit", "unknown_indicator"]


# -- Units outside their validity in the period (issue 12, item 8) --------------------------------


@pytest.mark.parametrize(
    ("unit", "period", "reason"),
    [
        (
            # units.csv: 024 valid 2004-01-01 .. 2025-06-30; unit_succession.csv: 024 -> 08 (primary).
            # 2026S1's Decree 09 window: 15/12/2025 .. 14/06/2026.
            "024",
            "2026S1",
            "Thành phố Hà Giang (024) đã kết thúc hoạt động từ 01/07/2025, trước kỳ 2026S1 "
            "(15/12/2025 - 14/06/2026); "
            "số liệu từ ngày 01/07/2025 báo cáo theo Tỉnh Tuyên Quang (08)",
        ),
        (
            # 00946 Xã Phương Độ ended 30/06/2025 and merged into 00694 Phường Hà Giang 1.
            "00946",
            "2026S1",
            "Xã Phương Độ (00946) đã kết thúc hoạt động từ 01/07/2025, trước kỳ 2026S1 "
            "(15/12/2025 - 14/06/2026); "
            "số liệu từ ngày 01/07/2025 báo cáo theo Phường Hà Giang 1 (00694)",
        ),
        (
            # 00688 Phường Quang Trung was split: 00691 (primary) and 00694.
            "00688",
            "2026S1",
            "Phường Quang Trung (00688) đã kết thúc hoạt động từ 01/07/2025, trước kỳ 2026S1 "
            "(15/12/2025 - 14/06/2026); "
            "số liệu từ ngày 01/07/2025 báo cáo theo Phường Hà Giang 2 (00691) và Phường Hà Giang 1 (00694)",
        ),
        (
            # An old department: Sở Thông tin và Truyền thông, valid until 28/02/2025, merged into
            # Sở Khoa học và Công nghệ on 01/03/2025 (Decree 45/2025, data/provincial_bodies.csv).
            "02.STTTT",
            "2025S2",
            "Sở Thông tin và Truyền thông (02.STTTT) đã kết thúc hoạt động từ 01/03/2025, trước kỳ 2025S2 "
            "(15/06/2025 - 14/12/2025); "
            "số liệu từ ngày 01/03/2025 báo cáo theo Sở Khoa học và Công nghệ (02.SKHCN)",
        ),
        (
            # A body created on 01/03/2025 (Sở Nông nghiệp và Môi trường) in 2024S2 (15/06 .. 14/12/2024).
            "02.SNNMT",
            "2024S2",
            "Sở Nông nghiệp và Môi trường (02.SNNMT) bắt đầu hoạt động từ 01/03/2025, sau kỳ 2024S2 "
            "(15/06/2024 - 14/12/2024); số liệu của kỳ này báo cáo theo đơn vị cũ: Sở Nông nghiệp và Phát "
            "triển nông thôn (02.SNNPTNT) và Sở Tài nguyên và Môi trường (02.STNMT)",
        ),
    ],
)
def test_a_unit_outside_its_validity_is_refused_naming_its_dates_and_successor(
    tmp_path, catalogue, unit, period, reason
):
    path = upload(tmp_path, [row(unit, numerator=1, denominator=2, period=period)], f"Kỳ báo cáo: {period}")
    result = validate(read_upload(path), catalogue, period)
    assert result.accepted == []
    assert result.rejected[0].reason_code == "unit_not_valid"
    assert result.rejected[0].reason_vi == reason


def test_a_new_unit_before_its_start_names_its_predecessors(tmp_path):
    catalogue = Catalogue(
        indicators=load_catalogue().indicators,
        units=(
            UnitRef("02", "Tỉnh Hà Giang", "province", date(2004, 1, 1), None),
            UnitRef("90001", "Xã Cũ A", "commune", date(2004, 1, 1), date(2025, 6, 30), "02"),
            UnitRef("90002", "Xã Cũ B", "commune", date(2004, 1, 1), date(2025, 6, 30), "02"),
            UnitRef("90009", "Xã Mới", "commune", date(2025, 7, 1), None, "02"),
        ),
        successions=(
            Succession("90001", "90009", True, date(2025, 7, 1)),
            Succession("90002", "90009", True, date(2025, 7, 1)),
        ),
    )
    path = upload(tmp_path, [row("90009", numerator=1, denominator=2)])
    result = validate(read_upload(path), catalogue, "2025S1")
    assert result.rejected[0].reason_vi == (
        "Xã Mới (90009) bắt đầu hoạt động từ 01/07/2025, sau kỳ 2025S1 (15/12/2024 - 14/06/2025)"
        "; số liệu của kỳ này báo cáo theo đơn vị cũ: "
        "Xã Cũ A (90001) và Xã Cũ B (90002)"
    )


def test_a_unit_that_existed_for_part_of_the_window_is_accepted(tmp_path, catalogue):
    # 2025S2's Decree 09 window is 15/06/2025 - 14/12/2025; 024 existed until 30/06/2025.
    path = upload(
        tmp_path,
        [row(indicator=HOUSEHOLDS, numerator=1, denominator=2, period="2025S2")],
        "Kỳ báo cáo: 2025S2",
    )
    result = validate(read_upload(path), catalogue, "2025S2")
    assert result.rejected == []
    assert [(o.unit_code, o.period_id) for o in result.accepted] == [("024", "2025S2")]
