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

The export format is the simulator's own rendering of DHIS2's, written from DHIS2's
documentation and its export code (``JsonDataValueSetWriter``, ``CsvDataValueSetWriter``): JSON
values carry ``created`` and ``lastUpdated`` and a boolean ``followup``, and ``deleted: true``
only on a deleted value, which is exported only with ``includeDeleted``; the CSV export has the
current header (``categoryoptioncombo``, ..., ``followup,deleted``). It never reads the
connector's idea of the format. Changes made through the write API (:class:`Changes`: DHIS2's
``DELETE /api/dataValues`` and ``POST /api/dataValueSets``) are stamped with the time they
happened, and ``lastUpdated`` / ``lastUpdatedDuration`` select the values changed since a time.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from dxw import catalogue
from dxw.periods import Period, parse
from dxw.settings import get_settings
from dxw.simulator import reorganisation, submissions
from dxw.simulator.portal_data import FIRST_YEAR, _rng, _step, holds
from dxw.simulator.upload_data import figures as uploaded_figures
from dxw.units import Unit, current_units, dhis2_uid, legacy_units

STORED_BY = "bao-cao-tinh"
# DHIS2's built-in default category option combo (every instance has this UID).
DEFAULT_COMBO = "HllvX50cXC0"
# The data set's code in the system's metadata; its UID is derived from it like every UID here.
DATA_SET_CODE = "DXW_SIXMONTHLY"
# The system's clock: a Vietnamese reporting system writes local times without an offset.
# DHIS2's CSV export header (CsvDataValueSetWriter.HEADER_ROW, 2.38 and later).
CSV_HEADER = (
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "lastupdated",
    "comment",
    "followup",
    "deleted",
)
CSV_FIELDS = (  # the value field of each CSV_HEADER column
    "dataElement",
    "period",
    "orgUnit",
    "categoryOptionCombo",
    "attributeOptionCombo",
    "value",
    "storedBy",
    "lastUpdated",
    "comment",
    "followup",
    "deleted",
)
PILOT_DISTRICT = "024"
PILOT_INDICATOR = "DIST_HOUSEHOLD_BROADBAND"
PILOT_FROM_YEAR = 2025


@dataclass(frozen=True)
class DataElement:
    uid: str
    code: str
    indicator_code: str
    part: str  # numerator | denominator


def data_set_uid() -> str:
    """The UID of the data set the system serves (the only one)."""
    return dhis2_uid(f"ds:{DATA_SET_CODE}")


@cache
def data_elements(seeds_dir: Path | None = None) -> tuple[DataElement, ...]:
    return tuple(
        DataElement(row["data_element_uid"], row["data_element_code"], row["indicator_code"], row["part"])
        for row in catalogue.rows("dhis2_data_elements", seeds_dir)
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


def data_values(
    period: Period,
    root: str | None = None,
    changes: Changes | None = None,
    since: datetime | None = None,
    include_deleted: bool = False,
) -> list[dict[str, Any]]:
    """Every data value of the data set for a half-year, as DHIS2 exports them; with ``root``
    (``orgUnit=<uid>&children=true``) only those of the org units below it. ``changes`` are the
    writes made through the API; ``since`` keeps the values changed at or after it (DHIS2's
    ``lastUpdated``); deleted values are left out unless ``include_deleted``."""
    if period.kind != "halfyear" or period.year < FIRST_YEAR:
        raise ValueError(f"the reporting system holds half-years from {FIRST_YEAR}S1")
    if not holds(period):
        return []  # DHIS2 answers an empty set for a period nobody has reported yet
    if root is not None and root not in roots():
        raise ValueError(f"orgUnit {root} is not a province of the system")
    values = _data_values(period)
    if changes is not None:
        values = changes.apply(period, values)
    if root is not None:
        below = {unit.dhis2_uid() for unit in roots()[root]}
        values = [value for value in values if value["orgUnit"] in below]
    if since is not None:
        values = [value for value in values if moment(value["lastUpdated"]) >= since]
    return [value for value in values if include_deleted or not value.get("deleted")]


def moment(stamp: str) -> datetime:
    """A stamp the system wrote (local time, no offset) as an aware time."""
    return datetime.fromisoformat(stamp).replace(tzinfo=get_settings().zone)


def stamp(moment: datetime) -> str:
    """A time as the system writes it: local, to the millisecond, without an offset."""
    local = moment.astimezone(get_settings().zone)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}"


_DURATION = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def since_of(last_updated: str | None, duration: str | None, now: datetime | None = None) -> datetime | None:
    """The time DHIS2's ``lastUpdated`` (a time stamp; without an offset, the server's) or
    ``lastUpdatedDuration`` (``<n><d|h|m|s>``: that long before now) ask for; ``lastUpdated`` wins
    when both are given, as in DHIS2's export store. A malformed one raises ValueError."""
    if last_updated:
        text = last_updated.strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=get_settings().zone)
    if duration:
        match = _DURATION.fullmatch(duration.strip())
        if not match:
            raise ValueError(f"Duration is not valid: {duration}")
        return (now or datetime.now(get_settings().zone)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    return None


STRATEGIES = ("CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE")


def import_values(changes: Changes, body: Any, strategy: str, dry_run: bool) -> dict[str, Any]:
    """``POST /api/dataValueSets``: write a data value set the way DHIS2's import does.

    Per value (DHIS2's documentation, *Import parameters*, and its importer): a value the
    system holds is updated (CREATE_AND_UPDATE, UPDATE; deleted when it is marked deleted or
    empty; ignored when it brings the number and comment already held), deleted (DELETE) or
    ignored (CREATE); a value it does not hold is imported (CREATE_AND_UPDATE, CREATE) or
    ignored. ``dryRun`` answers the same and writes nothing.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"importStrategy must be one of {STRATEGIES}")
    if not isinstance(body, dict) or not isinstance(body.get("dataValues"), list):
        raise ValueError("a data value set is an object with a dataValues list")
    inherited = {k: body[k] for k in ("period", "orgUnit") if isinstance(body.get(k), str)}
    elements = {e.uid for e in data_elements()}
    count = dict.fromkeys(("imported", "updated", "ignored", "deleted"), 0)
    conflicts = []
    for index, raw in enumerate(body["dataValues"]):
        value = {**inherited, **raw}
        if value.get("dataElement") not in elements or not value.get("orgUnit") or not value.get("period"):
            element = str(value.get("dataElement"))
            conflicts.append({"object": element, "value": "Data element not found", "indexes": [index]})
            count["ignored"] += 1
            continue
        held = changes.current(changes.key(value))
        exists = held is not None and not held.get("deleted")
        deletion = value.get("deleted") is True or str(value.get("value") or "") == ""
        if exists and strategy in ("CREATE_AND_UPDATE", "UPDATE"):
            # The number and comment it holds already: nothing changes, the value is ignored.
            same = (str(value.get("value")), value.get("comment") or "") == (
                str(held.get("value")),
                held.get("comment") or "",
            )
            outcome = "deleted" if deletion else ("ignored" if same else "updated")
        elif exists:
            outcome = "deleted" if strategy == "DELETE" else "ignored"
        else:
            creates = strategy in ("CREATE_AND_UPDATE", "CREATE")
            outcome = "imported" if creates and not deletion else "ignored"
        count[outcome] += 1
        if outcome != "ignored" and not dry_run:
            number = str(value.get("value") or (held or {}).get("value") or "")
            stored = {"storedBy": "admin", "comment": "", "followup": False, **(held or {}), **value}
            changes.write({**stored, "value": number, "deleted": outcome == "deleted"})
    return {
        "responseType": "ImportSummary",
        "status": "WARNING" if conflicts else "SUCCESS",
        "importOptions": {"importStrategy": strategy, "dryRun": dry_run},
        "importCount": count,
        "conflicts": conflicts,
    }


class Changes:
    """The writes made to the system through its API, each stamped with when it happened.

    A change replaces the generated value of its key (data element, period, org unit, combos):
    a new number, or a deletion (DHIS2 soft-deletes: the value stays, ``deleted`` true).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], dict[str, Any]] = {}

    @staticmethod
    def key(value: dict[str, Any]) -> tuple[str, ...]:
        return (
            value["dataElement"],
            value["period"],
            value["orgUnit"],
            value.get("categoryOptionCombo") or DEFAULT_COMBO,
            value.get("attributeOptionCombo") or DEFAULT_COMBO,
        )

    def current(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        """The value the system holds for a key now (deleted ones included), or None."""
        with self._lock:
            if key in self._values:
                return dict(self._values[key])
        for value in _data_values(parse(key[1])):
            if self.key(value) == key:
                return dict(value)
        return None

    def write(self, value: dict[str, Any], when: datetime | None = None) -> None:
        """Store ``value`` (a full data value, ``deleted`` for a deletion), stamped ``when`` (now)."""
        moment = stamp(when or datetime.now(get_settings().zone))
        key = self.key(value)
        previous = self.current(key)
        stored = {
            **(previous or {}),
            **value,
            "categoryOptionCombo": key[3],
            "attributeOptionCombo": key[4],
            "created": (previous or {}).get("created") or moment,
            "lastUpdated": moment,
        }
        if not stored.get("deleted"):
            stored.pop("deleted", None)
        with self._lock:
            self._values[key] = stored

    def apply(self, period: Period, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The generated values of ``period`` with the changes made to them, and the new ones."""
        with self._lock:
            changed = {k: v for k, v in self._values.items() if k[1] == period.id}
        if not changed:
            return values
        result = [changed.pop(self.key(value), value) for value in values]
        return result + [dict(v) for _, v in sorted(changed.items())]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


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
) -> list[dict[str, Any]]:
    # Entered once when the unit submits: created and last updated at the same time.
    when = f"{entered:%Y-%m-%dT%H:%M:%S}.000"
    return [
        {
            "dataElement": parts[part].uid,
            "period": period.id,
            "orgUnit": unit.dhis2_uid(),
            "categoryOptionCombo": DEFAULT_COMBO,
            "attributeOptionCombo": DEFAULT_COMBO,
            "value": str(number),
            "storedBy": STORED_BY,
            "created": when,
            "lastUpdated": when,
            "comment": "",
            "followup": False,
        }
        for part, number in (("numerator", numerator), ("denominator", denominator))
    ]


def as_json(period: Period, root: str | None = None, **selection: Any) -> dict:
    """The data value set as DHIS2's ``/api/dataValueSets.json`` returns it."""
    return {
        "dataSet": data_set_uid(),
        "period": period.id,
        "dataValues": data_values(period, root, **selection),
    }


def as_csv(period: Period, root: str | None = None, **selection: Any) -> str:
    """The data value set as DHIS2's ``/api/dataValueSets.csv`` returns it."""
    return csv_text(data_values(period, root, **selection))


def csv_text(values: list[dict[str, Any]]) -> str:
    """Data values in DHIS2's CSV export layout (booleans as ``true``/``false``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for value in values:
        row = {**value, "followup": bool(value.get("followup")), "deleted": bool(value.get("deleted"))}
        writer.writerow([str(row[f]).lower() if isinstance(row[f], bool) else row[f] for f in CSV_FIELDS])
    return buffer.getvalue()
