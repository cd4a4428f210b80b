"""Reporting periods: stable DHIS2-style ids and their date windows.

Ids: ``2025`` (year), ``2025S1``/``2025S2`` (half-year), ``2025Q2`` (quarter), ``202506`` (month).
Each period has two windows:

* ``calendar``: January-June, July-December, calendar quarters and months;
* ``decree09``: the data cut-off windows of Government Decree 09/2019/ND-CP, which close on the
  14th: month = 15th of the previous month .. 14th; H1 = 15 Dec .. 14 Jun; H2 = 15 Jun .. 14 Dec;
  year = 15 Dec of the previous year .. 14 Dec; a quarter ends on the 14th of its last month.

Windows are closed intervals of dates: ``start <= day <= end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from dxw.errors import InputError

Kind = Literal["year", "halfyear", "quarter", "month"]
Convention = Literal["calendar", "decree09"]
CONVENTIONS: tuple[Convention, ...] = ("calendar", "decree09")
CUTOFF_DAY = 14

_PATTERNS: list[tuple[Kind, re.Pattern[str]]] = [
    ("halfyear", re.compile(r"^(?P<year>\d{4})S(?P<n>[12])$")),
    ("quarter", re.compile(r"^(?P<year>\d{4})Q(?P<n>[1-4])$")),
    ("month", re.compile(r"^(?P<year>\d{4})(?P<n>0[1-9]|1[0-2])$")),
    ("year", re.compile(r"^(?P<year>\d{4})$")),
]
_MONTHS_PER: dict[Kind, int] = {"year": 12, "halfyear": 6, "quarter": 3, "month": 1}


class PeriodError(InputError, ValueError):
    """A period id or date that cannot be interpreted."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: Kind
    number: int  # 1-based position within the year (always 1 for a year)

    @property
    def id(self) -> str:
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "halfyear":
            return f"{self.year}S{self.number}"
        if self.kind == "quarter":
            return f"{self.year}Q{self.number}"
        return f"{self.year}{self.number:02d}"

    def __str__(self) -> str:
        return self.id

    @property
    def first_month(self) -> int:
        return (self.number - 1) * _MONTHS_PER[self.kind] + 1

    @property
    def last_month(self) -> int:
        return self.first_month + _MONTHS_PER[self.kind] - 1

    def window(self, convention: Convention = "decree09") -> tuple[date, date]:
        """First and last day (inclusive) of the period under ``convention``."""
        if convention == "calendar":
            start = date(self.year, self.first_month, 1)
            end = _add_months(start, _MONTHS_PER[self.kind]) - timedelta(days=1)
            return start, end
        if convention == "decree09":
            end = date(self.year, self.last_month, CUTOFF_DAY)
            start = _add_months(date(self.year, self.first_month, CUTOFF_DAY + 1), -1)
            return start, end
        raise PeriodError(f"unknown convention {convention!r}; use one of {CONVENTIONS}")

    def next(self) -> Period:
        per_year = 12 // _MONTHS_PER[self.kind]
        if self.number < per_year:
            return Period(self.year, self.kind, self.number + 1)
        return Period(self.year + 1, self.kind, 1)

    def previous(self) -> Period:
        if self.number > 1:
            return Period(self.year, self.kind, self.number - 1)
        return Period(self.year - 1, self.kind, 12 // _MONTHS_PER[self.kind])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def parse(period_id: str) -> Period:
    """``"2025S1"`` -> ``Period(2025, "halfyear", 1)``; raises :class:`PeriodError`."""
    text = str(period_id).strip().upper()
    for kind, pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return Period(int(match["year"]), kind, int(match.groupdict().get("n") or 1))
    raise PeriodError(
        f"unrecognised period id {period_id!r}: expected e.g. 2025 (year), 2025S1 (half-year), "
        "2025Q2 (quarter) or 202506 (month)"
    )


def period_of(day: date, kind: Kind = "halfyear", convention: Convention = "decree09") -> Period:
    """The period of ``kind`` that contains ``day`` under ``convention``."""
    if convention not in CONVENTIONS:
        raise PeriodError(f"unknown convention {convention!r}; use one of {CONVENTIONS}")
    year, month = day.year, day.month
    if convention == "decree09" and day.day > CUTOFF_DAY:
        # After the cut-off a day already counts towards the next month's window.
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    months = _MONTHS_PER[kind]
    return Period(year, kind, (month - 1) // months + 1)


def halfyears(first: str, last: str) -> list[Period]:
    """Every half-year from ``first`` to ``last`` inclusive."""
    start, end = parse(first), parse(last)
    if start.kind != "halfyear" or end.kind != "halfyear":
        raise PeriodError(f"expected half-year ids such as 2025S1, got {first!r} and {last!r}")
    if end < start:
        raise PeriodError(f"{last} comes before {first}")
    out = [start]
    while out[-1] != end:
        out.append(out[-1].next())
    return out
