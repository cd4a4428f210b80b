"""Deterministic, plausible public-service portal statistics for every Hà Giang unit.

Figures depend only on (unit, endpoint, period), so every run of the simulator tells the same
story: fully-online provision and on-time processing improve from 2022 towards the plan's 2025
targets, at a pace of each unit's own. Across the 2025 reorganisation the portal reports as
dxw.simulator.reorganisation describes: Hà Giang's tree (root ``H02``) for what happened until 30
June 2025, the new province's (root ``H08``, no district level) from 1 July; services offered
online, a state at the cut-off, only for the units that exist then.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

from dxw.periods import Period
from dxw.simulator import reorganisation
from dxw.units import SEED_VALID_FROM, Unit, current_units, legacy_units, reporting_area_2025

FIRST_YEAR = 2022
LAST_YEAR = 2025
_NAMESPACE = uuid.UUID("5d1c8f0e-6a0b-4f4e-9d55-86a2022dc0de")


def department_id(unit: Unit) -> str:
    """The portal's opaque id for a unit (stable across runs)."""
    return str(uuid.uuid5(_NAMESPACE, unit.portal_code))


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _step(period: Period) -> float:
    """Progress through the programme: 0.0 in 2022S1 .. 1.0 in 2025S2 (year = its second half)."""
    half = 2 if period.kind == "year" else period.number
    return ((period.year - FIRST_YEAR) * 2 + half - 1) / ((LAST_YEAR - FIRST_YEAR) * 2 + 1)


def portal_units(period: Period) -> list[Unit]:
    """The agencies on the portal's trees for ``period``: those that process public-service dossiers
    and existed in its window (Hà Giang's until 30 June 2025, the new province's from 1 July)."""
    area = set(reporting_area_2025())
    new = [u for u in current_units() if u.serves_public and (u.level == "department" or u in area)]
    old = [u for u in legacy_units() if u.level != "province" and u.serves_public]
    return reorganisation.reporting_units(period, old, new)


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


def _halves(period: Period) -> list[Period]:
    if period.kind == "year":
        return [Period(period.year, "halfyear", 1), Period(period.year, "halfyear", 2)]
    return [period]


def drawn_progress(unit: Unit, period: Period) -> dict[str, int]:
    """A legacy unit's dossiers over the whole window (the simulator's truth): received,
    completed, on time, and processing days summed over the completed ones (in hundredths)."""
    received = completed = on_time = centidays = 0
    for half in _halves(period):
        base = _rng(unit.code, "progress")
        rng = _rng(unit.code, "progress", half.id)
        size = base.randint(*_SCALE[unit.level])
        h_received = max(1, round(size * (0.85 + 0.1 * _step(half)) * rng.uniform(0.9, 1.1)))
        h_completed = round(h_received * rng.uniform(0.88, 0.97))
        start = base.uniform(0.78, 0.92)
        share = min(0.995, start + (0.985 - start) * _step(half) + rng.uniform(-0.02, 0.02))
        received += h_received
        completed += h_completed
        on_time += round(h_completed * share)
        centidays += round(100 * h_completed * rng.uniform(2.0, 9.0))
    return {"received": received, "completed": completed, "on_time": on_time, "centidays": centidays}


def _reported_progress(unit: Unit, period: Period) -> dict[str, int] | None:
    if period.kind == "year":
        halves = [reorganisation.reported_counts(unit, half, drawn_progress) for half in _halves(period)]
        halves = [half for half in halves if half is not None]
        return {k: sum(half[k] for half in halves) for k in halves[0]} if halves else None
    return reorganisation.reported_counts(unit, period, drawn_progress)


def progress_row(unit: Unit, period: Period) -> dict[str, Any] | None:
    """``dvc-progress-tree``: dossiers received, completed, on time and overdue in the period."""
    counts = _reported_progress(unit, period)
    if counts is None:
        return None
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


def provide_online_row(unit: Unit, period: Period) -> dict[str, Any] | None:
    """``provide-online-tree``: services offered online (fully / partly) at the end of the period,
    by the units that exist then."""
    last = _halves(period)[-1]
    progress = progress_row(unit, period)
    if progress is None or not reorganisation.exists_at_cutoff(unit, last):
        return None
    name = _catalogue_of(unit)
    base = _rng(name, "online")
    rng = _rng(name, "online", last.id)
    # The merged communes' service lists follow the 2025 catalogue: at most 100 procedures each.
    total = base.randint(
        *(_NEW_COMMUNE_SERVICES if unit.is_current and unit.level == "commune" else _SERVICES[unit.level])
    )
    start = base.uniform(0.25, 0.6)
    goal = base.uniform(0.85, 1.0)
    full_share = min(1.0, max(0.0, start + (goal - start) * _step(last) + rng.uniform(-0.03, 0.03)))
    full = round(total * full_share)
    online = round(progress["totalReceived"] * min(0.98, 0.2 + 0.7 * _step(last) * rng.uniform(0.8, 1.1)))
    online_on_time = round(online * progress["totalOnTime"] / max(progress["totalCompleted"], 1))
    online_on_time = min(online_on_time, online)
    return {
        **_node(unit),
        "onlineServiceTotal": total,
        "fullCount": full,
        "partialCount": total - full,
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
    make_row = ENDPOINTS[endpoint]
    found = (make_row(unit, period) for unit in sorted(portal_units(period), key=lambda u: u.portal_code))
    return [row for row in found if row is not None]


ENDPOINTS = {
    "dvc-progress-tree": progress_row,
    "provide-online-tree": provide_online_row,
}
