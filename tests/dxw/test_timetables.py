"""HalfYearTimetable: half-year data intervals, scheduling, manual runs and (de)serialization."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DataInterval, TimeRestriction

from dxw.orchestration import timetables
from dxw.orchestration.timetables import HalfYearTimetable
from dxw.periods import PeriodError, halfyears

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def covers(interval: DataInterval, moment: datetime) -> bool:
    return interval.start <= moment < interval.end


def test_decree09_interval_is_15_december_to_15_june_local_midnight():
    interval = HalfYearTimetable().interval_of("2025S1")
    assert interval == DataInterval(local(2024, 12, 15), local(2025, 6, 15))
    # Midnight in Hanoi is 17:00 UTC the day before: the stored datetimes are UTC.
    assert interval.start == utc(2024, 12, 14, 17)
    assert interval.end == utc(2025, 6, 14, 17)
    assert interval.start.utcoffset() == timedelta(0)


def test_14_and_15_june_fall_in_different_halfyears():
    tt = HalfYearTimetable()
    h1, h2 = tt.interval_of("2025S1"), tt.interval_of("2025S2")
    last_minute_of_14_june = local(2025, 6, 14, 23, 59)
    first_minute_of_15_june = local(2025, 6, 15, 0, 0)
    assert covers(h1, last_minute_of_14_june)
    assert not covers(h2, last_minute_of_14_june)
    assert covers(h2, first_minute_of_15_june)
    assert not covers(h1, first_minute_of_15_june)
    assert h1.end == h2.start


def test_14_and_15_december_fall_in_different_halfyears():
    tt = HalfYearTimetable()
    assert covers(tt.interval_of("2025S2"), local(2025, 12, 14, 23, 59))
    assert covers(tt.interval_of("2026S1"), local(2025, 12, 15))
    assert tt.interval_of("2026S1").start == utc(2025, 12, 14, 17)


def test_calendar_convention_splits_30_june_from_1_july():
    tt = HalfYearTimetable(convention="calendar")
    h1, h2 = tt.interval_of("2025S1"), tt.interval_of("2025S2")
    assert h1 == DataInterval(local(2025, 1, 1), local(2025, 7, 1))
    assert h2 == DataInterval(local(2025, 7, 1), local(2026, 1, 1))
    assert covers(h1, local(2025, 6, 30, 23, 59))
    assert covers(h2, local(2025, 7, 1))
    assert h2.end == utc(2025, 12, 31, 17)


def test_period_of_interval_names_the_halfyear_of_a_run():
    tt = HalfYearTimetable()
    assert tt.period_of_interval(utc(2024, 12, 14, 17)) == "2025S1"
    assert tt.period_of_interval(local(2025, 6, 15)) == "2025S2"
    assert HalfYearTimetable(convention="calendar").period_of_interval(local(2025, 7, 1)) == "2025S2"


def test_period_of_interval_rejects_a_start_that_is_not_a_window_start():
    with pytest.raises(PeriodError, match=r"not the start of a half-year.*2025S1 starts at 2024-12-15T00:00"):
        HalfYearTimetable().period_of_interval(local(2025, 1, 1))
    # Midnight UTC is 07:00 in Hanoi: a UTC-midnight interval is not a half-year either.
    with pytest.raises(PeriodError):
        HalfYearTimetable().period_of_interval(utc(2024, 12, 15))
    with pytest.raises(PeriodError, match="no data interval"):
        HalfYearTimetable().period_of_interval(None)


def test_catchup_schedules_the_next_halfyear_after_the_last_one():
    tt = HalfYearTimetable()
    info = tt.next_dagrun_info(
        last_automated_data_interval=tt.interval_of("2025S1"),
        restriction=TimeRestriction(earliest=local(2020, 12, 15), latest=None, catchup=True),
    )
    assert info is not None
    assert info.data_interval == DataInterval(utc(2025, 6, 14, 17), utc(2025, 12, 14, 17))
    assert info.run_after == utc(2025, 12, 14, 17)
    assert info.logical_date == utc(2025, 6, 14, 17)


def test_first_run_starts_at_the_first_whole_halfyear_after_start_date():
    tt = HalfYearTimetable()

    def first(start_date: datetime):
        info = tt.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=start_date, latest=None, catchup=True),
        )
        assert info is not None
        return info.data_interval

    assert first(local(2024, 12, 15)) == tt.interval_of("2025S1")
    # A start date inside a window does not produce a partial half-year.
    assert first(local(2025, 1, 1)) == tt.interval_of("2025S2")
    assert first(local(2024, 12, 15, 0, 1)) == tt.interval_of("2025S2")


def test_catchup_walks_every_halfyear_up_to_end_date():
    tt = HalfYearTimetable()
    restriction = TimeRestriction(earliest=local(2023, 12, 15), latest=local(2025, 6, 15), catchup=True)
    periods, info = [], None
    while info := tt.next_dagrun_info(
        last_automated_data_interval=info.data_interval if info else None, restriction=restriction
    ):
        periods.append(tt.period_of_interval(info.data_interval.start))
    assert periods == ["2024S1", "2024S2", "2025S1", "2025S2"]


def test_no_start_date_and_catchup_means_no_scheduled_run():
    info = HalfYearTimetable().next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(None, None, catchup=True)
    )
    assert info is None


def test_without_catchup_only_the_latest_closed_halfyear_runs(monkeypatch):
    tt = HalfYearTimetable()
    monkeypatch.setattr(timetables, "_utcnow", lambda: local(2025, 9, 1))
    restriction = TimeRestriction(earliest=local(2020, 12, 15), latest=None, catchup=False)

    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    assert first.data_interval == tt.interval_of("2025S1")
    assert first.run_after == local(2025, 6, 15)

    after_a_long_pause = tt.next_dagrun_info(
        last_automated_data_interval=tt.interval_of("2023S1"), restriction=restriction
    )
    assert after_a_long_pause is not None
    assert after_a_long_pause.data_interval == tt.interval_of("2025S1")

    up_to_date = tt.next_dagrun_info(
        last_automated_data_interval=tt.interval_of("2025S1"), restriction=restriction
    )
    assert up_to_date is not None
    assert up_to_date.data_interval == tt.interval_of("2025S2")
    assert up_to_date.run_after == local(2025, 12, 15)


def test_without_catchup_a_future_start_date_wins(monkeypatch):
    tt = HalfYearTimetable()
    monkeypatch.setattr(timetables, "_utcnow", lambda: local(2025, 9, 1))
    info = tt.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=local(2026, 1, 10), latest=None, catchup=False),
    )
    assert info is not None
    assert info.data_interval == tt.interval_of("2026S2")


def test_end_date_before_the_next_halfyear_stops_scheduling():
    tt = HalfYearTimetable()
    info = tt.next_dagrun_info(
        last_automated_data_interval=tt.interval_of("2025S1"),
        restriction=TimeRestriction(earliest=local(2024, 12, 15), latest=local(2025, 6, 1), catchup=True),
    )
    assert info is None


def test_delay_shifts_the_run_but_not_the_interval():
    tt = HalfYearTimetable(delay=timedelta(days=10, hours=6))
    info = tt.next_dagrun_info(
        last_automated_data_interval=tt.interval_of("2024S2"),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info is not None
    assert info.data_interval == DataInterval(local(2024, 12, 15), local(2025, 6, 15))
    assert info.run_after == local(2025, 6, 25, 6)


@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        (local(2025, 6, 15), "2025S1"),
        (local(2025, 6, 14, 23, 59), "2024S2"),
        (local(2025, 9, 1), "2025S1"),
        (local(2025, 12, 15), "2025S2"),
        (utc(2025, 12, 14, 17), "2025S2"),
        (utc(2025, 12, 14, 16), "2025S1"),
    ],
)
def test_manual_run_covers_the_latest_completed_halfyear(run_after, expected):
    tt = HalfYearTimetable()
    assert tt.infer_manual_data_interval(run_after=run_after) == tt.interval_of(expected)


def test_manual_inference_ignores_the_scheduling_delay():
    tt = HalfYearTimetable(delay=timedelta(days=30))
    assert tt.infer_manual_data_interval(run_after=local(2025, 6, 16)) == tt.interval_of("2025S1")


@pytest.mark.parametrize("convention", ["decree09", "calendar"])
def test_logical_date_for_round_trips_every_halfyear(convention):
    tt = HalfYearTimetable(convention=convention)
    scheduled_logical_dates = {tt.interval_of(p.id).start for p in halfyears("2021S1", "2027S2")}
    for period in halfyears("2022S1", "2026S2"):
        logical_date = tt.logical_date_for(period.id)
        interval = tt.infer_manual_data_interval(run_after=logical_date)
        assert interval == tt.interval_of(period.id)
        assert tt.period_of_interval(interval.start) == period.id
        # dag.test() replaces any run holding the same logical date: never a scheduled run's.
        assert logical_date not in scheduled_logical_dates


def test_logical_date_for_is_noon_on_the_first_day_after_the_window():
    assert HalfYearTimetable().logical_date_for("2025S1") == local(2025, 6, 15, 12)
    assert HalfYearTimetable(convention="calendar").logical_date_for("2025S2") == local(2026, 1, 1, 12)
    with pytest.raises(PeriodError, match="half-year"):
        HalfYearTimetable().logical_date_for("2025Q1")


def test_other_time_zone_moves_the_boundaries():
    tt = HalfYearTimetable(timezone="UTC")
    assert tt.interval_of("2025S1") == DataInterval(utc(2024, 12, 15), utc(2025, 6, 15))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"convention": "fiscal"}, "unknown half-year convention 'fiscal'"),
        ({"timezone": "Asia/Hanoi_City"}, "unknown time zone"),
        ({"delay": timedelta(days=-1)}, "must not be negative"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, message):
    with pytest.raises(AirflowTimetableInvalid, match=message):
        HalfYearTimetable(**kwargs)


def test_serialize_round_trip_is_json_safe():
    tt = HalfYearTimetable(convention="calendar", timezone="Asia/Bangkok", delay=timedelta(days=3))
    data = json.loads(json.dumps(tt.serialize()))
    assert data == {"convention": "calendar", "timezone": "Asia/Bangkok", "delay": 259200.0}
    restored = HalfYearTimetable.deserialize(data)
    assert restored == tt
    assert restored.interval_of("2025S2") == tt.interval_of("2025S2")
    assert restored != HalfYearTimetable()


def test_summary_and_description():
    tt = HalfYearTimetable()
    assert tt.summary == "Half-years (Decree 09 cut-off windows, Asia/Ho_Chi_Minh)"
    assert "15 Dec-14 Jun" in tt.description
    calendar = HalfYearTimetable(convention="calendar", delay=timedelta(days=2, hours=1))
    assert calendar.summary == "Half-years (calendar Jan-Jun/Jul-Dec, Asia/Ho_Chi_Minh)"
    assert calendar.description.endswith("each run starts 2 days 1 hour after the window closes")
    assert tt.periodic
    assert tt.can_be_scheduled


def test_plugin_registers_the_timetable():
    from airflow import plugins_manager

    module = importlib.import_module("dxw_plugin")
    assert module.DxwPlugin.name == "dxw"
    assert HalfYearTimetable in module.DxwPlugin.timetables
    registered = plugins_manager.get_timetables_plugins()
    assert registered["dxw.orchestration.timetables.HalfYearTimetable"] is HalfYearTimetable


def test_dag_with_the_timetable_survives_serialization():
    from airflow.sdk import DAG, task
    from airflow.serialization.serialized_objects import DagSerialization

    timetable = HalfYearTimetable(delay=timedelta(days=5))
    with DAG(
        "halfyear_probe",
        schedule=timetable,
        start_date=local(2024, 12, 15),
        catchup=True,
    ) as dag:

        @task
        def noop() -> None:
            """Nothing: the DAG only needs a task to be valid."""

        noop()

    stored = json.loads(json.dumps(DagSerialization.to_dict(dag)))
    assert stored["dag"]["timetable"]["__type"] == "dxw.orchestration.timetables.HalfYearTimetable"
    restored = DagSerialization.from_dict(stored)
    assert restored.timetable == timetable
    assert restored.timetable is not timetable

    first = restored.next_dagrun_info(last_automated_run_info=None)
    assert first is not None
    assert first.data_interval == DataInterval(local(2024, 12, 15), local(2025, 6, 15))
    assert first.run_after == local(2025, 6, 20)


def test_a_timetable_no_plugin_lists_cannot_be_serialized():
    from airflow.exceptions import SerializationError
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    class UnregisteredHalfYears(HalfYearTimetable):
        """Same behaviour, but no plugin lists it."""

    with DAG("unregistered_probe", schedule=UnregisteredHalfYears(), start_date=local(2024, 12, 15)) as dag:
        pass
    with pytest.raises(SerializationError, match=r"UnregisteredHalfYears' is not registered"):
        DagSerialization.to_dict(dag)
