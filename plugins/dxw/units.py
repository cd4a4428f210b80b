"""The reporting units of Hà Giang and the new Tuyên Quang, and their identifiers in the sources.

Official units come from the MIT-licensed ``vietnamadminunits`` package:

* legacy units (63-province code list, valid until 30 June 2025) of both provinces that formed
  the new Tuyên Quang: Hà Giang (``02``: 11 district-level and 193 commune-level units) and the
  former Tuyên Quang (``08``: 7 district-level and 137 commune-level units);
* current units (34-province code list, valid from 1 July 2025): the new Tuyên Quang (province
  ``08``) with no district level and 124 commune-level units directly under the province;
* the old-to-new mapping between the two, from the package's 2025 converter data.

Provincial departments, sectors and mass organisations have no GSO code: dxw gives them stable
project codes ``<province>.<ACRONYM>`` from ``data/provincial_bodies*.csv``, with their own
validity and successors (the department mergers of Decree 45/2025 on 1 March 2025, then the
province merger on 1 July 2025).

The 2025 code list reuses legacy codes for different units: ``00691`` is Phường Trần Phú until
30 June 2025 and Phường Hà Giang 2 afterwards, and ``08`` is the former Tuyên Quang until then
and the new one afterwards. A unit is therefore identified by its code *and* its validity
interval, and the seeds carry both.

The warehouse's sources are Hà Giang's: before 1 July 2025 they report Hà Giang's units only, from
that date the new province's bodies and the 73 new communes formed from Hà Giang's communes
(:func:`reporting_area_2025`). The former Tuyên Quang's units are in the registry (so coverage is
counted against the whole new province) but no source of theirs is connected.
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

from dxw.errors import ConfigurationError, InputError

PROVINCE_CODE = "02"
# The former Tuyên Quang's code in the legacy list (the new province reuses it).
FORMER_TUYEN_QUANG_CODE = "08"
PORTAL_SOURCE = "public_service_portal"
DMS_SOURCE = "document_management"
REPORTING_SOURCE = "reporting_system"
UPLOAD_SOURCE = "unit_upload"
_DATA = Path(__file__).with_name("data")
_BODIES_FILE = _DATA / "provincial_bodies.csv"
_NEW_BODIES_FILE = _DATA / "provincial_bodies_tuyen_quang_2025.csv"

# Tuyên Quang's code in the 2025 list; Hà Giang was merged into it on 1 July 2025.
NEW_PROVINCE_CODE = "08"
REORGANISATION_DATE = "2025-07-01"
# The 2025 reorganisation left Tuyên Quang with 124 commune-level units: a different count means the
# package data changed under us, and the mapping must be reviewed before it is used.
NEW_COMMUNE_COUNT = 124
LEGACY_COMMUNE_COUNTS = {PROVINCE_CODE: 193, FORMER_TUYEN_QUANG_CODE: 137}

SEED_VALID_FROM = "2004-01-01"
# The legacy units ceased on 1 July 2025 when the provinces merged.
SEED_VALID_TO = "2025-06-30"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str  # province | department | district | commune
    unit_type: str  # tinh | department/sector/mass_organisation | huyen/thanh_pho | xa/phuong/...
    parent_code: str | None
    serves_public: bool = True
    # The province the unit belongs to, in its own code list (legacy 02 or 08, or the new 08).
    province_code: str = PROVINCE_CODE
    valid_from: str = SEED_VALID_FROM
    valid_to: str | None = SEED_VALID_TO

    @property
    def is_current(self) -> bool:
        """A unit of the new (2025) structure."""
        return self.valid_from >= REORGANISATION_DATE

    @property
    def key(self) -> str:
        """The unit version's key in the warehouse (``dim_unit.unit_key``)."""
        return f"{self.code}@{self.valid_from}"

    def _require_connected(self, system: str) -> None:
        if not self.is_current and self.province_code != PROVINCE_CODE:
            raise InputError(f"no {system} of the former Tuyên Quang is connected: {self.code} {self.name}")

    @property
    def dms_code(self) -> str:
        """The unit's identifier in the document-management system.

        Hà Giang's system names units ``HGG-<code>`` (``HGG-024``, ``HGG-02.SNV``); from 1 July 2025
        the merged province's system names them ``TQG-<code>`` (``TQG-00691``, ``TQG-08.SNV``).
        """
        self._require_connected("document-management system")
        return f"{'TQG' if self.is_current else 'HGG'}-{self.code}"

    def dhis2_uid(self, valid_from: str | None = None) -> str:
        """The unit's org-unit UID in the reporting system (DHIS2 style: a letter and 10 alphanumerics).

        A UID names one version of a unit, so it is derived from the code and the version's start.
        """
        return dhis2_uid(f"ou:{self.code}@{valid_from or self.valid_from}")

    @property
    def portal_code(self) -> str:
        """The unit's department code on the public-service portal (``H02``, ``H02.024``...).

        The national portal codes an agency ``H<province>`` then its path below the province.
        Legacy Hà Giang units: ``H02``, ``H02.<ACRONYM>``, ``H02.<district>``,
        ``H02.<district>.<commune>``. The new province's units (no district level): ``H08``,
        ``H08.<ACRONYM>``, ``H08.<commune>``.
        """
        self._require_connected("portal tree")
        if self.level == "province":
            return f"H{self.code}"
        if self.level == "department":
            return f"H{self.province_code}.{self.code.split('.', 1)[1]}"
        if self.level == "district" or self.parent_code == self.province_code:
            return f"H{self.province_code}.{self.code}"
        return f"H{self.province_code}.{self.parent_code}.{self.code}"


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
        raise ConfigurationError("the vietnamadminunits package is not installed: run `make install`")
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


def _read_bodies(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _body(row: dict[str, str], province: str, valid_from: str, valid_to: str | None) -> Unit:
    return Unit(
        f"{province}.{row['code']}",
        row["name"],
        "department",
        row["body_type"],
        province,
        row["serves_public"] == "true",
        province,
        row.get("valid_from") or valid_from,
        row.get("valid_to") or valid_to,
    )


@cache
def _legacy_province(code: str) -> tuple[Unit, ...]:
    """A legacy province's units as they stood until 30 June 2025: province, bodies, districts, communes."""
    rows = _query(
        "select province, provinceCode, district, districtCode, districtType, ward, wardCode, wardType "
        "from admin_units_legacy where provinceCode = ? order by districtCode, wardCode",
        (code,),
    )
    if len(rows) != LEGACY_COMMUNE_COUNTS[code]:
        raise ConfigurationError(
            f"vietnamadminunits lists {len(rows)} commune-level units in legacy province {code}, "
            f"expected {LEGACY_COMMUNE_COUNTS[code]}: review the registry before using this package version"
        )
    province = Unit(code, rows[0]["province"], "province", "tinh", None, province_code=code)
    # Only Hà Giang's bodies are known to the warehouse (its sources report them).
    bodies = (
        [_body(row, code, SEED_VALID_FROM, SEED_VALID_TO) for row in _read_bodies(_BODIES_FILE)]
        if code == PROVINCE_CODE
        else []
    )
    districts: dict[str, Unit] = {}
    communes = []
    for row in rows:
        district = row["districtCode"]
        if district not in districts:
            districts[district] = Unit(
                district,
                row["district"],
                "district",
                _TYPE_CODES[row["districtType"]],
                code,
                province_code=code,
            )
        communes.append(
            Unit(
                row["wardCode"],
                row["ward"],
                "commune",
                _TYPE_CODES[row["wardType"]],
                district,
                province_code=code,
            )
        )
    return (province, *bodies, *districts.values(), *communes)


def legacy_units() -> tuple[Unit, ...]:
    """Hà Giang's units as they stood until 30 June 2025, province first, in code order.

    These are the units the warehouse's sources report before 1 July 2025. Bodies created or
    ended during 2025 (Decree 45/2025) carry their own validity.
    """
    return _legacy_province(PROVINCE_CODE)


def former_tuyen_quang_units() -> tuple[Unit, ...]:
    """The former Tuyên Quang's units (legacy code 08) until 30 June 2025: province, districts, communes.

    In the registry so that the new province's coverage counts all its communes; no source of the
    former Tuyên Quang is connected, and its provincial bodies are not listed.
    """
    return _legacy_province(FORMER_TUYEN_QUANG_CODE)


@cache
def current_units() -> tuple[Unit, ...]:
    """Tuyên Quang's units from 1 July 2025: the province, its provincial bodies, its 124 communes.

    The bodies are those of ``data/provincial_bodies_tuyen_quang_2025.csv``.
    """
    rows = _query(
        "select province, ward, wardCode, wardType from admin_units where provinceCode = ? order by wardCode",
        (NEW_PROVINCE_CODE,),
    )
    if len(rows) != NEW_COMMUNE_COUNT:
        raise ConfigurationError(
            f"vietnamadminunits lists {len(rows)} commune-level units in province {NEW_PROVINCE_CODE}, "
            f"expected {NEW_COMMUNE_COUNT}: review the 2025 mapping before using this package version"
        )
    new = {"province_code": NEW_PROVINCE_CODE, "valid_from": REORGANISATION_DATE, "valid_to": None}
    province = Unit(NEW_PROVINCE_CODE, rows[0]["province"], "province", "tinh", None, **new)
    bodies = [
        _body(row, NEW_PROVINCE_CODE, REORGANISATION_DATE, None) for row in _read_bodies(_NEW_BODIES_FILE)
    ]
    communes = [
        Unit(row["wardCode"], row["ward"], "commune", _TYPE_CODES[row["wardType"]], NEW_PROVINCE_CODE, **new)
        for row in rows
    ]
    return (province, *bodies, *communes)


def new_communes() -> tuple[Unit, ...]:
    return tuple(u for u in current_units() if u.level == "commune")


def _successors(old_province: str) -> dict[str, list[tuple[str, bool]]]:
    """Legacy commune code -> [(new commune code, is primary)] of a legacy province, from the converter.

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
        (old_province,),
    )
    current = _query(
        "select provinceKey, wardKey, wardCode from admin_units where provinceCode = ?", (NEW_PROVINCE_CODE,)
    )
    new_codes = {row["wardKey"]: row["wardCode"] for row in current}
    new_province_key = current[0]["provinceKey"]
    old_province_key = legacy[0]["provinceKey"]
    targets = [new for new, olds in converter["DICT_PROVINCE"].items() if old_province_key in olds]
    if targets != [new_province_key]:
        raise ConfigurationError(f"converter maps {old_province_key} to {targets}, not {new_province_key}")

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
            raise ConfigurationError(f"converter data has no single primary successor for {old_key}: {parts}")
        successors[row["wardCode"]] = [(new_codes[new_key], is_primary) for new_key, is_primary in parts]
    return successors


@cache
def _reorganisation_2025() -> tuple[dict[str, Any], ...]:
    current = {unit.code: unit for unit in current_units()}
    new_province = current[NEW_PROVINCE_CODE]
    rows = []
    for province in (PROVINCE_CODE, FORMER_TUYEN_QUANG_CODE):
        successors = _successors(province)
        for old in _legacy_province(province):
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
    """The old-to-new mapping of both former provinces' units on 1 July 2025.

    One row per (legacy unit, new unit) pair with keys old_code, old_name, new_code, new_name and
    is_primary: each legacy province (Hà Giang ``02``, the former Tuyên Quang ``08``) and each legacy
    district map to the new province ``08`` (their level disappeared or merged); each legacy
    commune maps to the new commune it became part of, or to several when it was split, exactly
    one of them primary. Provincial bodies are left out (see :func:`body_succession`). Rows come
    in legacy order (Hà Giang then the former Tuyên Quang; province, districts, communes), the
    primary successor first.
    """
    return [dict(row) for row in _reorganisation_2025()]


def body_succession() -> list[dict[str, str]]:
    """Successions of Hà Giang's provincial bodies: (old code, new code, effective date).

    From ``data/provincial_bodies.csv``: the mergers of 1 March 2025 (Decree 45/2025) into another
    Hà Giang body, and on 1 July 2025 into a body of the new province.
    """
    rows = []
    for row in _read_bodies(_BODIES_FILE):
        if row.get("successor_code"):
            successor = row["successor_code"]
            rows.append(
                {
                    "old_code": f"{PROVINCE_CODE}.{row['code']}",
                    "new_code": successor if "." in successor else f"{PROVINCE_CODE}.{successor}",
                    "is_primary": "true",
                    "effective_date": row["successor_effective"],
                }
            )
    return rows


@cache
def reporting_area_2025() -> tuple[Unit, ...]:
    """The new communes formed from Hà Giang's communes (each is the primary successor of one).

    After 1 July 2025 the warehouse's sources report these (and the new province's bodies); the
    other new communes, formed from the former Tuyên Quang's, are not reported to this warehouse.
    """
    codes = {code for parts in _successors(PROVINCE_CODE).values() for code, primary in parts if primary}
    return tuple(u for u in new_communes() if u.code in codes)


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


def registry() -> tuple[Unit, ...]:
    """Every unit version of the registry: both legacy provinces, then the new province."""
    return (*legacy_units(), *former_tuyen_quang_units(), *current_units())


def seed_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Rows of the dbt seeds ``units.csv`` and ``unit_crosswalk.csv``.

    ``units.csv`` holds both generations: legacy units of both former provinces (valid until 30
    June 2025 unless a body ended earlier), then the current ones valid from 1 July 2025
    (open-ended). Codes repeat across generations, so its key is (code, valid_from). The crosswalk
    maps the identifiers of the units the sources report: portal and document-management codes of
    Hà Giang's legacy units and of the new province's units, reporting-system UIDs and upload ids
    (``code@valid_from``) of every unit version. The new communes formed from the former Tuyên
    Quang's have no portal or document-system code here: those systems are not connected.
    """
    units = [
        {
            "code": u.code,
            "name": u.name,
            "level": u.level,
            "unit_type": u.unit_type,
            "parent_code": u.parent_code or "",
            "valid_from": u.valid_from,
            "valid_to": u.valid_to or "",
        }
        for u in registry()
    ]
    # The units Hà Giang's systems name: its own until 30 June 2025, then the new province's
    # bodies and the communes formed from its communes.
    area = set(reporting_area_2025())
    reported = (*legacy_units(), *(u for u in current_units() if u.level != "commune" or u in area))
    # Codes repeat across generations: the crosswalk names the unit version it means.
    crosswalk = (
        [_crosswalk_row(PORTAL_SOURCE, u.portal_code, u) for u in reported if u.serves_public]
        + [_crosswalk_row(REPORTING_SOURCE, u.dhis2_uid(), u) for u in registry()]
        + [_crosswalk_row(UPLOAD_SOURCE, u.key, u) for u in registry()]
        + [_crosswalk_row(DMS_SOURCE, u.dms_code, u) for u in reported if u.level != "province"]
    )
    return units, crosswalk


def _crosswalk_row(source: str, source_unit_id: str, unit: Unit) -> dict[str, str]:
    return {
        "source": source,
        "source_unit_id": source_unit_id,
        "unit_code": unit.code,
        "unit_valid_from": unit.valid_from,
    }


def succession_seed_rows() -> list[dict[str, str]]:
    """Rows of the dbt seed ``unit_succession.csv``: the 2025 mappings without the names."""
    return [
        {
            "old_code": row["old_code"],
            "new_code": row["new_code"],
            "is_primary": "true" if row["is_primary"] else "false",
            "effective_date": REORGANISATION_DATE,
        }
        for row in reorganisation_2025()
    ] + body_succession()


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
