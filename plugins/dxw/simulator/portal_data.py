"""Deterministic, plausible public-service portal statistics for every Hà Giang unit.

The national portal's reporting API answers per calendar month, quarter or year (``timeType``
"month", "quarter", "year"); it has no half-year. The simulator's truth is monthly: each unit's
dossiers are drawn per calendar month, and its services offered online are a state per month.
A quarter or a year is assembled from its months the way the portal's own totals are: counts
summed, the state of the last month the unit existed in, derived figures (average days, ratio,
score) computed from the summed counts.

Figures depend only on (unit, endpoint, month), so every run tells the same story: fully-online
provision and on-time processing improve from 2022 towards the plan's 2025 targets, at a pace of
each unit's own. Across the 2025 reorganisation a unit reports the months it exists: Hà Giang's
tree (root ``H02``) until June 2025, with the bodies merged on 1 March 2025 (Decree 45/2025)
reporting from March; the new province's (root ``H08``, no district level) from July 2025. A unit
that absorbed others reports their business carrying on (dxw.simulator.reorganisation's
successions); the registry's changes all fall on the first of a month, so no month is split.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from dxw.periods import Period
from dxw.settings import get_settings
from dxw.simulator import reorganisation
from dxw.units import SEED_VALID_FROM, Unit, current_units, legacy_units, reporting_area_2025

FIRST_YEAR = 2022
# The programme's last year: figures improve until then and hold their level afterwards. Like a
# real source, the simulator answers for any period up to today's (:func:`holds`).
LAST_YEAR = 2025
# The province's clock decides which periods have begun.
_NAMESPACE = uuid.UUID("5d1c8f0e-6a0b-4f4e-9d55-86a2022dc0de")


def department_id(unit: Unit) -> str:
    """The portal's opaque id for a unit (stable across runs)."""
    return str(uuid.uuid5(_NAMESPACE, unit.portal_code))


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def today() -> date:
    """Today in the province (the simulated sources hold periods up to the current one)."""
    return datetime.now(get_settings().zone).date()


def holds(period: Period, on: date | None = None) -> bool:
    """Whether a source holds figures for ``period``: from 2022 until the period that is under way.

    A half-year has begun on the first day of its Decree 09 window (15 December for S1), a month,
    quarter or year on its first calendar day; a period that has not begun has no figures yet.
    """
    convention = "decree09" if period.kind == "halfyear" else "calendar"
    return period.year >= FIRST_YEAR and period.window(convention)[0] <= (on or today())


def _step(period: Period) -> float:
    """Progress through the programme by half-year: 0.0 in 2022S1 .. 1.0 in 2025S2 (year = its
    second half), then level; the other simulated sources report per half-year."""
    half = 2 if period.kind == "year" else period.number
    return min(1.0, ((period.year - FIRST_YEAR) * 2 + half - 1) / ((LAST_YEAR - FIRST_YEAR) * 2 + 1))


def portal_units(period: Period) -> list[Unit]:
    """The agencies on the portal's trees for ``period``: those that process public-service dossiers
    and existed in one of its calendar months (Hà Giang's until 30 June 2025, the new province's
    from 1 July)."""
    area = set(reporting_area_2025())
    new = [u for u in current_units() if u.serves_public and (u.level == "department" or u in area)]
    old = [u for u in legacy_units() if u.level != "province" and u.serves_public]
    months = months_of(period)
    return [u for u in (*old, *new) if any(exists_in_month(u, m) for m in months)]


def roots() -> dict[str, Unit]:
    """The roots of the portal's trees by id: Hà Giang (H02) and, from 1 July 2025, Tuyên Quang (H08)."""
    return {department_id(unit): unit for unit in (legacy_units()[0], current_units()[0])}


def _node(unit: Unit) -> dict[str, Any]:
    generation = current_units() if unit.is_current else legacy_units()
    parent = next(u for u in generation if u.code == unit.parent_code)
    return {
        "departmentId": department_id(unit),
        "departmentName": unit.name,
        "departmentCode": unit.portal_code,
        "parentId": department_id(parent),
        # Depth in the tree: the province is 1.
        "level": 2 if parent.level == "province" else 3,
    }


_SCALE = {"department": (800, 12000), "district": (3000, 15000), "commune": (150, 2500)}
_SERVICES = {"department": (40, 180), "district": (110, 160), "commune": (70, 110)}
_NEW_COMMUNE_SERVICES = (70, 100)
# Months from January 2022 to December 2025, the programme's span.
_MONTHS_SPAN = (LAST_YEAR - FIRST_YEAR + 1) * 12 - 1


def months_of(period: Period) -> list[Period]:
    """The calendar months of a month, quarter, half-year or year (the portal's windows are calendar ones)."""
    return [Period(period.year, "month", m) for m in range(period.first_month, period.last_month + 1)]


def _month_step(month: Period) -> float:
    """Progress through the programme by month: 0.0 in January 2022 .. 1.0 in December 2025, then level."""
    return min(1.0, ((month.year - FIRST_YEAR) * 12 + month.number - 1) / _MONTHS_SPAN)


def exists_in_month(unit: Unit, month: Period) -> bool:
    """Whether ``unit`` existed on some day of the calendar month (the registry's changes fall on
    the first of a month, so a unit exists either for a whole month or not at all)."""
    start, end = month.window("calendar")
    return date.fromisoformat(unit.valid_from) <= end and (
        not unit.valid_to or date.fromisoformat(unit.valid_to) >= start
    )


def drawn_progress(unit: Unit, month: Period) -> dict[str, int]:
    """A legacy unit's own dossiers in one calendar month (the simulator's truth): received,
    completed, on time, and processing days summed over the completed ones (in hundredths)."""
    base = _rng(unit.code, "progress")
    rng = _rng(unit.code, "progress", month.id)
    size = base.randint(*_SCALE[unit.level]) / 6
    received = max(1, round(size * (0.85 + 0.1 * _month_step(month)) * rng.uniform(0.85, 1.15)))
    completed = round(received * rng.uniform(0.88, 0.97))
    start = base.uniform(0.78, 0.92)
    share = min(0.995, start + (0.985 - start) * _month_step(month) + rng.uniform(-0.02, 0.02))
    return {
        "received": received,
        "completed": completed,
        "on_time": round(completed * share),
        "centidays": round(100 * completed * rng.uniform(2.0, 9.0)),
    }


def month_counts(unit: Unit, month: Period) -> dict[str, int] | None:
    """What ``unit`` reports for one calendar month; None in a month it does not exist.

    A legacy unit reports its own draw; a unit that absorbed others (Decree 45 mergers of 1 March
    2025, the new units of 1 July 2025) also reports its predecessors' business carrying on,
    recursively. A unit of the new province (from 1 July 2025) has no draw of its own: its
    activity is its predecessors'. Each month is reported once, by the unit that exists then.
    """
    if not exists_in_month(unit, month):
        return None
    return _activity(unit, month)


def _activity(unit: Unit, month: Period) -> dict[str, int]:
    total = dict.fromkeys(("received", "completed", "on_time", "centidays"), 0)
    parts = [] if unit.is_current else [drawn_progress(unit, month)]
    parts += [_activity(old, month) for old in reorganisation.direct_predecessors(unit.code, unit.valid_from)]
    for part in parts:
        for key, value in part.items():
            total[key] += value
    return total


def _progress_record(unit: Unit, counts: dict[str, int]) -> dict[str, Any]:
    received, completed, on_time = counts["received"], counts["completed"], counts["on_time"]
    return {
        **_node(unit),
        "totalReceived": received,
        "totalCompleted": completed,
        "totalOnTime": on_time,
        "totalOverdue": completed - on_time,
        "avgProcessingDays": round(counts["centidays"] / 100 / completed, 2) if completed else 0.0,
        "ratio": round(100 * on_time / completed, 2) if completed else 0.0,
        # Decision 766/QD-TTg: progress score = 20 x on-time / received.
        "score": round(20 * on_time / received, 2) if received else 0.0,
        "maxScore": 20,
    }


def _online_month(unit: Unit, month: Period) -> dict[str, int] | None:
    """``provide-online-tree`` for one month: services offered at the month's end (a state) and
    the month's online dossiers (flows)."""
    counts = month_counts(unit, month)
    if counts is None:
        return None
    name = _catalogue_of(unit)
    base = _rng(name, "online")
    rng = _rng(name, "online", month.id)
    # The merged communes' service lists follow the 2025 catalogue: at most 100 procedures each.
    total = base.randint(
        *(_NEW_COMMUNE_SERVICES if unit.is_current and unit.level == "commune" else _SERVICES[unit.level])
    )
    start = base.uniform(0.25, 0.6)
    goal = base.uniform(0.85, 1.0)
    step = _month_step(month)
    # Towards the unit's goal, never beyond it: a service is offered fully online only if it is
    # eligible for it, and the goal is the share of the unit's services that are.
    full_share = min(goal, max(0.0, start + (goal - start) * step + rng.uniform(-0.03, 0.03)))
    full = math.floor(total * full_share)
    online = round(counts["received"] * min(0.98, 0.2 + 0.7 * step * rng.uniform(0.8, 1.1)))
    online_on_time = min(online, round(online * counts["on_time"] / max(counts["completed"], 1)))
    return {
        "total": total,
        "full": full,
        "online": online,
        "online_on_time": online_on_time,
    }


def progress_row(unit: Unit, period: Period) -> dict[str, Any] | None:
    """``dvc-progress-tree``: dossiers received, completed, on time and overdue in the calendar
    month, quarter or year; a quarter or year is the sum of its months, and its derived figures
    (average days, ratio, score) are computed from the summed counts, never summed."""
    months = [c for c in (month_counts(unit, m) for m in months_of(period)) if c is not None]
    if not months:
        return None
    return _progress_record(unit, {k: sum(c[k] for c in months) for k in months[0]})


def provide_online_row(unit: Unit, period: Period) -> dict[str, Any] | None:
    """``provide-online-tree``: services offered online (fully / partly) at the end of the last
    month of the window the unit existed in (a state), and online dossiers over the window (flows)."""
    months = [o for o in (_online_month(unit, m) for m in months_of(period)) if o is not None]
    if not months:
        return None
    last = months[-1]
    online = sum(o["online"] for o in months)
    online_on_time = sum(o["online_on_time"] for o in months)
    return {
        **_node(unit),
        "onlineServiceTotal": last["total"],
        "fullCount": last["full"],
        "partialCount": last["total"] - last["full"],
        "onlineDossierCount": online,
        "onlineOnTimeSum": online_on_time,
        "onlineOverdueSum": online - online_on_time,
    }


def _catalogue_of(unit: Unit) -> str:
    """Whose catalogue of services a unit offers: a body created by a merger (1 March 2025, 1 July
    2025) carries on its first predecessor's; a merged commune has its own (keyed by code and start:
    codes were reused); every other unit its own."""
    if unit.level == "department" and unit.valid_from != SEED_VALID_FROM:
        predecessors = reorganisation.direct_predecessors(unit.code, unit.valid_from)
        if predecessors:
            return _catalogue_of(predecessors[0])
    return unit.key if unit.is_current else unit.code


def rows(endpoint: str, period: Period) -> list[dict[str, Any]]:
    """Every record of an endpoint for ``period``, in the portal's order (by department code)."""
    return [dict(row) for row in _rows(endpoint, period)]


@lru_cache(maxsize=64)
def _rows(endpoint: str, period: Period) -> tuple[dict[str, Any], ...]:
    # Every page of an answer draws the whole period: drawn once (callers get copies to edit).
    make_row = ENDPOINTS[endpoint]
    found = (make_row(unit, period) for unit in sorted(portal_units(period), key=lambda u: u.portal_code))
    return tuple(row for row in found if row is not None)


ENDPOINTS = {
    "dvc-progress-tree": progress_row,
    "provide-online-tree": provide_online_row,
}
