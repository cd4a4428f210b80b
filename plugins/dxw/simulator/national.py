"""A national-scale reporting system: every commune of a country reporting through DHIS2.

The provincial simulator serves Hà Giang. This world serves the whole country the platform was
built to scale to: ``provinces`` x ``districts_per_province`` x ``communes_per_district``
communes (63 x 11 x 15 = 10,395 by default, about the number before 2025), each reporting
``indicators`` indicators (a numerator and a denominator data element each) for every half-year
from ``first_year`` to ``last_year``. The defaults give 4,158,000 commune observations (8.3 M
data values) over ten half-years.

Values are a cheap integer hash of (unit, indicator, period), so any value can be recomputed
without storing the world, and :meth:`NationalWorld.truth` gives the totals a load must
reconcile to. :meth:`NationalWorld.write_seeds` writes the matching reference data (units,
crosswalk, indicators, data elements, award rules) into a copy of the dbt project, so that the
warehouse's own models run unchanged on it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from functools import cached_property
from pathlib import Path

from dxw import catalogue
from dxw.periods import Period
from dxw.simulator.dhis2_data import CSV_HEADER, DEFAULT_COMBO, DataElement, data_set_uid
from dxw.units import dhis2_uid

VALID_FROM = "2004-01-01"
STORED_BY = "bao-cao-quoc-gia"
_MASK = (1 << 32) - 1


@dataclass(frozen=True)
class NationalUnit:
    index: int  # position among the units of its level
    code: str
    name: str
    level: str  # province | district | commune
    parent_code: str
    uid: str
    province_uid: str


@dataclass(frozen=True)
class NationalWorld:
    provinces: int = 63
    districts_per_province: int = 11
    communes_per_district: int = 15
    indicators: int = 40
    first_year: int = 2021
    last_year: int = 2025

    # ---- reference data -------------------------------------------------------------------

    @cached_property
    def units(self) -> tuple[NationalUnit, ...]:
        """Provinces, then their districts, then their communes (codes in the GSO style)."""
        units: list[NationalUnit] = []
        district_no = commune_no = 0
        for p in range(1, self.provinces + 1):
            uid = _uid(f"{p:02d}")
            province = NationalUnit(p - 1, f"{p:02d}", f"Tỉnh {p:02d}", "province", "", uid, uid)
            units.append(province)
            for _ in range(self.districts_per_province):
                district_no += 1
                code = f"{district_no:03d}"
                units.append(
                    NationalUnit(
                        district_no - 1,
                        code,
                        f"Huyện {code}",
                        "district",
                        province.code,
                        _uid(code),
                        province.uid,
                    )
                )
                for _ in range(self.communes_per_district):
                    commune_no += 1
                    ccode = f"{commune_no:05d}"
                    units.append(
                        NationalUnit(
                            commune_no - 1, ccode, f"Xã {ccode}", "commune", code, _uid(ccode), province.uid
                        )
                    )
        return tuple(units)

    @cached_property
    def communes(self) -> tuple[NationalUnit, ...]:
        return tuple(u for u in self.units if u.level == "commune")

    @cached_property
    def communes_by_province(self) -> dict[str, tuple[NationalUnit, ...]]:
        grouped: dict[str, list[NationalUnit]] = {}
        for unit in self.communes:
            grouped.setdefault(unit.province_uid, []).append(unit)
        return {uid: tuple(units) for uid, units in grouped.items()}

    @property
    def province_uids(self) -> tuple[str, ...]:
        return tuple(u.uid for u in self.units if u.level == "province")

    @cached_property
    def indicator_codes(self) -> tuple[str, ...]:
        return tuple(f"NAT_{i:02d}" for i in range(1, self.indicators + 1))

    @cached_property
    def data_elements(self) -> tuple[DataElement, ...]:
        """A numerator and a denominator data element per indicator."""
        return tuple(
            DataElement(dhis2_uid(f"de:{indicator}_{part[:3].upper()}"), f"{indicator}_{part[:3].upper()}",
                        indicator, part)
            for indicator in self.indicator_codes
            for part in ("numerator", "denominator")
        )  # fmt: skip

    def periods(self) -> list[Period]:
        return [Period(y, "halfyear", h) for y in range(self.first_year, self.last_year + 1) for h in (1, 2)]

    def holds(self, period: Period) -> bool:
        return period.kind == "halfyear" and self.first_year <= period.year <= self.last_year

    # ---- values -----------------------------------------------------------------------------

    def figures(self, commune: int, indicator: int, period: Period) -> tuple[int, int]:
        """(numerator, denominator) of a commune's indicator for a half-year: rising towards 2025."""
        step = (period.year - self.first_year) * 2 + period.number - 1
        h = ((commune + 1) * 2654435761 ^ (indicator + 1) * 40503 ^ (step + 1) * 97) & _MASK
        h = (h ^ (h >> 15)) * 2246822519 & _MASK
        denominator = 20 + h % 480
        share = min(100, 35 + step * 6 + (h >> 12) % 25)
        return denominator * share // 100, denominator

    def data_values(self, period: Period, org_unit: str | None = None) -> Iterator[tuple[str, ...]]:
        """The data values of a half-year as rows of DHIS2's CSV export (``CSV_HEADER``), for
        one province or the country."""
        if org_unit is None:
            communes = self.communes
        elif org_unit in self.communes_by_province:
            communes = self.communes_by_province[org_unit]
        else:
            raise KeyError(org_unit)
        uids = [element.uid for element in self.data_elements]  # numerator, denominator, ...
        updated = self.entered(period)
        for unit in communes:
            for i in range(self.indicators):
                for uid, number in zip(
                    uids[2 * i : 2 * i + 2], self.figures(unit.index, i, period), strict=True
                ):
                    yield (uid, period.id, unit.uid, DEFAULT_COMBO, DEFAULT_COMBO, str(number), STORED_BY,
                           updated, "", "false", "false")  # fmt: skip

    def entered(self, period: Period) -> str:
        """When every value of a half-year was entered (created and last updated): its last day."""
        return f"{period.window('calendar')[1]:%Y-%m-%d}T17:00:00.000"

    def as_json(self, period: Period, org_unit: str | None = None) -> dict:
        """DHIS2's JSON export: ``created`` and ``lastUpdated`` per value, ``followup`` a boolean."""
        return {
            "dataSet": data_set_uid(),
            "period": period.id,
            "dataValues": [
                {
                    "dataElement": de,
                    "period": pe,
                    "orgUnit": ou,
                    "categoryOptionCombo": coc,
                    "attributeOptionCombo": aoc,
                    "value": value,
                    "storedBy": stored_by,
                    "created": updated,
                    "lastUpdated": updated,
                    "comment": comment,
                    "followup": False,
                }
                for de, pe, ou, coc, aoc, value, stored_by, updated, comment, _, _ in self.data_values(
                    period, org_unit
                )
            ],
        }

    def as_csv(self, period: Period, org_unit: str | None = None) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(self.data_values(period, org_unit))
        return buffer.getvalue()

    def truth(self, period: Period) -> tuple[int, int, int]:
        """(observations, sum of numerators, sum of denominators) the half-year must reconcile to."""
        numerators = denominators = 0
        for unit in self.communes:
            for i in range(self.indicators):
                numerator, denominator = self.figures(unit.index, i, period)
                numerators += numerator
                denominators += denominator
        return len(self.communes) * self.indicators, numerators, denominators

    # ---- reference data for the dbt project ---------------------------------------------------

    def write_seeds(self, seeds_dir: Path) -> None:
        """Replace the province's reference data in a copy of the dbt project by the country's."""
        _write(
            seeds_dir / "units.csv",
            ["code", "name", "level", "unit_type", "parent_code", "valid_from", "valid_to"],
            (
                [
                    u.code,
                    u.name,
                    u.level,
                    {"province": "tinh", "district": "huyen", "commune": "xa"}[u.level],
                    u.parent_code,
                    VALID_FROM,
                    "",
                ]
                for u in self.units
            ),
        )
        _write(
            seeds_dir / "unit_crosswalk.csv",
            ["source", "source_unit_id", "unit_code", "unit_valid_from"],
            (["reporting_system", u.uid, u.code, VALID_FROM] for u in self.units),
        )
        _write(
            seeds_dir / "unit_succession.csv", ["old_code", "new_code", "is_primary", "effective_date"], ()
        )
        _write(
            seeds_dir / "dhis2_data_elements.csv",
            ["data_element_uid", "data_element_code", "name_vi", "indicator_code", "part", "data_set_uid"],
            (
                [uid, code, f"Chỉ tiêu {indicator} ({part})", indicator, part, data_set_uid()]
                for uid, code, indicator, part in map(astuple, self.data_elements)
            ),
        )
        header = catalogue.header("indicators", seeds_dir)
        rows = []
        for number, code in enumerate(self.indicator_codes, start=1):
            row = dict.fromkeys(header, "")
            row.update(
                indicator_code=code,
                name_vi=f"Chỉ tiêu quốc gia số {number}",
                name_en=f"National indicator {number}",
                levels="province|district|commune",
                numerator_definition="Numerator data element",
                denominator_definition="Denominator data element",
                unit="percent",
                comparator=">=",
                target_value="80" if number % 2 else "",
                target_levels="district|commune" if number % 2 else "",
                met_rule="met when the exact ratio meets the target" if number % 2 else "monitoring",
                target_year="2025",
                year_basis="sum_of_halfyears",
                source="reporting_system",
                catalogue_version="NATIONAL-1",
                valid_from="2021-01-01",
            )
            if not row["target_value"]:
                row["target_year"] = ""
            rows.append([row[column] for column in header])
        _write(seeds_dir / "indicators.csv", header, rows)
        header = catalogue.header("award_rules", seeds_dir)
        award = {
            "award_code": "NATIONAL_CERTIFICATE",
            "award_name_vi": "Bằng khen",
            "award_name_en": "Certificate",
            "indicator_code": self.indicator_codes[0],
            "comparator": ">=",
            "threshold": "80",
            "candidates_note": "Eligible units are proposed to the Board",
            "plan_ref": "IV.3",
            "catalogue_version": "NATIONAL-1",
            "valid_from": "2021-01-01",
        }
        _write(
            seeds_dir / "award_rules.csv",
            header,
            (
                [{**award, "unit_level": level}.get(c, "") for c in header]
                for level in ("district", "commune")
            ),
        )


def _uid(code: str) -> str:
    return dhis2_uid(f"ou:{code}@{VALID_FROM}")


def _write(path: Path, header: list[str], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
