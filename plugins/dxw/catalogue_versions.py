"""Which version of a reviewed catalogue (dbt seeds ``indicators.csv``, ``award_rules.csv``) applies
to a period: the rule of ``dbt_project/macros/catalogue_version.sql``, for the Python readers of the
seeds (the upload forms, the reports).

A plan is data: a new plan adds rows under its own ``catalogue_version`` and ``valid_from``; a row
is a version of its key valid until the day before the key's next version. A period is judged by
the version valid on the last day of its Decree 09 window (its reporting cut-off): 2026S1 (15 Dec
2025 - 14 Jun 2026) by a plan valid from 1 January 2026, 2025S2 (cut-off 14 Dec 2025) by Plan 86.
Before a key's first version the key does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

from dxw import periods

Row = TypeVar("Row")


def cutoff(period: str | periods.Period) -> date:
    """The day whose catalogue version judges ``period``: the end of its Decree 09 window."""
    parsed = period if isinstance(period, periods.Period) else periods.parse(period)
    return parsed.window("decree09")[1]


def in_force(
    rows: Iterable[Row], key: Callable[[Row], object], valid_from: Callable[[Row], date | None], day: date
) -> list[Row]:
    """Of catalogue ``rows``, the version of each key in force on ``day`` (the latest version
    starting on or before it), in the order the keys first appear; a key whose first version
    starts after ``day`` is left out. A row without ``valid_from`` is in force from the start."""
    chosen: dict[object, tuple[date, Row] | None] = {}
    for row in rows:
        start = valid_from(row) or date.min
        current = chosen.setdefault(key(row), None)
        if start <= day and (current is None or start >= current[0]):
            chosen[key(row)] = (start, row)
    return [version[1] for version in chosen.values() if version is not None]
