from datetime import date

import pytest

from dxw.uploads.catalogue import CatalogueError, load_catalogue


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
    assert catalogue.unit("024", "2025S2") is None  # districts were abolished on 1 July 2025
    assert catalogue.unit("08", "2025S1") is None  # Tuyên Quang's new code starts on 1 July 2025
    assert catalogue.unit("99999", "2025S1") is None
    with pytest.raises(CatalogueError, match="99999"):
        catalogue.applicable("99999", "2025S1")


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
    small = load_catalogue(tmp_path)
    assert [i.code for i in small.applicable("001", "2025S1")] == ["X_FLAG"]
