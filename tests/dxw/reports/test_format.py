from decimal import Decimal

import pytest

from dxw.serving.reports import vn_change, vn_number, vn_percent


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (1234, 0, "1.234"),
        (1234567.891, 2, "1.234.567,89"),
        (Decimal("85.5"), 1, "85,5"),
        (Decimal("0.05"), 1, "0,1"),  # half up, not banker's rounding
        (Decimal("2.25"), 1, "2,3"),
        (999.96, 1, "1.000,0"),
        (-1234.5, 1, "-1.234,5"),
        (-0.004, 2, "0,00"),  # never "-0,00"
        (0, 0, "0"),
    ],
)
def test_numbers_are_written_the_vietnamese_way(value, digits, expected):
    assert vn_number(value, digits) == expected


def test_percentages_keep_a_space_before_the_sign():
    assert vn_percent(Decimal("85.5")) == "85,5 %"
    assert vn_percent(Decimal("85.07"), 2) == "85,07 %"
    assert vn_percent(100, 0) == "100 %"
    assert vn_percent(None) == "-"


def test_changes_carry_their_sign():
    assert vn_change(Decimal("6.86")) == "+6,86"
    assert vn_change(Decimal("-14.93")) == "-14,93"
    assert vn_change(0) == "0,00"
    assert vn_change(None) == ""
