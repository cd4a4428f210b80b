"""Airflow timetable with one data interval per reporting half-year (windows from :mod:`dxw.periods`).

A run's data interval is ``[first day of the window 00:00, day after the last day 00:00)`` in the
timetable's time zone (``DXW_TIMEZONE`` unless given), so ``2025S1`` under Decree 09 is
2024-12-15 00:00 .. 2025-06-15 00:00 local time. Scheduled runs start once the window has closed,
plus an optional delay.

This module imports Airflow: in a process that has not configured Airflow yet, call
:func:`dxw.orchestration.airflow_env.apply` first. The scheduler and dag-processor only accept the
class once it is registered by the ``dxw`` plugin (``plugins/dxw_plugin.py``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, cast

import pendulum
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum.tz.exceptions import InvalidTimezone

from dxw.periods import CONVENTIONS, Convention, Period, PeriodError, parse, period_of
from dxw.settings import get_settings

_CONVENTION_SUMMARY = {
    "decree09": "Decree 09 cut-off windows",
    "calendar": "calendar Jan-Jun/Jul-Dec",
}
_CONVENTION_DESCRIPTION = {
    "decree09": "Decree 09/2019/ND-CP cut-off windows, 15 Dec-14 Jun and 15 Jun-14 Dec",
    "calendar": "calendar half-years, Jan-Jun and Jul-Dec",
}
# Manual runs are pinned to noon so that their logical date can never equal a scheduled run's
# (always 00:00, the start of a window): Airflow keeps one run per (dag_id, logical_date), and
# dag.test() deletes whatever run already holds the logical date it is given.
_MANUAL_HOUR = 12


class HalfYearTimetable(Timetable):
    """One run per reporting half-year, started when the half-year's window has closed.

    :param convention: ``"decree09"`` (cut-off windows closing on 14 Jun / 14 Dec) or ``"calendar"``.
    :param timezone: IANA name of the zone whose midnights bound the windows (default ``DXW_TIMEZONE``).
    :param delay: how long after the window closes a scheduled run starts.
    """

    periodic = True
    can_be_scheduled = True

    def __init__(
        self,
        convention: str = "decree09",
        timezone: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> None:
        if convention not in CONVENTIONS:
            raise AirflowTimetableInvalid(
                f"unknown half-year convention {convention!r}; use one of {', '.join(CONVENTIONS)}"
            )
        if delay < timedelta(0):
            raise AirflowTimetableInvalid(f"delay must not be negative, got {delay}")
        if timezone is None:
            timezone = get_settings().timezone
        try:
            self._tz = pendulum.timezone(timezone)
        except InvalidTimezone as exc:
            raise AirflowTimetableInvalid(f"unknown time zone {timezone!r}: use an IANA name") from exc
        self.convention: Convention = cast(Convention, convention)
        self.timezone = timezone
        self.delay = delay
        self.description = self._describe()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HalfYearTimetable):
            return NotImplemented
        return (self.convention, self.timezone, self.delay) == (other.convention, other.timezone, other.delay)

    def __hash__(self) -> int:
        return hash((self.convention, self.timezone, self.delay))

    def __repr__(self) -> str:
        return (
            f"HalfYearTimetable(convention={self.convention!r}, timezone={self.timezone!r}, "
            f"delay={self.delay!r})"
        )

    @property
    def summary(self) -> str:
        """Short label shown in the Airflow UI."""
        return f"Half-years ({_CONVENTION_SUMMARY[self.convention]}, {self.timezone})"

    def _describe(self) -> str:
        when = f"{_humanize(self.delay)} after the window closes" if self.delay else "when the window closes"
        return (
            f"Every half-year: {_CONVENTION_DESCRIPTION[self.convention]} "
            f"(midnight {self.timezone}); each run starts {when}"
        )

    def serialize(self) -> dict[str, Any]:
        """JSON-safe constructor arguments, stored with the serialized DAG."""
        return {
            "convention": self.convention,
            "timezone": self.timezone,
            "delay": self.delay.total_seconds(),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> HalfYearTimetable:
        """Rebuild the timetable from :meth:`serialize`'s output."""
        return cls(
            convention=data["convention"],
            timezone=data["timezone"],
            delay=timedelta(seconds=data["delay"]),
        )

    def interval_of(self, period_id: str) -> DataInterval:
        """The data interval (UTC) that covers half-year ``period_id``, e.g. ``"2025S1"``."""
        return self._interval(_halfyear(period_id))

    def period_of_interval(self, data_interval_start: datetime | None) -> str:
        """Half-year id (``"2025S1"``) of the run whose data interval starts at ``data_interval_start``.

        Raises :class:`~dxw.periods.PeriodError` unless the instant is the exact start of a window,
        so a manual run given a hand-made interval cannot silently process the wrong half-year.
        """
        if data_interval_start is None:
            # Airflow 3 lets a manual run have no logical date, and then it has no data interval.
            raise PeriodError(
                "this run has no data interval, so it has no half-year: trigger it with a logical date, "
                "e.g. HalfYearTimetable().logical_date_for('2025S1')"
            )
        period = self._period_at(data_interval_start)
        expected = self._interval(period).start
        if data_interval_start != expected:
            raise PeriodError(
                f"data interval start {data_interval_start.isoformat()} is not the start of a half-year "
                f"({self.convention}); {period.id} starts at {expected.in_timezone(self._tz).isoformat()}"
            )
        return period.id

    def logical_date_for(self, period_id: str) -> pendulum.DateTime:
        """Logical date for a manual run (``dag.test()``, REST trigger) that covers ``period_id``.

        Noon, local time, on the day after the window's last day: the first day on which the
        half-year is complete, so :meth:`infer_manual_data_interval` maps it back to ``period_id``.
        """
        end = self._interval(_halfyear(period_id)).end
        return end + timedelta(hours=_MANUAL_HOUR)

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        """The latest half-year whose window has completely ended at or before ``run_after``."""
        return self._interval(self._period_at(run_after).previous())

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The next half-year to schedule, following Airflow's own data-interval timetables.

        Without catchup, half-years that closed before the latest completed one are skipped;
        a ``start_date`` inside a window means the first run is the next whole half-year.
        """
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest)
        elif earliest is not None:
            earliest = self._align_to_next(earliest)

        if last_automated_data_interval is None:
            if earliest is None:
                return None
            start = earliest
        else:
            start = self._align_to_prev(last_automated_data_interval.end)
            if earliest is not None:
                start = max(start, earliest)
            if start <= last_automated_data_interval.start:
                # Never hand back a half-year that has already run (e.g. after a convention change).
                start = self._interval(self._period_at(start)).end

        if restriction.latest is not None and start > restriction.latest:
            return None
        interval = self._interval(self._period_at(start))
        return DagRunInfo(run_after=interval.end + self.delay, data_interval=interval)

    def _skip_to_latest(self, earliest: datetime | None) -> pendulum.DateTime:
        latest_closed = self.infer_manual_data_interval(run_after=_utcnow()).start
        if earliest is None:
            return latest_closed
        return max(latest_closed, self._align_to_next(earliest))

    def _align_to_next(self, moment: datetime) -> pendulum.DateTime:
        """``moment`` if it starts a half-year, else the start of the next one."""
        interval = self._interval(self._period_at(moment))
        return interval.start if moment == interval.start else interval.end

    def _align_to_prev(self, moment: datetime) -> pendulum.DateTime:
        """Start of the half-year that contains ``moment``."""
        return self._interval(self._period_at(moment)).start

    def _period_at(self, moment: datetime) -> Period:
        if moment.tzinfo is None:
            raise PeriodError(f"{moment.isoformat()} has no time zone; Airflow datetimes are always aware")
        return period_of(moment.astimezone(self._tz).date(), "halfyear", self.convention)

    def _interval(self, period: Period) -> DataInterval:
        first, last = period.window(self.convention)
        return DataInterval(start=self._midnight(first), end=self._midnight(last + timedelta(days=1)))

    def _midnight(self, day: date) -> pendulum.DateTime:
        return pendulum.datetime(day.year, day.month, day.day, tz=self._tz).in_timezone("UTC")


def _humanize(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count > 1 else ''}")
    return " ".join(parts)


def _utcnow() -> pendulum.DateTime:
    return pendulum.now("UTC")


def _halfyear(period_id: str) -> Period:
    period = parse(period_id)
    if period.kind != "halfyear":
        raise PeriodError(f"expected a half-year id such as 2025S1, got {period_id!r}")
    return period
