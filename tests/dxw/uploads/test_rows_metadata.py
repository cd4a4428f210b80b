"""Period and unit from the rows when the form's header lines were removed (issue 14, point 6).

The files are CSVs as a clerk saves a form after deleting its title block: the header row first,
every row's ``Kỳ báo cáo`` and ``Mã đơn vị`` filled. Expected periods and units are read off the
rows by hand; TP Hà Giang (024) has commune 00688 Phường Quang Trung under it (units.csv).
"""

import pytest

from dxw.intake.uploads.catalogue import load_catalogue
from dxw.intake.uploads.safety import UploadError
from dxw.intake.uploads.validate import period_from_rows, unit_from_rows, validate
from dxw.intake.uploads.workbook import read_upload

HEADER = "Mã đơn vị,Mã chỉ tiêu,Kỳ báo cáo,Tử số,Mẫu số\n"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def csv_file(tmp_path, *lines: str):
    path = tmp_path / "khong-tieu-de.csv"
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return read_upload(path)


def test_rows_that_agree_give_the_period_and_the_unit(tmp_path, catalogue):
    parsed = csv_file(
        tmp_path,
        "024,DIST_DIGITAL_BUSINESSES,2025S1,85,100",
        # Excel dropped the leading zero of 024; "6 tháng đầu năm 2025" is 2025S1.
        "24,DIST_ECOMMERCE_PRODUCTS,6 tháng đầu năm 2025,3,4",
    )
    assert parsed.period_id is None  # no "Kỳ báo cáo:" line
    assert period_from_rows(parsed) == "2025S1"
    assert unit_from_rows(parsed, catalogue, "2025S1") == "024"


def test_a_district_with_its_communes_is_the_uploader(tmp_path, catalogue):
    parsed = csv_file(
        tmp_path,
        "00688,COMM_WORK_DOSSIERS_ONLINE,2025S1,7,10",
        "00688,COMM_WORK_DOSSIERS_ONLINE,2025S1,7,10",
        "024,DIST_DIGITAL_BUSINESSES,2025S1,85,100",
    )
    assert unit_from_rows(parsed, catalogue, "2025S1") == "024"


def test_rows_that_disagree_are_rejected_with_a_vietnamese_reason(tmp_path, catalogue):
    parsed = csv_file(
        tmp_path,
        "024,DIST_DIGITAL_BUSINESSES,2025S1,85,100",
        "024,DIST_ECOMMERCE_PRODUCTS,2025S1,3,4",
        "024,DIST_HOUSEHOLD_BROADBAND,2024S2,5,10",
        "026,DIST_EPAYMENT_ACCOUNTS,2025S1,5,10",
    )
    # Three rows say 2025S1 and one 2024S2; three rows 024 and one 026 (neither covers the other).
    period = period_from_rows(parsed)
    unit = unit_from_rows(parsed, catalogue, period)
    assert (period, unit) == ("2025S1", "024")
    result = validate(parsed, catalogue, period, unit)
    assert [o.indicator_code for o in result.accepted] == [
        "DIST_DIGITAL_BUSINESSES",
        "DIST_ECOMMERCE_PRODUCTS",
    ]
    assert [(r.row_no, r.reason_code, r.reason_vi) for r in result.rejected] == [
        (4, "period_mismatch", "Kỳ báo cáo của dòng (2024S2) khác kỳ của tệp (2025S1)"),
        (
            5,
            "unit_not_allowed",
            "Đơn vị '024' (Thành phố Hà Giang) không được báo cáo thay cho đơn vị '026' (Huyện Đồng Văn)",
        ),
    ]


def test_an_even_split_cannot_tell_the_period_and_is_refused(tmp_path, catalogue):
    parsed = csv_file(
        tmp_path, "024,DIST_DIGITAL_BUSINESSES,2025S1,85,100", "024,DIST_ECOMMERCE_PRODUCTS,2024S2,3,4"
    )
    with pytest.raises(UploadError) as caught:
        period_from_rows(parsed)
    assert caught.value.code == "no_period"
    assert caught.value.reason_vi.startswith(
        "Tệp không có dòng 'Kỳ báo cáo: 2025S1' ở đầu biểu mẫu và các dòng ghi kỳ báo cáo khác nhau "
        "với số dòng bằng nhau (2025S1: 1 dòng, 2024S2: 1 dòng)"
    )


def test_rows_without_a_period_give_none(tmp_path, catalogue):
    path = tmp_path / "khong-ky.csv"
    path.write_text(
        "Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n024,DIST_DIGITAL_BUSINESSES,85,100\n", encoding="utf-8"
    )
    assert period_from_rows(read_upload(path)) is None


def test_an_even_split_between_two_units_is_refused(tmp_path, catalogue):
    # 024 and 026 are two districts, neither reports for the other: no uploader can be told.
    parsed = csv_file(
        tmp_path, "024,DIST_DIGITAL_BUSINESSES,2025S1,85,100", "026,DIST_ECOMMERCE_PRODUCTS,2025S1,3,4"
    )
    with pytest.raises(UploadError) as caught:
        unit_from_rows(parsed, catalogue, "2025S1")
    assert caught.value.code == "unknown_uploader"
    assert "các dòng ghi đơn vị khác nhau với số dòng bằng nhau (024: 1 dòng, 026: 1 dòng)" in (
        caught.value.reason_vi
    )
