import csv
from collections import Counter

import pytest

import dxw.units
from dxw.errors import ConfigurationError, InputError
from dxw.settings import get_settings
from dxw.units import (
    current_units,
    former_tuyen_quang_units,
    legacy_units,
    new_communes,
    reorganisation_2025,
    reporting_area_2025,
    seed_rows,
    succession_seed_rows,
)


def test_ha_giang_has_its_official_units():
    levels = Counter(unit.level for unit in legacy_units())
    assert levels["province"] == 1
    assert levels["district"] == 11
    assert levels["commune"] == 193
    codes = {unit.code: unit for unit in legacy_units()}
    assert codes["02"].name == "Tỉnh Hà Giang"
    assert codes["024"].name == "Thành phố Hà Giang"
    assert codes["00688"].name == "Phường Quang Trung"
    assert codes["00688"].parent_code == "024"
    assert {u.code for u in legacy_units() if u.level == "district"} == {
        "024", "026", "027", "028", "029", "030", "031", "032", "033", "034", "035",
    }  # fmt: skip


def test_codes_and_portal_codes_are_unique():
    for units in (legacy_units(), current_units()):
        assert len({u.code for u in units}) == len(units)
        assert len({u.portal_code for u in units}) == len(units)
        assert len({u.dms_code for u in units if u.level != "province"}) == len(units) - 1


def test_the_former_tuyen_quang_is_in_the_registry():
    # vietnamadminunits' legacy list: Tuyên Quang (08) had 7 district-level units (070-076) and
    # 137 commune-level units until 30 June 2025.
    levels = Counter(unit.level for unit in former_tuyen_quang_units())
    assert levels == {"province": 1, "district": 7, "commune": 137}
    codes = {unit.code: unit for unit in former_tuyen_quang_units()}
    assert codes["08"].name == "Tỉnh Tuyên Quang"
    assert codes["070"].name == "Thành phố Tuyên Quang"
    assert (codes["02200"].name, codes["02200"].parent_code) == ("Phường Phan Thiết", "070")
    # No source of the former Tuyên Quang is connected: it has no portal or document-system code.
    with pytest.raises(InputError, match="former Tuyên Quang"):
        _ = codes["02200"].portal_code


def test_the_new_province_is_124_communes_73_of_them_from_ha_giang():
    # Every new commune has history: each is the primary successor of at least one legacy commune
    # of one of the two former provinces.
    successors = _successors()
    primary = {
        r["new_code"]
        for rows in successors.values()
        for r in rows
        if r["is_primary"] and r["new_code"] != "08"
    }
    assert primary == {u.code for u in new_communes()}
    from_ha_giang = {
        row["new_code"]
        for code, rows in successors.items()
        for row in rows
        if row["is_primary"] and row["new_code"] != "08" and code in {u.code for u in legacy_units()}
    }
    assert len(from_ha_giang) == 73
    assert {u.code for u in reporting_area_2025()} == from_ha_giang


def test_committed_seeds_match_the_registry():
    """The dbt seeds are generated (`dxw units write-seeds`); they must not drift from the code."""
    seeds = get_settings().dbt_project_dir / "seeds"
    for name, expected in zip(("units", "unit_crosswalk"), seed_rows(), strict=True):
        with (seeds / f"{name}.csv").open(encoding="utf-8") as handle:
            assert list(csv.DictReader(handle)) == expected, f"{name}.csv is stale: run dxw units write-seeds"
    with (seeds / "unit_succession.csv").open(encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == succession_seed_rows(), (
            "unit_succession.csv is stale: run dxw units write-seeds"
        )


def _successors() -> dict[str, list[dict]]:
    by_old: dict[str, list[dict]] = {}
    for row in reorganisation_2025():
        by_old.setdefault(row["old_code"], []).append(row)
    return by_old


def test_tuyen_quang_has_124_communes_from_july_2025():
    province, *_ = current_units()
    communes = new_communes()
    assert (province.code, province.name, province.level, province.unit_type) == (
        "08", "Tỉnh Tuyên Quang", "province", "tinh",
    )  # fmt: skip
    assert len(communes) == 124
    assert len({u.code for u in communes}) == 124
    assert all(u.level == "commune" and u.parent_code == "08" for u in communes)
    assert {u.unit_type for u in communes} <= {"xa", "phuong", "thi_tran", "dac_khu"}
    new = {u.code: u for u in communes}
    assert (new["00691"].name, new["00691"].unit_type) == ("Phường Hà Giang 2", "phuong")


def test_new_units_are_valid_from_july_2025_and_keyed_by_code_and_validity():
    units, _ = seed_rows()
    new = [row for row in units if row["valid_from"] == "2025-07-01"]
    assert len(new) == len(current_units()) == 1 + 26 + 124
    assert all(row["valid_to"] == "" for row in new)
    assert {row["code"] for row in new} == {u.code for u in current_units()}
    # The 2025 list reuses legacy commune codes for merged units: code alone is not a key.
    assert len({(row["code"], row["valid_from"]) for row in units}) == len(units)
    # Every new commune in former Hà Giang territory (73 of them) reuses a legacy Hà Giang code.
    reused = {u.code for u in new_communes()} & {u.code for u in legacy_units()}
    assert len(reused) == 73
    assert "00691" in reused


def test_an_unexpected_commune_count_fails_loudly(monkeypatch: pytest.MonkeyPatch):
    rows = dxw.units._query("select * from admin_units where provinceCode = '08'")
    monkeypatch.setattr(dxw.units, "_query", lambda *_args: rows[:-1])
    with pytest.raises(ConfigurationError, match="123 commune-level units"):
        current_units.__wrapped__()


def test_post_2025_units_have_the_portal_and_document_system_codes_of_the_new_province():
    units = {u.code: u for u in current_units()}
    assert (units["08"].portal_code, units["08.SNV"].portal_code, units["00691"].portal_code) == (
        "H08", "H08.SNV", "H08.00691",
    )  # fmt: skip
    assert (units["08.SNV"].dms_code, units["00691"].dms_code) == ("TQG-08.SNV", "TQG-00691")


def test_every_legacy_commune_has_one_primary_successor_among_the_new_communes():
    successors = _successors()
    new_communes = {u.code for u in current_units() if u.level == "commune"}
    legacy_communes = [u for u in legacy_units() if u.level == "commune"]
    assert len(legacy_communes) == 193
    for unit in legacy_communes:
        rows = successors[unit.code]
        assert rows, unit
        assert sum(row["is_primary"] for row in rows) == 1, unit
        assert {row["new_code"] for row in rows} <= new_communes
        assert len({row["new_code"] for row in rows}) == len(rows)
        assert all(row["old_name"] == unit.name for row in rows)


def test_legacy_districts_and_province_map_to_the_new_province():
    successors = _successors()
    for unit in (*legacy_units(), *former_tuyen_quang_units()):
        if unit.level in ("province", "district"):
            assert [(r["new_code"], r["is_primary"]) for r in successors[unit.code]] == [("08", True)]
    # Provincial bodies have successions of their own (data/provincial_bodies.csv), not here.
    assert not any(code.startswith("02.") for code in successors)


def test_concrete_successors_from_the_package_data():
    successors = _successors()

    def pairs(code: str) -> list[tuple[str, str, bool]]:
        return [(r["new_code"], r["new_name"], r["is_primary"]) for r in successors[code]]

    # Split wards and communes, the primary one is the converter's default.
    assert pairs("00688") == [
        ("00691", "Phường Hà Giang 2", True),
        ("00694", "Phường Hà Giang 1", False),
    ]
    assert pairs("00988") == [("00700", "Xã Ngọc Đường", True), ("00994", "Xã Minh Ngọc", False)]
    # Communes merged whole.
    assert pairs("00694") == [("00694", "Phường Hà Giang 1", True)]  # Phường Nguyễn Trãi
    assert pairs("00721") == [("00721", "Xã Đồng Văn", True)]  # Thị trấn Đồng Văn
    split = {code for code, rows in successors.items() if len(rows) > 1}
    assert split & {u.code for u in legacy_units()} == {"00688", "00967", "00988"}


def test_succession_seed_rows():
    rows = succession_seed_rows()
    assert list(rows[0]) == ["old_code", "new_code", "is_primary", "effective_date"]
    units = [r for r in rows if "." not in r["old_code"]]
    bodies = [r for r in rows if "." in r["old_code"]]
    # Hà Giang: province, 11 districts, 193 communes (3 split in two); the former Tuyên Quang:
    # province, 7 districts, 137 communes (and any it split).
    split_tq = sum(1 for r in units if r["is_primary"] == "false") - 3
    assert len(units) == 1 + 11 + 193 + 3 + 1 + 7 + 137 + split_tq
    assert {row["effective_date"] for row in units} == {"2025-07-01"}
    assert {row["is_primary"] for row in units} == {"true", "false"}
    # Every Hà Giang body that ended has one successor: on 1 March 2025 (Decree 45/2025) or 1 July.
    assert {row["effective_date"] for row in bodies} <= {"2025-03-01", "2025-04-01", "2025-07-01"}
    assert (
        len({row["old_code"] for row in bodies})
        == len(bodies)
        == len([u for u in legacy_units() if u.level == "department"])
    )
