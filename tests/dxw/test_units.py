import csv
from collections import Counter

from dxw.settings import get_settings
from dxw.units import legacy_units, seed_rows


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
    units = legacy_units()
    assert len({u.code for u in units}) == len(units)
    assert len({u.portal_code for u in units}) == len(units)


def test_committed_seeds_match_the_registry():
    """The dbt seeds are generated (`dxw units write-seeds`); they must not drift from the code."""
    seeds = get_settings().dbt_project_dir / "seeds"
    for name, expected in zip(("units", "unit_crosswalk"), seed_rows(), strict=True):
        with (seeds / f"{name}.csv").open(encoding="utf-8") as handle:
            assert list(csv.DictReader(handle)) == expected, f"{name}.csv is stale: run dxw units write-seeds"
