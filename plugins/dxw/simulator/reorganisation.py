"""How the simulated sources speak across the 1 July 2025 reorganisation.

Before 1 July 2025 the sources report Hà Giang's units. From that day they report the new Tuyên
Quang's: its provincial bodies and the 73 communes formed from Hà Giang's communes (the former
Tuyên Quang's own systems are not connected to this warehouse). There is no district level any
more, so nothing is reported for a district after its end.

The 2025S2 Decree 09 window (15 June - 14 December 2025) straddles the change:

* a count of what happened in the window (dossiers received, processed, signed) is drawn once
  per old unit as its whole-window *truth*; the old unit reports its share of 15-30 June (16 of
  the window's 183 days, rounded), and the rest is reported from 1 July under its primary
  successor: a new commune reports the sum of the rest of every old commune whose primary
  successor it is (a split commune's business carries on in its primary successor), a new
  provincial body the sum of the rest of every Hà Giang body whose successions lead to it.
  Old parts plus new parts give back the truth exactly: nothing lost, nothing counted twice;
* a state at the cut-off (services offered fully online, systems connected) is reported only by
  the units that exist at the cut-off, the new ones.

The succession used here is the registry's (dxw.units), the same facts a data engineer would
write into the seeds; what a unit reports is drawn by the simulator alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

from dxw.periods import Period
from dxw.units import Unit, registry, succession_seed_rows

Counts = dict[str, int]


def _days(unit: Unit, period: Period) -> int:
    """Days of the period's Decree 09 window on which ``unit`` existed."""
    start, end = period.window("decree09")
    first = max(start, date.fromisoformat(unit.valid_from))
    last = min(end, date.fromisoformat(unit.valid_to)) if unit.valid_to else end
    return max(0, (last - first).days + 1)


def _window_days(period: Period) -> int:
    start, end = period.window("decree09")
    return (end - start).days + 1


def exists_in(unit: Unit, period: Period) -> bool:
    return _days(unit, period) > 0


def exists_at_cutoff(unit: Unit, period: Period) -> bool:
    """Whether ``unit`` exists on the period's Decree 09 cut-off (a state is reported then)."""
    _, end = period.window("decree09")
    return date.fromisoformat(unit.valid_from) <= end and (
        unit.valid_to is None or unit.valid_to >= end.isoformat()
    )


@cache
def direct_predecessors(code: str, valid_from: str) -> tuple[Unit, ...]:
    """The units of the same level whose primary successor is this unit version.

    From the registry's successions: a new commune's old communes, a new provincial body's Hà
    Giang body, the body that absorbed others on 1 March 2025 (Decree 45/2025) and those others.
    """
    versions = {(u.code, u.valid_from): u for u in registry()}
    unit = versions[(code, valid_from)]
    found = []
    for row in succession_seed_rows():
        if row["new_code"] != code or row["is_primary"] != "true":
            continue
        # The succession names a code: it means the version valid on its date (codes are reused).
        effective = row["effective_date"]
        if not unit.valid_from <= effective <= (unit.valid_to or effective):
            continue
        day_before = (date.fromisoformat(row["effective_date"]) - timedelta(days=1)).isoformat()
        found += [
            old
            for old in versions.values()
            if old.code == row["old_code"] and old.valid_to == day_before and old.level == unit.level
        ]
    return tuple(found)


def reported_counts(unit: Unit, period: Period, truth: Callable[[Unit, Period], Counts]) -> Counts | None:
    """The counts ``unit`` reports for ``period``: its part of its own truth and its predecessors' rest.

    ``truth(unit, period)`` draws a unit's counts over the whole window. A unit reports the share
    of its truth for the days it existed (rounded), plus, for each predecessor that ended inside
    the window, the rest of that predecessor's truth. A new unit (from 1 July 2025) has no truth
    of its own: its activity is its predecessors' carrying on. None when it reports nothing.
    """
    parts: list[Counts] = []
    days = _days(unit, period)
    if days and not unit.is_current:
        own = truth(unit, period)
        parts.append({k: round(v * days / _window_days(period)) for k, v in own.items()})
    for old in direct_predecessors(unit.code, unit.valid_from):
        old_days = _days(old, period)
        if 0 < old_days < _window_days(period) and exists_in(unit, period):
            drawn = truth(old, period)
            parts.append({k: v - round(v * old_days / _window_days(period)) for k, v in drawn.items()})
    if not parts and days and unit.is_current:
        # A window after the reorganisation: the new unit carries on its predecessors' business.
        inherited = _inherited_truth(unit, period, truth)
        if inherited:
            parts.append({k: round(v * days / _window_days(period)) for k, v in inherited.items()})
    if not parts:
        return None
    return {k: sum(part[k] for part in parts) for k in parts[0]}


def _inherited_truth(unit: Unit, period: Period, truth: Callable[[Unit, Period], Counts]) -> Counts | None:
    """A new unit's counts over a whole window: the sum of its predecessors' truths, recursively."""
    parts = [
        truth(old, period) if not old.is_current else _inherited_truth(old, period, truth)
        for old in direct_predecessors(unit.code, unit.valid_from)
    ]
    parts = [part for part in parts if part]
    if not parts:
        return None
    return {k: sum(part[k] for part in parts) for k in parts[0]}


def reporting_units(period: Period, old: list[Unit], new: list[Unit]) -> list[Unit]:
    """The units that report (part of) ``period``: the old ones that existed in its window and
    the new ones that did; the two lists come from the caller (which units a system knows)."""
    return [u for u in (*old, *new) if exists_in(u, period)]
