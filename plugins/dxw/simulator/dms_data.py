"""Deterministic work-dossier statistics of the document-management system (hồ sơ công việc).

Per unit and half-year: work dossiers handled, how many are secret (excluded from the plan's
ratios), how many were processed online and how many of those were also digitally signed.
Districts and communes move towards (and some past) the award thresholds of Plan 86 IV.3 at a
pace of their own, so the candidate lists have units on both sides of 80% / 60% / 70% / 50%.
Across the 2025 reorganisation the system reports as dxw.simulator.reorganisation describes: Hà
Giang's units until 30 June 2025, the new province's bodies and communes from 1 July, the
2025S2 window split between them by days.
"""

from __future__ import annotations

from typing import Any

from dxw.periods import Period
from dxw.simulator import reorganisation
from dxw.simulator.portal_data import FIRST_YEAR, _rng, _step, holds
from dxw.units import Unit, current_units, legacy_units, reporting_area_2025

_VOLUME = {"department": (900, 6000), "district": (2500, 9000), "commune": (300, 1800)}
# Where a unit's signed-online share heads by 2025S2 (low, high) by level.
_SIGNED_GOAL = {"department": (0.80, 0.98), "district": (0.68, 0.95), "commune": (0.45, 0.85)}


def org_code(unit: Unit) -> str:
    """The document-management system's identifier of a unit (``HGG-024``, ``HGG-02.SNV``)."""
    return unit.dms_code


def dms_units(period: Period) -> list[Unit]:
    """The units the system reports for ``period``: Hà Giang's bodies, districts and communes that
    existed in its window, and from 1 July 2025 the new province's bodies and the communes formed
    from Hà Giang's."""
    area = set(reporting_area_2025())
    new = [u for u in current_units() if u.level == "department" or u in area]
    return reorganisation.reporting_units(period, [u for u in legacy_units() if u.level != "province"], new)


def drawn_counts(unit: Unit, period: Period) -> dict[str, int]:
    """A legacy unit's work dossiers over the whole window (the simulator's truth): open (not
    secret) and secret dossiers, processed online, processed online and signed."""
    base = _rng(unit.code, "dms")
    rng = _rng(unit.code, "dms", period.id)
    total = round(base.randint(*_VOLUME[unit.level]) * rng.uniform(0.9, 1.1))
    secret = round(total * base.uniform(0.01, 0.05))
    open_dossiers = total - secret
    start = base.uniform(0.25, 0.5)
    goal = base.uniform(*_SIGNED_GOAL[unit.level])
    signed_share = min(0.99, max(0.0, start + (goal - start) * _step(period) + rng.uniform(-0.02, 0.02)))
    online_share = min(1.0, signed_share + base.uniform(0.02, 0.1))
    processed_online = round(open_dossiers * online_share)
    signed = min(processed_online, round(open_dossiers * signed_share))
    return {"open": open_dossiers, "secret": secret, "online": processed_online, "signed": signed}


def work_dossier_row(unit: Unit, period: Period) -> dict[str, Any] | None:
    """``work-dossier-stats``: one unit's work dossiers in a half-year (None: nothing to report)."""
    if period.kind != "halfyear" or period.year < FIRST_YEAR:
        raise ValueError(f"work-dossier statistics exist per half-year from {FIRST_YEAR}S1")
    if not holds(period):
        return None  # a half-year that has not begun has nothing to report yet
    counts = reorganisation.reported_counts(unit, period, drawn_counts)
    if counts is None:
        return None
    return {
        "orgCode": org_code(unit),
        "orgName": unit.name,
        "dossiersTotal": counts["open"] + counts["secret"],
        "dossiersSecret": counts["secret"],
        "processedOnline": counts["online"],
        "signedOnline": counts["signed"],
    }


def work_dossier_rows(period: Period) -> list[dict[str, Any]]:
    """Every unit's row for ``period``, in the system's order (by organisation code)."""
    rows = (work_dossier_row(unit, period) for unit in sorted(dms_units(period), key=org_code))
    return [row for row in rows if row is not None]
