"""The reporting units of Hà Giang province and their identifiers in the source systems.

Official units come from the MIT-licensed ``vietnamadminunits`` package:

* legacy units (63-province code list, valid until 30 June 2025): province ``02``, 11 district-level
  and 193 commune-level units. Provincial departments, sectors and mass organisations have no GSO
  code: dxw gives them stable project codes ``02.<ACRONYM>`` from ``data/provincial_bodies.csv``;
* current units (34-province code list, valid from 1 July 2025): Hà Giang merged into Tuyên Quang
  (province ``08``), the district level was abolished and communes were merged into 124 commune-level
  units directly under the province;
* the old-to-new mapping between the two, from the package's 2025 converter data.

The 2025 code list reuses legacy commune codes for different (merged) units: ``00691`` is Phường
Trần Phú until 30 June 2025 and Phường Hà Giang 2 afterwards. A unit is therefore identified by its
code *and* its validity interval, and the seeds carry both.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROVINCE_CODE = "02"
PORTAL_SOURCE = "public_service_portal"
DMS_SOURCE = "document_management"
REPORTING_SOURCE = "reporting_system"
UPLOAD_SOURCE = "unit_upload"
_BODIES_FILE = Path(__file__).with_name("data") / "provincial_bodies.csv"

# Tuyên Quang's code in the 2025 list; Hà Giang was merged into it on 1 July 2025.
NEW_PROVINCE_CODE = "08"
REORGANISATION_DATE = "2025-07-01"
# The 2025 reorganisation left Tuyên Quang with 124 commune-level units: a different count means the
# package data changed under us, and the mapping must be reviewed before it is used.
NEW_COMMUNE_COUNT = 124


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str  # province | department | district | commune
    unit_type: str  # tinh | so/nganh/doan_the | huyen/thanh_pho | xa/phuong/thi_tran/dac_khu
    parent_code: str | None
    serves_public: bool = True

    @property
    def dms_code(self) -> str:
        """The unit's identifier in the document-management system (``HGG-024``, ``HGG-02.SNV``)."""
        return f"HGG-{self.code}"

    def dhis2_uid(self, valid_from: str) -> str:
        """The unit's org-unit UID in the reporting system (DHIS2 style: a letter and 10 alphanumerics).

        A UID names one version of a unit, so it is derived from the code and the version's start.
        """
        return dhis2_uid(f"ou:{self.code}@{valid_from}")

    @property
    def portal_code(self) -> str:
        """The unit's department code on the public-service portal (``H02``, ``H02.024``...).

        Only legacy Hà Giang units have one: the portal's codes for the post-2025 units are not
        known yet, and deriving them from the legacy pattern would produce wrong identifiers.
        """
        if self.code == NEW_PROVINCE_CODE or self.parent_code == NEW_PROVINCE_CODE:
            raise ValueError(f"no portal code is known for post-2025 unit {self.code} {self.name}")
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
    "Đặc khu": "dac_khu",
}


@cache
def _package_data_dir() -> Path:
    """The ``data`` directory of ``vietnamadminunits``, located without importing the package.

    Importing it loads its parser and converter (shapely, geopy, large JSON files); dxw only needs
    the data files.
    """
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or spec.origin is None:
        raise RuntimeError("the vietnamadminunits package is not installed")
    return Path(spec.origin).with_name("data")


def _query(sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of the package's ``dataset.db`` as dicts.

    The package's own ``database.query()`` takes no parameters, so dxw opens the database itself
    (read-only) to bind them.
    """
    uri = f"{(_package_data_dir() / 'dataset.db').as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql, params)]


@cache
def legacy_units() -> tuple[Unit, ...]:
    """Hà Giang's units as they stood until 30 June 2025, province first, in code order."""
    rows = _query(
        "select province, provinceCode, district, districtCode, districtType, ward, wardCode, wardType "
        "from admin_units_legacy where provinceCode = ? order by districtCode, wardCode",
        (PROVINCE_CODE,),
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
    """Legacy units by code (codes are unique within one generation, not across both)."""
    return {unit.code: unit for unit in legacy_units()}


@cache
def current_units() -> tuple[Unit, ...]:
    """Tuyên Quang's units from 1 July 2025: the province first, then its 124 communes in code order.

    Provincial bodies of the merged province are not listed: dxw has no official list of them yet.
    """
    rows = _query(
        "select province, ward, wardCode, wardType from admin_units where provinceCode = ? order by wardCode",
        (NEW_PROVINCE_CODE,),
    )
    if len(rows) != NEW_COMMUNE_COUNT:
        raise RuntimeError(
            f"vietnamadminunits lists {len(rows)} commune-level units in province {NEW_PROVINCE_CODE}, "
            f"expected {NEW_COMMUNE_COUNT}: review the 2025 mapping before using this package version"
        )
    province = Unit(NEW_PROVINCE_CODE, rows[0]["province"], "province", "tinh", None)
    communes = [
        Unit(row["wardCode"], row["ward"], "commune", _TYPE_CODES[row["wardType"]], NEW_PROVINCE_CODE)
        for row in rows
    ]
    return (province, *communes)


def _successors() -> dict[str, list[tuple[str, bool]]]:
    """Legacy Hà Giang commune code -> [(new commune code, is primary)], from the converter data.

    The package's converter keys old communes by ``<provinceKey>_<districtKey>_<wardKey>`` and new
    ones by ``wardKey`` within the new province. Most old communes went whole into one new unit
    (``DICT_PROVINCE_WARD_NO_DIVIDED``); the others were split (``DICT_PROVINCE_WARD_DIVIDED``), and
    the converter's ``isDefaultNewWard`` marks the part an address without a street is converted
    to: dxw takes that one as the primary successor. Any gap or ambiguity fails loudly.
    """
    with (_package_data_dir() / "converter_2025.json").open(encoding="utf-8") as handle:
        converter = json.load(handle)
    legacy = _query(
        "select provinceKey, districtKey, wardKey, wardCode from admin_units_legacy where provinceCode = ?",
        (PROVINCE_CODE,),
    )
    current = _query(
        "select provinceKey, wardKey, wardCode from admin_units where provinceCode = ?", (NEW_PROVINCE_CODE,)
    )
    new_codes = {row["wardKey"]: row["wardCode"] for row in current}
    new_province_key = current[0]["provinceKey"]
    old_province_key = legacy[0]["provinceKey"]
    targets = [new for new, olds in converter["DICT_PROVINCE"].items() if old_province_key in olds]
    if targets != [new_province_key]:
        raise RuntimeError(f"converter maps {old_province_key} to {targets}, not {new_province_key}")

    whole: dict[str, list[str]] = {}
    for new_key, old_keys in converter["DICT_PROVINCE_WARD_NO_DIVIDED"][new_province_key].items():
        for old_key in old_keys:
            whole.setdefault(old_key, []).append(new_key)
    divided = converter["DICT_PROVINCE_WARD_DIVIDED"].get(new_province_key, {})
    successors: dict[str, list[tuple[str, bool]]] = {}
    for row in legacy:
        old_key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        parts = [(new_key, True) for new_key in whole.get(old_key, [])]
        parts += [(part["newWardKey"], bool(part["isDefaultNewWard"])) for part in divided.get(old_key, [])]
        if not parts or sum(is_primary for _, is_primary in parts) != 1:
            raise RuntimeError(f"converter data has no single primary successor for {old_key}: {parts}")
        successors[row["wardCode"]] = [(new_codes[new_key], is_primary) for new_key, is_primary in parts]
    return successors


@cache
def _reorganisation_2025() -> tuple[dict[str, Any], ...]:
    current = {unit.code: unit for unit in current_units()}
    new_province = current[NEW_PROVINCE_CODE]
    successors = _successors()
    rows = []
    for old in legacy_units():
        if old.level == "department":
            continue
        if old.level in ("province", "district"):
            rows.append(_mapping_row(old, new_province, is_primary=True))
            continue
        # Primary successor first, then the other parts in code order.
        parts = sorted(successors[old.code], key=lambda part: (not part[1], part[0]))
        rows.extend(_mapping_row(old, current[code], is_primary) for code, is_primary in parts)
    return tuple(rows)


def _mapping_row(old: Unit, new: Unit, is_primary: bool) -> dict[str, Any]:
    return {
        "old_code": old.code,
        "old_name": old.name,
        "new_code": new.code,
        "new_name": new.name,
        "is_primary": is_primary,
    }


def reorganisation_2025() -> list[dict[str, Any]]:
    """The old-to-new mapping of Hà Giang's units on 1 July 2025.

    One row per (legacy unit, new unit) pair with keys old_code, old_name, new_code, new_name and
    is_primary: the legacy province ``02`` and each legacy district map to the new province ``08``
    (their level disappeared or merged); each of the 193 legacy communes maps to the new commune it
    became part of, or to several when it was split, exactly one of them primary. Provincial bodies
    (``02.<ACRONYM>``) are left out: their successors in the merged province are not in the package
    and are not guessed here. Rows come in legacy order (province, districts, communes), the
    primary successor first.
    """
    return [dict(row) for row in _reorganisation_2025()]


SEED_VALID_FROM = "2004-01-01"
# Hà Giang's units ceased on 1 July 2025 when the province merged into Tuyên Quang.
SEED_VALID_TO = "2025-06-30"


_UID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def dhis2_uid(name: str) -> str:
    """A stable DHIS2-style UID for ``name``: 11 characters, the first a letter."""
    number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:16], "big")
    chars = [_UID_ALPHABET[number % 52]]
    number //= 52
    for _ in range(10):
        chars.append(_UID_ALPHABET[number % 62])
        number //= 62
    return "".join(chars)


def seed_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Rows of the dbt seeds ``units.csv`` and ``unit_crosswalk.csv``.

    ``units.csv`` holds both generations: legacy units valid until 30 June 2025, then the current
    ones valid from 1 July 2025 (open-ended). Codes repeat across generations, so its key is
    (code, valid_from). The crosswalk maps the portal and document-management codes of legacy
    units (the only ones known), and reporting-system UIDs and upload ids (``code@valid_from``)
    of both generations.
    """
    generations = (
        (legacy_units(), SEED_VALID_FROM, SEED_VALID_TO),
        (current_units(), REORGANISATION_DATE, ""),
    )
    units = [
        {
            "code": u.code,
            "name": u.name,
            "level": u.level,
            "unit_type": u.unit_type,
            "parent_code": u.parent_code or "",
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
        for generation, valid_from, valid_to in generations
        for u in generation
    ]
    # Codes repeat across generations: the crosswalk names the unit version it means.
    crosswalk = (
        [
            {
                "source": PORTAL_SOURCE,
                "source_unit_id": u.portal_code,
                "unit_code": u.code,
                "unit_valid_from": SEED_VALID_FROM,
            }
            for u in legacy_units()
            if u.serves_public
        ]
        + [
            {
                "source": REPORTING_SOURCE,
                "source_unit_id": u.dhis2_uid(valid_from),
                "unit_code": u.code,
                "unit_valid_from": valid_from,
            }
            for generation, valid_from, _ in generations
            for u in generation
        ]
        + [
            {
                "source": UPLOAD_SOURCE,
                "source_unit_id": f"{u.code}@{valid_from}",
                "unit_code": u.code,
                "unit_valid_from": valid_from,
            }
            for generation, valid_from, _ in generations
            for u in generation
        ]
        + [
            {
                "source": DMS_SOURCE,
                "source_unit_id": u.dms_code,
                "unit_code": u.code,
                "unit_valid_from": SEED_VALID_FROM,
            }
            for u in legacy_units()
            if u.level != "province"
        ]
    )
    return units, crosswalk


def succession_seed_rows() -> list[dict[str, str]]:
    """Rows of the dbt seed ``unit_succession.csv``: the 2025 mapping without the names."""
    return [
        {
            "old_code": row["old_code"],
            "new_code": row["new_code"],
            "is_primary": "true" if row["is_primary"] else "false",
            "effective_date": REORGANISATION_DATE,
        }
        for row in reorganisation_2025()
    ]


def write_seeds(seeds_dir: Path) -> list[Path]:
    """(Re)write the unit seeds of the dbt project from the registry above."""
    units, crosswalk = seed_rows()
    written = []
    for name, rows in (
        ("units", units),
        ("unit_crosswalk", crosswalk),
        ("unit_succession", succession_seed_rows()),
    ):
        path = seeds_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written
