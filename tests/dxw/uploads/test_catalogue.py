from datetime import date

import pytest

from dxw.intake.uploads.catalogue import CatalogueError, load_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_loads_the_dbt_seeds(catalogue):
    indicator = catalogue.indicator("DIST_MOBILE_UNIVERSAL")
    assert indicator.name_vi == "Phổ cập dịch vụ mạng di động 4G/5G và điện thoại di động thông minh"
    assert indicator.levels == ("district",)
    assert indicator.is_flag
    assert indicator.is_upload
    assert catalogue.indicator("PS_ON_TIME").is_upload is False


def test_applicable_lists_the_upload_indicators_of_the_unit_level(catalogue):
    district = [i.code for i in catalogue.applicable("024", "2025S1")]
    assert district == [
        "DIST_HOUSEHOLD_BROADBAND",
        "DIST_COMMUNE_BROADBAND",
        "DIST_ECOMMERCE_PRODUCTS",
        "DIST_DIGITAL_BUSINESSES",
        "DIST_MOBILE_UNIVERSAL",
        "DIST_EPAYMENT_ACCOUNTS",
    ]
    department = catalogue.applicable(catalogue.unit("02.SNV", "2025S1"), "2025S1")
    assert [i.code for i in department] == ["DEPT_DIGITAL_INSPECTIONS", "DEPT_DATA_WAREHOUSE"]
    # The seed has no commune-level upload indicator: communes report nothing by spreadsheet.
    assert catalogue.applicable("00691", "2025S1") == []


def test_a_reused_commune_code_resolves_by_period(catalogue):
    legacy = catalogue.unit("00691", "2025S1")
    current = catalogue.unit("00691", "2025S2")
    assert (legacy.name, legacy.parent_code, legacy.valid_to) == ("Phường Trần Phú", "024", date(2025, 6, 30))
    assert (current.name, current.parent_code, current.valid_to) == ("Phường Hà Giang 2", "08", None)
    assert len(catalogue.unit_versions("00691")) == 2


def test_units_outside_their_validity_are_not_found(catalogue):
    # Validity is checked against the Decree 09 window: 2026S1 is 15/12/2025 - 14/06/2026, after the
    # districts ended (30/06/2025); 2025S1 is 15/12/2024 - 14/06/2025, before the new province's
    # bodies began (01/07/2025). Code 08 is the former Tuyên Quang until 30/06/2025, the new one after.
    assert catalogue.unit("024", "2026S1") is None
    assert catalogue.unit("08.SNV", "2025S1") is None
    assert catalogue.unit("08", "2025S1").valid_to == date(2025, 6, 30)
    assert catalogue.unit("08", "2026S1").valid_from == date(2025, 7, 1)
    assert catalogue.unit("99999", "2025S1") is None
    with pytest.raises(CatalogueError, match="99999"):
        catalogue.applicable("99999", "2025S1")


def test_a_unit_that_existed_for_part_of_the_window_belongs_to_the_period(catalogue):
    # 2025S2's Decree 09 window is 15/06/2025 - 14/12/2025; districts existed until 30/06/2025.
    district = catalogue.unit("024", "2025S2")
    assert (district.name, district.valid_to) == ("Thành phố Hà Giang", date(2025, 6, 30))
    # A reused code in that window: both versions overlap it and the newer one wins.
    assert catalogue.unit("00691", "2025S2").name == "Phường Hà Giang 2"


def test_members_successors_and_predecessors(catalogue):
    district = catalogue.unit("024", "2025S1")
    # units.csv, rows with parent_code 024 and level commune: 00688 Quang Trung, 00691 Trần Phú,
    # 00692 Ngọc Hà, 00694 Nguyễn Trãi, 00697 Minh Khai (5 phường), 00700 Ngọc Đường,
    # 00946 Phương Độ, 00949 Phương Thiện (3 xã): 8 communes, all valid until 30/06/2025.
    assert len(catalogue.members(district, "commune", date(2025, 6, 14))) == 8
    assert catalogue.members(district, "commune", date(2025, 7, 1)) == []
    # unit_succession.csv: 024 -> 08 (primary); 00688 -> 00691 (primary) and 00694 (not primary).
    assert [u.code for u in catalogue.successors(district)] == ["08"]
    quang_trung = catalogue.unit("00688", "2025S1")
    assert [u.name for u in catalogue.successors(quang_trung)] == ["Phường Hà Giang 2", "Phường Hà Giang 1"]
    # 00694 Phường Hà Giang 1 (from 01/07/2025) took over from 00688, 00694, 00946 and 00949.
    hg1 = catalogue.unit("00694", "2026S1")
    assert [u.code for u in catalogue.predecessors(hg1)] == ["00688", "00694", "00946", "00949"]


def test_parent_chain(catalogue):
    commune = catalogue.unit("00691", "2025S1")
    assert [u.code for u in catalogue.ancestors(commune, "2025S1")] == ["024", "02"]
    assert catalogue.may_report_for(catalogue.unit("024", "2025S1"), commune, "2025S1")
    assert catalogue.may_report_for(catalogue.unit("02", "2025S1"), commune, "2025S1")
    assert not catalogue.may_report_for(catalogue.unit("026", "2025S1"), commune, "2025S1")


def test_loads_from_a_given_folder(tmp_path):
    (tmp_path / "indicators.csv").write_text(
        "indicator_code,name_vi,levels,unit,comparator,target_value,source\n"
        "X_FLAG,Cờ thử,district|commune,flag,>=,1,unit_upload\n",
        encoding="utf-8",
    )
    (tmp_path / "units.csv").write_text(
        "code,name,level,unit_type,parent_code,valid_from,valid_to\n"
        "001,Huyện Thử,district,huyen,,2020-01-01,\n",
        encoding="utf-8",
    )
    (tmp_path / "unit_succession.csv").write_text(
        "old_code,new_code,is_primary,effective_date\n", encoding="utf-8"
    )
    small = load_catalogue(tmp_path)
    assert [i.code for i in small.applicable("001", "2025S1")] == ["X_FLAG"]
