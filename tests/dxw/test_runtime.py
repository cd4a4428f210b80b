"""Which half-year a run works on, and when a half-year's marts are not built (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from dxw.orchestration.runtime import PeriodNotReady, check_ready, period_of_run, periods_for_run
from dxw.orchestration.timetables import HalfYearTimetable
from dxw.periods import PeriodError

TT = HalfYearTimetable()
DAG = SimpleNamespace(dag_id="semiannual_marts", timetable=TT)
ZONE = "Asia/Ho_Chi_Minh"


def manual(logical_date, interval_of, conf=None):
    interval = TT.interval_of(interval_of) if interval_of else None
    return {
        "dag": DAG,
        "dag_run": SimpleNamespace(run_type="manual"),
        "params": conf or {"period": None},
        "logical_date": logical_date,
        "data_interval_start": interval.start if interval else None,
    }


def test_cli_trigger_with_a_logical_date_is_refused_not_built_for_now():
    # `airflow dags trigger --logical-date 2025-06-15T12:00+07:00` on 1 December 2026: Airflow 3.3's
    # CLI gives the run the data interval of "now" (2026S1), not of its logical date (2025S1).
    context = manual(TT.logical_date_for("2025S1"), "2026S1")
    with pytest.raises(PeriodError) as refused:
        period_of_run(context)
    message = str(refused.value)
    assert "half-year 2025S1" in message
    assert "the data interval of 2026S1" in message
    assert """airflow dags trigger semiannual_marts --conf '{"period": "2025S1"}'""" in message


def test_manual_run_without_logical_date_or_conf_is_refused():
    with pytest.raises(PeriodError, match=r"no logical date.*--conf '\{\"period\""):
        period_of_run(manual(None, None))


def test_conf_period_wins_over_the_runs_dates():
    assert period_of_run(manual(TT.logical_date_for("2026S1"), "2026S1", {"period": "2025S1"})) == "2025S1"
    assert period_of_run(manual(None, None, {"period": "2025s2"})) == "2025S2"


def test_manual_run_for_a_half_years_logical_date_and_scheduled_runs_are_accepted():
    assert period_of_run(manual(TT.logical_date_for("2025S1"), "2025S1")) == "2025S1"
    scheduled = {**manual(None, "2025S2"), "dag_run": SimpleNamespace(run_type="scheduled")}
    assert period_of_run(scheduled) == "2025S2"


def test_a_half_year_is_not_built_before_its_cut_off():
    # 2026S2's Decree 09 window closes on 14 December 2026.
    with pytest.raises(PeriodNotReady, match=r"2026S2 has not ended: .* closes on 2026-12-14"):
        check_ready("2026S2", datetime(2026, 12, 1, 1, tzinfo=UTC), 500, ZONE)
    # 14 Dec 17:00 UTC is midnight of 15 December in the province: ended.
    check_ready("2026S2", datetime(2026, 12, 14, 17, tzinfo=UTC), 500, ZONE)
    with pytest.raises(PeriodNotReady, match="has not ended"):
        check_ready("2026S2", datetime(2026, 12, 14, 16, 59, tzinfo=UTC), 500, ZONE)


def test_a_half_year_without_data_is_not_built():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(
        PeriodNotReady, match=r"2026S1 has no data yet \(the core has no rows.*--period 2026S1"
    ):
        check_ready("2026S1", now, 0, ZONE)
    with pytest.raises(PeriodNotReady, match="core has not been built"):
        check_ready("2026S1", now, None, ZONE)
    check_ready("2026S1", now, 1, ZONE)
    with pytest.raises(PeriodNotReady, match="2026 has not ended"):  # a year ends with its S2
        check_ready("2026", now, 10, ZONE)


def test_scheduled_ingestion_pulls_half_years_the_sources_hold():
    on_20_december = datetime(2026, 12, 20, 3, tzinfo=UTC)
    # The Decree 09 half-year 2027S1 began on 15 December; the portal's months of 2027 have not.
    assert periods_for_run({}, on_20_december) == ["2026S2", "2027S1"]
    assert periods_for_run({}, on_20_december, convention="calendar") == ["2026S1", "2026S2"]
    assert periods_for_run({"period": "2025s1"}, on_20_december) == ["2025S1"]


# Scheduled runs (no conf): the half-year of the run's date in Hà Giang (UTC+7) and the one before.
# Worked out by hand from Decree 09's windows, H1 = 15 Dec .. 14 Jun and H2 = 15 Jun .. 14 Dec:
# 17:00 UTC is midnight in Hà Giang, so 14 June 16:59 UTC is still 14 June there (2025S1) and
# 17:00 UTC is 15 June (2025S2) although the UTC date is the 14th; 15 December starts the next
# year's H1. The portal counts calendar months (H1 = January .. June): 15 June is still its 2025S1.
@pytest.mark.parametrize(
    ("run_date", "convention", "expected"),
    [
        (datetime(2025, 1, 1, 3, tzinfo=UTC), "decree09", ["2024S2", "2025S1"]),
        (datetime(2025, 6, 14, 16, 59, tzinfo=UTC), "decree09", ["2024S2", "2025S1"]),
        (datetime(2025, 6, 14, 17, 0, tzinfo=UTC), "decree09", ["2025S1", "2025S2"]),
        (datetime(2025, 12, 14, 16, 59, tzinfo=UTC), "decree09", ["2025S1", "2025S2"]),
        (datetime(2025, 12, 14, 17, 0, tzinfo=UTC), "decree09", ["2025S2", "2026S1"]),
        (datetime(2025, 6, 14, 17, 0, tzinfo=UTC), "calendar", ["2024S2", "2025S1"]),
        (datetime(2025, 6, 30, 17, 0, tzinfo=UTC), "calendar", ["2025S1", "2025S2"]),
        (datetime(2025, 12, 31, 16, 59, tzinfo=UTC), "calendar", ["2025S1", "2025S2"]),
        (datetime(2025, 12, 31, 17, 0, tzinfo=UTC), "calendar", ["2025S2", "2026S1"]),
    ],
)
def test_a_scheduled_run_pulls_its_local_half_year_and_the_one_before(run_date, convention, expected):
    assert periods_for_run({}, run_date, convention=convention) == expected
