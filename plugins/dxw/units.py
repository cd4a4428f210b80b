"""The reporting units of Hà Giang province and their identifiers in the source systems.

Official units (province ``02``, 11 district-level and 193 commune-level units) come from the
MIT-licensed ``vietnamadminunits`` package (legacy 63-province code list). Provincial
departments, sectors and mass organisations have no GSO code: dxw gives them stable project
codes ``02.<ACRONYM>`` from ``data/provincial_bodies.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROVINCE_CODE = "02"
PORTAL_SOURCE = "public_service_portal"
_BODIES_FILE = Path(__file__).with_name("data") / "provincial_bodies.csv"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str  # province | department | district | commune
    unit_type: str  # tinh | so/nganh/doan_the | huyen/thanh_pho | xa/phuong/thi_tran
    parent_code: str | None
    serves_public: bool = True

    @property
    def portal_code(self) -> str:
        """The unit's department code on the public-service portal (``H02``, ``H02.024``...)."""
        if self.level == "province":
            return f"H{self.code}"
        if self.level == "department":
            return f"H{PROVINCE_CODE}.{self.code.split('.', 1)[1]}"
        if self.level == "district":
            return f"H{PROVINCE_CODE}.{self.code}"
        return f"H{PROVINCE_CODE}.{self.parent_code}.{self.code}"


_TYPE_CODES = {
    "Tỉnh": "tinh",
    "Thành phố": "thanh_pho",
    "Huyện": "huyen",
    "Thị xã": "thi_xa",
    "Xã": "xa",
    "Phường": "phuong",
    "Thị trấn": "thi_tran",
}


@cache
def legacy_units() -> tuple[Unit, ...]:
    """Hà Giang's units as they stood until 30 June 2025, province first, in code order."""
    from vietnamadminunits.database import query

    rows = query(
        "select province, provinceCode, district, districtCode, districtType, ward, wardCode, wardType "
        f"from admin_units_legacy where provinceCode = '{PROVINCE_CODE}' order by districtCode, wardCode"
    )
    province = Unit(PROVINCE_CODE, rows[0]["province"], "province", "tinh", None)
    bodies = []
    with _BODIES_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            bodies.append(
                Unit(
                    f"{PROVINCE_CODE}.{row['code']}",
                    row["name"],
                    "department",
                    row["body_type"],
                    PROVINCE_CODE,
                    row["serves_public"] == "true",
                )
            )
    districts: dict[str, Unit] = {}
    communes = []
    for row in rows:
        code = row["districtCode"]
        if code not in districts:
            districts[code] = Unit(
                code, row["district"], "district", _TYPE_CODES[row["districtType"]], PROVINCE_CODE
            )
        communes.append(Unit(row["wardCode"], row["ward"], "commune", _TYPE_CODES[row["wardType"]], code))
    return (province, *bodies, *districts.values(), *communes)


def by_code() -> dict[str, Unit]:
    return {unit.code: unit for unit in legacy_units()}


SEED_VALID_FROM = "2004-01-01"
# Hà Giang's units ceased on 1 July 2025 when the province merged into Tuyên Quang.
SEED_VALID_TO = "2025-06-30"


def seed_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Rows of the dbt seeds ``units.csv`` and ``unit_crosswalk.csv``."""
    units = [
        {
            "code": u.code,
            "name": u.name,
            "level": u.level,
            "unit_type": u.unit_type,
            "parent_code": u.parent_code or "",
            "valid_from": SEED_VALID_FROM,
            "valid_to": SEED_VALID_TO,
        }
        for u in legacy_units()
    ]
    crosswalk = [
        {"source": PORTAL_SOURCE, "source_unit_id": u.portal_code, "unit_code": u.code}
        for u in legacy_units()
        if u.serves_public
    ]
    return units, crosswalk


def write_seeds(seeds_dir: Path) -> list[Path]:
    """(Re)write the unit seeds of the dbt project from the registry above."""
    written = []
    for name, rows in zip(("units", "unit_crosswalk"), seed_rows(), strict=True):
        path = seeds_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written
