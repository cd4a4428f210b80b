import unicodedata
from datetime import datetime
from decimal import Decimal

import pytest

from dxw.intake.uploads.cells import (
    CellError,
    cell_text,
    fold,
    is_formula,
    is_no_data,
    is_no_data_phrase,
    is_not_achieved,
    parse_number,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("85,5", "85.5"),
        ("85,5 %", "85.5"),
        ("85,5%", "85.5"),
        ("1.234", "1234"),
        ("1.234.567", "1234567"),
        ("1 234", "1234"),
        ("1\u00a0234\u00a0567", "1234567"),
        ("1,234,567", "1234567"),
        ("1.234,5", "1234.5"),
        ("1,234.5", "1234.5"),
        ("1 234,5", "1234.5"),
        ("85.5", "85.5"),
        ("1234.567", "1234.567"),
        ("0", "0"),
        ("  42  ", "42"),
        ("-5", "-5"),
        ("+5", "5"),
        (120, "120"),
        (0.1, "0.1"),
        (85.5, "85.5"),
        (Decimal("12.50"), "12.50"),
    ],
)
def test_numbers_written_the_vietnamese_way(raw, expected):
    assert parse_number(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "expected", "why"),
    [
        ("1,234", "1.234", "a single comma is always the decimal comma"),
        ("1.234", "1234", "a dot before exactly three digits groups thousands"),
        ("85.500", "85500", "same rule: the unit wrote eighty-five thousand five hundred"),
        ("0.234", "0.234", "a leading zero cannot start a thousands group"),
        ("1234.567", "1234.567", "more than three digits before the dot: a decimal point"),
        ("1.23", "1.23", "two digits after the dot: a decimal point"),
        ("12,5", "12.5", "decimal comma"),
    ],
)
def test_ambiguous_separators_follow_the_documented_rule(raw, expected, why):
    assert parse_number(raw) == Decimal(expected), why


def test_float_from_openpyxl_is_converted_exactly():
    assert parse_number(0.1 + 0.2) == Decimal("0.30000000000000004")
    assert str(parse_number(0.1)) == "0.1"


@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0"])
def test_blank_is_missing(raw):
    assert parse_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("abc", "not_a_number"),
        ("12 người", "not_a_number"),
        ("1.23.456", "not_a_number"),
        ("12,34,567", "not_a_number"),
        ("12 34", "not_a_number"),
        (True, "not_a_number"),
        (float("nan"), "not_a_number"),
        (datetime(2025, 5, 1), "not_a_number"),
        ("=1+1", "formula"),
        ('=HYPERLINK("http://x","bấm")', "formula"),
        ("+cmd|' /C calc'!A0", "formula"),
        ("-2+3+cmd|' /C calc'!A0", "formula"),
        ("@SUM(A1:A2)", "formula"),
    ],
)
def test_anything_else_is_refused_with_a_typed_error(raw, code):
    with pytest.raises(CellError) as caught:
        parse_number(raw)
    assert caught.value.code == code
    assert caught.value.reason_vi


def test_reason_is_vietnamese_and_quotes_the_value():
    with pytest.raises(CellError, match="'abc' không phải là số"):
        parse_number("abc")
    with pytest.raises(CellError, match="ngày tháng"):
        parse_number(datetime(2025, 5, 1))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=SUM(A1:A3)", True),
        ("  =1", True),
        ("\t=1", True),
        ("+cmd|x", True),
        ("-cmd|x", True),
        ("@x", True),
        ("-5", False),
        ("+84 912 345 678", False),
        ("-", False),
        ("ghi chú", False),
        (5, False),
        (None, False),
    ],
)
def test_is_formula(raw, expected):
    assert is_formula(raw) is expected


def test_fold_is_accent_case_and_normalisation_insensitive():
    assert fold("  Mã   ĐƠN vị ") == "ma don vi"
    assert fold(nfd("Tử số")) == fold("Tử số") == "tu so"
    assert fold("\u200bKỳ  báo\ncáo\u00a0") == "ky bao cao"


def test_cell_text_renders_what_the_clerk_typed():
    assert cell_text(85.5) == "85.5"
    assert cell_text(Decimal("85.500")) == "85.5"
    assert cell_text(datetime(2025, 5, 1)) == "2025-05-01"
    assert cell_text(nfd("Huyện")) == "Huyện"
    assert cell_text(None) == ""


# Issue 14: the marks are written here by hand as a clerk types them (any case, NFC or NFD); none
# of them is a number, the explicit phrases are told apart from the short marks, and only the
# dashes and "không (có)" answer a yes/no cell with "not achieved" ("x" often ticks a box).
@pytest.mark.parametrize(
    ("text", "no_data", "phrase", "not_achieved"),
    [
        ("không có số liệu", True, True, False),
        ("Chưa có số liệu.", True, True, False),
        ("KHÔNG CÓ DỮ LIỆU", True, True, False),
        ("N/A", True, True, False),
        ("n/a", True, True, False),
        ("#N/A", True, True, False),
        ("không áp dụng", True, True, False),
        ("không có", True, False, True),
        ("Không Có", True, False, True),
        ("KHÔNG", True, False, True),
        (nfd("không có"), True, False, True),
        (nfd("Không"), True, False, True),
        ("khong co", True, False, True),
        ("-", True, False, True),
        ("—", True, False, True),
        ("x", True, False, False),
        ("X", True, False, False),
        ("có số liệu", False, False, False),
        ("xx", False, False, False),
    ],
)
def test_no_data_marks_phrases_and_not_achieved_answers(text, no_data, phrase, not_achieved):
    assert (is_no_data(text), is_no_data_phrase(text), is_not_achieved(text)) == (
        no_data,
        phrase,
        not_achieved,
    )


@pytest.mark.parametrize(
    "text", ["không có", "Không", nfd("KHÔNG CÓ"), "-", "–", "x", "N/A", "không có số liệu"]
)
def test_a_no_data_word_is_never_read_as_zero(text):
    with pytest.raises(CellError) as caught:
        parse_number(text)
    assert caught.value.code == "not_a_number"
    assert "chỉ dùng khi cả dòng không có số liệu" in caught.value.reason_vi


def test_a_no_data_phrase_is_not_a_number():
    with pytest.raises(CellError) as caught:
        parse_number("không có số liệu")
    assert caught.value.code == "not_a_number"
