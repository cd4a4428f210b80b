"""Deterministic aggregate data of the reporting system (DHIS2 ``dataValueSets``).

Provincial departments report, per half-year, how many of their reporting regimes and periodic
socio-economic indicators are connected to the Government Reporting Information System, and how
many of their shared information systems are connected to the national databases (Plan 86
IV.1.a). From 2025 the pilot district (III.4) also reports its households covered by broadband
infrastructure through the system, a figure it writes in its half-year upload form as well: the
warehouse receives it from two sources, and the system's value is the official one (seed
``source_precedence``). The data elements and their UIDs are the ``dhis2_data_elements`` seed.
Values carry the time the unit entered them (``lastUpdated``, dxw.simulator.submissions); a unit
that never submits has none. These are states at the half-year's cut-off, so they are reported by
the bodies that exist on it: Hà Giang's until 2025S1 (a body absorbed on 1 March 2025 no longer
reports 2025S1), the new province's from 2025S2 (dxw.simulator.reorganisation).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from dxw.periods import Period
from dxw.settings import get_settings
from dxw.simulator import reorganisation, submissions
from dxw.simulator.portal_data import FIRST_YEAR, LAST_YEAR, _rng, _step
from dxw.simulator.upload_data import figures as uploaded_figures
from dxw.sources.dhis2 import CSV_COLUMNS, DEFAULT_COMBO, FIELDS, data_set_uid
from dxw.units import Unit, current_units, legacy_units

STORED_BY = "bao-cao-tinh"
PILOT_DISTRICT = "024"
PILOT_INDICATOR = "DIST_HOUSEHOLD_BROADBAND"
PILOT_FROM_YEAR = 2025


@dataclass(frozen=True)
class DataElement:
    uid: str
    code: str
    indicator_code: str
    part: str  # numerator | denominator


@cache
def data_elements(seeds_dir: Path | None = None) -> tuple[DataElement, ...]:
    folder = seeds_dir or get_settings().dbt_project_dir / "seeds"
    with (folder / "dhis2_data_elements.csv").open(encoding="utf-8") as handle:
        return tuple(
            DataElement(row["data_element_uid"], row["data_element_code"], row["indicator_code"], row["part"])
            for row in csv.DictReader(handle)
        )


def reporting_units(period: Period) -> list[Unit]:
    """The org units that report the data set's department indicators for ``period``: the
    provincial bodies that exist at its cut-off."""
    bodies = (u for u in (*legacy_units(), *current_units()) if u.level == "department")
    return sorted((u for u in bodies if reorganisation.exists_at_cutoff(u, period)), key=lambda u: u.key)


def roots() -> dict[str, tuple[Unit, ...]]:
    """The system's top org units by UID, with the units below them: Hà Giang (until 30 June 2025)
    and the new Tuyên Quang (from 1 July 2025)."""
    return {generation[0].dhis2_uid(): generation for generation in (legacy_units(), current_units())}


def data_values(period: Period, root: str | None = None) -> list[dict[str, str]]:
    """Every data value of the data set for a half-year, as DHIS2 exports them; with ``root``
    (``orgUnit=<uid>&children=true``) only those of the org units below it."""
    if period.kind != "halfyear" or not FIRST_YEAR <= period.year <= LAST_YEAR:
        raise ValueError(f"the reporting system holds half-years {FIRST_YEAR}..{LAST_YEAR}")
    if root is not None and root not in roots():
        raise ValueError(f"orgUnit {root} is not a province of the system")
    values = _data_values(period)
    if root is None:
        return values
    below = {unit.dhis2_uid() for unit in roots()[root]}
    return [value for value in values if value["orgUnit"] in below]


def _data_values(period: Period) -> list[dict[str, str]]:
    by_indicator: dict[str, dict[str, DataElement]] = {}
    for element in data_elements():
        by_indicator.setdefault(element.indicator_code, {})[element.part] = element
    values = []
    for unit in reporting_units(period):
        # Entered when the department submits (simulator.submissions), in the server's local time.
        entered = submissions.submitted_at(unit.code, period)
        if entered is None:
            continue
        for indicator, parts in sorted(by_indicator.items()):
            if indicator == PILOT_INDICATOR:
                continue
            # A unit version's own systems: keyed by code and start (the new bodies reuse acronyms).
            name = unit.key if unit.is_current else unit.code
            base = _rng(name, "dhis2", indicator)
            rng = _rng(name, "dhis2", indicator, period.id)
            total = base.randint(4, 40)
            share = base.uniform(0.2, 0.5) + (base.uniform(0.85, 1.0) - 0.35) * _step(period)
            connected = min(total, max(0, round(total * min(1.0, share + rng.uniform(-0.03, 0.03)))))
            values.extend(_values(parts, unit, period, entered, connected, total))
    pilot_entered = submissions.submitted_at(PILOT_DISTRICT, period)
    pilot = next(u for u in legacy_units() if u.code == PILOT_DISTRICT)
    if (
        period.year >= PILOT_FROM_YEAR
        and pilot_entered is not None
        and reorganisation.exists_at_cutoff(pilot, period)
    ):
        figures = pilot_figures(period)
        values.extend(_values(by_indicator[PILOT_INDICATOR], pilot, period, pilot_entered, *figures))
    return values


def pilot_figures(period: Period) -> tuple[int, int]:
    """The pilot district's households covered and households, as the reporting system counts them.

    The system counts the same households as the district's form but 3 in 100 fewer covered
    (operators' subscriber data against the district's own survey).
    """
    covered, households = uploaded_figures(PILOT_DISTRICT, PILOT_INDICATOR, period)
    return max(0, covered - round(0.03 * households)), households


def _values(
    parts: dict[str, DataElement],
    unit: Unit,
    period: Period,
    entered: datetime,
    numerator: int,
    denominator: int,
) -> list[dict[str, str]]:
    return [
        {
            "dataElement": parts[part].uid,
            "period": period.id,
            "orgUnit": unit.dhis2_uid(),
            "categoryOptionCombo": DEFAULT_COMBO,
            "attributeOptionCombo": DEFAULT_COMBO,
            "value": str(number),
            "storedBy": STORED_BY,
            "lastUpdated": f"{entered:%Y-%m-%dT%H:%M:%S}.000",
            "comment": "",
            "followup": "false",
        }
        for part, number in (("numerator", numerator), ("denominator", denominator))
    ]


# DHIS2's CSV export layout: the same columns, in the same order, as the JSON value fields.
_CSV_FIELDS = dict(zip(CSV_COLUMNS, FIELDS, strict=True))


def as_json(period: Period, root: str | None = None) -> dict:
    """The data value set as DHIS2's ``/api/dataValueSets.json`` returns it."""
    return {"dataSet": data_set_uid(), "period": period.id, "dataValues": data_values(period, root)}


def as_csv(period: Period, root: str | None = None) -> str:
    """The data value set as DHIS2's ``/api/dataValueSets.csv`` returns it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for value in data_values(period, root):
        writer.writerow([value[_CSV_FIELDS[column]] for column in CSV_COLUMNS])
    return buffer.getvalue()
