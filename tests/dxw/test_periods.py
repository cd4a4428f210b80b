from datetime import date

import pytest

from dxw.periods import Period, PeriodError, halfyears, parse, period_of


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 6, 14), "2025S1"),
        (date(2025, 6, 15), "2025S2"),
        (date(2025, 12, 14), "2025S2"),
        (date(2025, 12, 15), "2026S1"),
        (date(2024, 12, 15), "2025S1"),
        (date(2025, 1, 1), "2025S1"),
    ],
)
def test_decree09_halfyear_boundaries(day, expected):
    assert period_of(day, "halfyear", "decree09").id == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2025, 6, 30), "2025S1"), (date(2025, 7, 1), "2025S2"), (date(2025, 12, 31), "2025S2")],
)
def test_calendar_halfyear_boundaries(day, expected):
    assert period_of(day, "halfyear", "calendar").id == expected


def test_decree09_month_and_year_cut_off():
    assert period_of(date(2025, 3, 14), "month").id == "202503"
    assert period_of(date(2025, 3, 15), "month").id == "202504"
    assert period_of(date(2025, 12, 15), "year").id == "2026"


@pytest.mark.parametrize(
    ("period_id", "convention", "window"),
    [
        ("2025S1", "decree09", (date(2024, 12, 15), date(2025, 6, 14))),
        ("2025S2", "decree09", (date(2025, 6, 15), date(2025, 12, 14))),
        ("2025", "decree09", (date(2024, 12, 15), date(2025, 12, 14))),
        ("202501", "decree09", (date(2024, 12, 15), date(2025, 1, 14))),
        ("2025Q2", "calendar", (date(2025, 4, 1), date(2025, 6, 30))),
        ("2024S1", "calendar", (date(2024, 1, 1), date(2024, 6, 30))),
        ("202402", "calendar", (date(2024, 2, 1), date(2024, 2, 29))),
    ],
)
def test_windows(period_id, convention, window):
    assert parse(period_id).window(convention) == window


def test_every_day_of_a_window_maps_back_to_its_period():
    for period_id in ("2025S1", "2025S2", "2024Q1", "202403"):
        period = parse(period_id)
        for convention in ("calendar", "decree09"):
            start, end = period.window(convention)
            assert period_of(start, period.kind, convention) == period
            assert period_of(end, period.kind, convention) == period


def test_ids_round_trip_and_sequence():
    for text in ("2025", "2025S2", "2025Q4", "202512"):
        assert parse(text).id == text
    assert parse("2025S2").next() == Period(2026, "halfyear", 1)
    assert parse("2025S1").previous().id == "2024S2"
    assert [p.id for p in halfyears("2024S2", "2025S2")] == ["2024S2", "2025S1", "2025S2"]


@pytest.mark.parametrize("bad", ["2025S3", "2025-06", "S1", "202513", ""])
def test_bad_ids_are_refused_with_an_example(bad):
    with pytest.raises(PeriodError, match="2025S1"):
        parse(bad)
