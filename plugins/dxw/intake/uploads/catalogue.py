"""The indicator and unit catalogue an upload is checked against, read from the dbt seeds.

Rules:

* an indicator is reported by upload when its ``source`` is ``unit_upload``; it applies to a unit
  when the unit's level is one of its ``levels`` in the indicator's version that judges the period
  (``indicators.csv`` holds one row per version; the version valid at the end of the period's
  Decree 09 window, :mod:`dxw.catalogue_versions`), so a new plan's indicators and targets reach
  the forms of its periods only;
* a unit is identified by its code *and* the period: the 2025 reorganisation reused commune codes
  (``00691`` is Phường Trần Phú until 30 June 2025, Phường Hà Giang 2 afterwards). A unit version
  belongs to a period when its validity interval overlaps the period's Decree 09 window (the
  cut-off window the units report on: 2025S2 is 15 June .. 14 December 2025). A unit that existed
  for part of the window belongs to it (a district in 2025S2 reports its last 16 days; the marts
  mark such partial existence); when several versions of a code overlap the window (a reused code
  in 2025S2 or in the year 2025), the latest one wins;
* the 2025 succession (seed ``unit_succession``) names, for a unit that ended, the units that took
  over its reporting (the primary successor first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from dxw import catalogue, catalogue_versions, periods
from dxw.errors import InputError

UPLOAD_SOURCE = "unit_upload"
LEVELS_VI = {
    "province": "cấp tỉnh",
    "department": "cấp sở, ban, ngành",
    "district": "cấp huyện",
    "commune": "cấp xã",
}
SOURCES_VI = {
    "public_service_portal": "Cổng dịch vụ công",
    "document_management": "Hệ thống quản lý văn bản và điều hành",
    "reporting_system": "Hệ thống thông tin báo cáo",
}


class CatalogueError(InputError):
    """A unit or indicator that the catalogue does not know for the period asked."""


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    levels: tuple[str, ...]
    unit: str  # percent | flag
    comparator: str
    target_value: Decimal | None
    source: str
    valid_from: date | None = None
    catalogue_version: str = ""

    @property
    def is_upload(self) -> bool:
        """True when reporting units submit this indicator in a spreadsheet."""
        return self.source == UPLOAD_SOURCE

    @property
    def is_flag(self) -> bool:
        return self.unit == "flag"


@dataclass(frozen=True)
class UnitRef:
    code: str
    name: str
    level: str  # province | department | district | commune
    valid_from: date
    valid_to: date | None  # inclusive; None while the unit still exists
    parent_code: str | None = None

    def valid_on(self, day: date) -> bool:
        """True when the unit exists on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)

    def overlaps(self, start: date, end: date) -> bool:
        """True when the unit exists on at least one day of ``start`` .. ``end``."""
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)


@dataclass(frozen=True)
class Succession:
    old_code: str
    new_code: str
    is_primary: bool
    effective_date: date


@dataclass(frozen=True)
class Catalogue:
    indicators: tuple[Indicator, ...]
    units: tuple[UnitRef, ...]
    successions: tuple[Succession, ...] = ()
    _by_indicator: dict[str, tuple[Indicator, ...]] = field(init=False, repr=False, compare=False)
    _by_unit: dict[str, tuple[UnitRef, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        versions: dict[str, list[UnitRef]] = {}
        for unit in self.units:
            versions.setdefault(unit.code, []).append(unit)
        indicator_versions: dict[str, list[Indicator]] = {}
        for indicator in self.indicators:
            indicator_versions.setdefault(indicator.code, []).append(indicator)
        object.__setattr__(
            self,
            "_by_indicator",
            {
                code: tuple(sorted(v, key=lambda i: i.valid_from or date.min))
                for code, v in indicator_versions.items()
            },
        )
        object.__setattr__(
            self,
            "_by_unit",
            {code: tuple(sorted(v, key=lambda u: u.valid_from)) for code, v in versions.items()},
        )

    def indicator(self, code: str, period: str | periods.Period | None = None) -> Indicator | None:
        """The version of the indicator ``code`` (exact, upper-case codes) that judges ``period``
        (its latest version without one), or None."""
        versions = self._by_indicator.get(code, ())
        if period is None or not versions:
            return versions[-1] if versions else None
        found = _in_force(versions, period)
        return found[0] if found else None

    def indicator_versions(self, code: str) -> tuple[Indicator, ...]:
        """Every version of the indicator ``code``, oldest first."""
        return self._by_indicator.get(code, ())

    def unit_versions(self, code: str) -> tuple[UnitRef, ...]:
        """Every version of the unit ``code`` across reorganisations, oldest first."""
        return self._by_unit.get(code, ())

    def unit(self, code: str, period: str | periods.Period) -> UnitRef | None:
        """The version of unit ``code`` that belongs to ``period``, or None."""
        start, end = _as_period(period).window("decree09")
        matching = [u for u in self.unit_versions(code) if u.overlaps(start, end)]
        return matching[-1] if matching else None

    def unit_on(self, code: str, day: date) -> UnitRef | None:
        """The version of unit ``code`` that exists on ``day``, or None."""
        return next((u for u in self.unit_versions(code) if u.valid_on(day)), None)

    def members(self, unit: UnitRef, level: str, day: date) -> list[UnitRef]:
        """The units of ``level`` directly under ``unit`` on ``day`` (one version each)."""
        return [u for u in self.units if u.parent_code == unit.code and u.level == level and u.valid_on(day)]

    def successors(self, unit: UnitRef) -> list[UnitRef]:
        """The units that took over from ``unit`` when it ended, the primary successor first."""
        if unit.valid_to is None:
            return []
        rows = sorted(
            (s for s in self.successions if s.old_code == unit.code and s.effective_date > unit.valid_to),
            key=lambda s: (not s.is_primary, s.new_code),
        )
        return [u for s in rows if (u := self.unit_on(s.new_code, s.effective_date))]

    def predecessors(self, unit: UnitRef) -> list[UnitRef]:
        """The units that ``unit`` took over from when it started."""
        codes = sorted({s.old_code for s in self.successions if s.new_code == unit.code})
        day_before = unit.valid_from - timedelta(days=1)
        return [u for code in codes if (u := self.unit_on(code, day_before))]

    def require_unit(self, code: str, period: str | periods.Period) -> UnitRef:
        """Like :meth:`unit` but raises :class:`CatalogueError` when there is none."""
        unit = self.unit(code, period)
        if unit is None:
            raise CatalogueError(f"unit {code!r} is not in the unit list for period {_as_period(period).id}")
        return unit

    def ancestors(self, unit: UnitRef, period: str | periods.Period) -> Iterator[UnitRef]:
        """The unit's parent, grandparent... valid in ``period``."""
        seen = {unit.code}
        parent_code = unit.parent_code
        while parent_code and parent_code not in seen:
            parent = self.unit(parent_code, period)
            if parent is None:
                return
            yield parent
            seen.add(parent.code)
            parent_code = parent.parent_code

    def may_report_for(self, reporter: UnitRef, unit: UnitRef, period: str | periods.Period) -> bool:
        """True when ``reporter`` is ``unit`` itself or one of its ancestors in ``period``."""
        if reporter.code == unit.code:
            return True
        return any(a.code == reporter.code for a in self.ancestors(unit, period))

    def applicable(self, unit: UnitRef | str, period: str | periods.Period) -> list[Indicator]:
        """The upload indicators that ``unit`` reports for ``period``, in catalogue order."""
        ref = self.require_unit(unit, period) if isinstance(unit, str) else unit
        in_force = _in_force(self.indicators, period)
        return [ind for ind in in_force if ind.is_upload and ref.level in ind.levels]


def _in_force(indicators: tuple[Indicator, ...], period: str | periods.Period) -> list[Indicator]:
    """Each indicator's version that judges ``period``, in catalogue order."""
    day = catalogue_versions.cutoff(_as_period(period))
    return catalogue_versions.in_force(indicators, lambda i: i.code, lambda i: i.valid_from, day)


def _as_period(period: str | periods.Period) -> periods.Period:
    return period if isinstance(period, periods.Period) else periods.parse(period)


def _date(text: str) -> date | None:
    text = text.strip()
    return date.fromisoformat(text) if text else None


def load_catalogue(seeds_dir: Path | None = None) -> Catalogue:
    """Load the indicator, unit and unit-succession seeds from ``seeds_dir`` (default: the dbt seeds)."""
    indicators = tuple(
        Indicator(
            code=row["indicator_code"].strip(),
            name_vi=row["name_vi"].strip(),
            levels=tuple(level.strip() for level in row["levels"].split("|") if level.strip()),
            unit=row["unit"].strip(),
            comparator=row["comparator"].strip(),
            target_value=Decimal(row["target_value"]) if row["target_value"].strip() else None,
            source=row["source"].strip(),
            valid_from=_date(row.get("valid_from") or ""),
            catalogue_version=(row.get("catalogue_version") or "").strip(),
        )
        for row in catalogue.rows("indicators", seeds_dir)
    )
    units = []
    for row in catalogue.rows("units", seeds_dir):
        valid_from = _date(row["valid_from"])
        if valid_from is None:
            raise CatalogueError(f"unit {row['code']!r} in units.csv has no valid_from")
        units.append(
            UnitRef(
                code=row["code"].strip(),
                name=row["name"].strip(),
                level=row["level"].strip(),
                valid_from=valid_from,
                valid_to=_date(row["valid_to"]),
                parent_code=row["parent_code"].strip() or None,
            )
        )
    successions = tuple(
        Succession(
            old_code=row["old_code"].strip(),
            new_code=row["new_code"].strip(),
            is_primary=row["is_primary"].strip().lower() == "true",
            effective_date=date.fromisoformat(row["effective_date"].strip()),
        )
        for row in catalogue.rows("unit_succession", seeds_dir)
    )
    return Catalogue(indicators=indicators, units=tuple(units), successions=successions)
