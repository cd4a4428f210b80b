"""Deterministic, plausible public-service portal statistics for every Hà Giang unit.

Figures depend only on (unit, endpoint, period), so every run of the simulator tells the same
story: fully-online provision and on-time processing improve from 2022 towards the plan's 2025
targets, at a pace of each unit's own.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

from dxw.periods import Period
from dxw.units import Unit, legacy_units

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


def portal_units() -> list[Unit]:
    """The agencies that process public-service dossiers and so appear on the portal."""
    return [u for u in legacy_units() if u.level != "province" and u.serves_public]


def root_department_id() -> str:
    return department_id(legacy_units()[0])


def _node(unit: Unit) -> dict[str, Any]:
    parent = next(u for u in legacy_units() if u.code == unit.parent_code)
    return {
        "departmentId": department_id(unit),
        "departmentName": unit.name,
        "departmentCode": unit.portal_code,
        "parentId": department_id(parent),
        "level": {"department": 2, "district": 2, "commune": 3}[unit.level],
    }


_SCALE = {"department": (800, 12000), "district": (3000, 15000), "commune": (150, 2500)}
_SERVICES = {"department": (40, 180), "district": (110, 160), "commune": (70, 110)}


def _halves(period: Period) -> list[Period]:
    if period.kind == "year":
        return [Period(period.year, "halfyear", 1), Period(period.year, "halfyear", 2)]
    return [period]


def progress_row(unit: Unit, period: Period) -> dict[str, Any]:
    """``dvc-progress-tree``: dossiers received, completed, on time and overdue in the period."""
    received = completed = on_time = 0
    days_weighted = 0.0
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
        days_weighted += h_completed * rng.uniform(2.0, 9.0)
    return {
        **_node(unit),
        "totalReceived": received,
        "totalCompleted": completed,
        "totalOnTime": on_time,
        "totalOverdue": completed - on_time,
        "avgProcessingDays": round(days_weighted / completed, 2) if completed else 0.0,
        "ratio": round(100 * on_time / completed, 2) if completed else 0.0,
        # Decision 766/QD-TTg: progress score = 20 x on-time / received.
        "score": round(20 * on_time / received, 2),
        "maxScore": 20,
    }


def provide_online_row(unit: Unit, period: Period) -> dict[str, Any]:
    """``provide-online-tree``: services offered online (fully / partly) at the end of the period."""
    last = _halves(period)[-1]
    base = _rng(unit.code, "online")
    rng = _rng(unit.code, "online", last.id)
    total = base.randint(*_SERVICES[unit.level])
    start = base.uniform(0.25, 0.6)
    goal = base.uniform(0.85, 1.0)
    full_share = min(1.0, max(0.0, start + (goal - start) * _step(last) + rng.uniform(-0.03, 0.03)))
    full = round(total * full_share)
    progress = progress_row(unit, period)
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


ENDPOINTS = {
    "dvc-progress-tree": progress_row,
    "provide-online-tree": provide_online_row,
}
