"""Consistency of the provincial-body data files.

Hà Giang's bodies run to 30/06/2025 at the latest, the new Tuyên Quang's start on 01/07/2025.

The files are read with the csv module only, independently of dxw.units. Expected facts come from the
national texts quoted in the comments and from plugins/dxw/data/provincial_bodies_SOURCES.md, never
from the files under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "plugins" / "dxw" / "data"
HA_GIANG = DATA / "provincial_bodies.csv"
TUYEN_QUANG = DATA / "provincial_bodies_tuyen_quang_2025.csv"
SOURCES = DATA / "provincial_bodies_SOURCES.md"

NEW_PROVINCE_PREFIX = "08."
LAST_DAY_OF_HA_GIANG = dt.date(2025, 6, 30)
MERGER = dt.date(2025, 7, 1)
DECREE_45_IN_FORCE = dt.date(2025, 3, 1)
VERIFICATION = {"verified", "unverified", "by_decree"}
OPEN_END = dt.date(9999, 12, 31)

# Nghị định 45/2025/NĐ-CP (28/02/2025, in force 01/03/2025), Article 8(1), "các sở được tổ chức thống
# nhất ở các địa phương": 1. Sở Nội vụ; 2. Sở Tư pháp; 3. Sở Tài chính; 4. Sở Công Thương; 5. Sở Nông
# nghiệp và Môi trường; 6. Sở Xây dựng; 7. Sở Khoa học và Công nghệ; 8. Sở Văn hóa, Thể thao và Du lịch;
# 9. Sở Giáo dục và Đào tạo; 10. Sở Y tế; 11. Thanh tra tỉnh; 12. Văn phòng Ủy ban nhân dân.
# Nghị định 150/2025/NĐ-CP (12/06/2025), Article 8, keeps the same twelve for the merged provinces.
COMMON_DEPARTMENTS = (
    "Sở Nội vụ",
    "Sở Tư pháp",
    "Sở Tài chính",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
    "Sở Xây dựng",
    "Sở Khoa học và Công nghệ",
    "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Thanh tra tỉnh",
    "Văn phòng Ủy ban nhân dân",
)
# Same decrees, Article 9, "các sở đặc thù": Sở Ngoại vụ; Sở Dân tộc và Tôn giáo; Sở Du lịch; Sở Quy
# hoạch - Kiến trúc (Hà Nội and TP HCM only, so not for a province).
SPECIAL_DEPARTMENTS = ("Sở Ngoại vụ", "Sở Dân tộc và Tôn giáo", "Sở Du lịch")
# Nghị định 150/2025/NĐ-CP, Article 10(1): at most 14 departments per province (15 for Hà Nội and TP HCM).
MAX_DEPARTMENTS_AFTER_MERGER = 14
# Lao Động, 17/12/2024 (source LD20241217): "Hà Giang has 19 departments and agencies at the same level
# as departments" before the 2025 reorganisation.
HA_GIANG_DEPARTMENTS_IN_2024 = 19


def _norm(name: str) -> str:
    name = unicodedata.normalize("NFC", name).casefold()
    name = name.replace("ubnd", "ủy ban nhân dân").replace("uỷ", "ủy")
    return re.sub(r"\s+", " ", name).strip()


def _same_body(data_name: str, decree_name: str) -> bool:
    """A data name matches a decree name exactly, or with the trailing 'tỉnh' the data adds."""
    data, decree = _norm(data_name), _norm(decree_name)
    return data == decree or data == f"{decree} tỉnh"


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _end(row: dict[str, str]) -> dt.date:
    return _date(row["valid_to"]) if row.get("valid_to") else OPEN_END


def _valid_on(row: dict[str, str], day: dt.date) -> bool:
    return _date(row["valid_from"]) <= day <= _end(row)


@pytest.fixture(scope="module")
def ha_giang() -> list[dict[str, str]]:
    return _read(HA_GIANG)


@pytest.fixture(scope="module")
def tuyen_quang() -> list[dict[str, str]]:
    return _read(TUYEN_QUANG)


def _resolve(code: str, ha_giang: list[dict[str, str]], tuyen_quang: list[dict[str, str]]):
    """The rows a successor code points to.

    ``08.X`` is X in the Tuyên Quang file; a bare code is a Hà Giang body.
    """
    if code.startswith(NEW_PROVINCE_PREFIX):
        return [r for r in tuyen_quang if r["code"] == code[len(NEW_PROVINCE_PREFIX) :]]
    return [r for r in ha_giang if r["code"] == code]


def test_columns_codes_and_verification(ha_giang, tuyen_quang):
    assert list(ha_giang[0])[:4] == ["code", "name", "body_type", "serves_public"]  # original columns kept
    for column in (
        "valid_from",
        "valid_to",
        "successor_code",
        "successor_effective",
        "verification",
        "source",
    ):
        assert column in ha_giang[0], column
    for column in ("code", "name", "body_type", "serves_public", "valid_from", "verification", "source"):
        assert column in tuyen_quang[0], column
    for rows in (ha_giang, tuyen_quang):
        codes = [r["code"] for r in rows]
        assert len(codes) == len(set(codes)), "codes are unique within a file"
        for r in rows:
            assert re.fullmatch(r"[A-Z]+", r["code"]), r["code"]
            assert r["body_type"] in {"department", "sector", "mass_organisation"}, r
            assert r["serves_public"] in {"true", "false"}, r
            assert r["verification"] in VERIFICATION, r
            assert r["source"].strip(), f"{r['code']} has no source"


def test_the_original_thirty_codes_are_kept(ha_giang):
    # The 30 codes of the file before this change (commit f610edb), listed by hand.
    original = {
        "VPUBND", "SNV", "STP", "SKHDT", "STC", "SCT", "SNNPTNT", "SGTVT", "SXD", "STNMT", "STTTT",
        "SLDTBXH", "SVHTTDL", "SKHCN", "SGDDT", "SYT", "TTT", "BDT", "BQLKKT", "CAT", "BCHQS", "BDBP",
        "BHXH", "CTHUE", "MTTQ", "TDOAN", "HLHPN", "HND", "LDLD", "HCCB",
    }  # fmt: skip
    assert original <= {r["code"] for r in ha_giang}


def test_every_source_id_is_documented(ha_giang, tuyen_quang):
    documented = set(re.findall(r"^- \[([A-Za-z0-9-]+)\]", SOURCES.read_text(encoding="utf-8"), re.M))
    for r in (*ha_giang, *tuyen_quang):
        for source_id in re.findall(r"\[([A-Za-z0-9-]+)\]", r["source"] + r.get("note", "")):
            assert source_id in documented, f"{r['code']}: [{source_id}] is not in the SOURCES file"


def test_no_ha_giang_body_outlives_the_province(ha_giang):
    for r in ha_giang:
        assert r["valid_to"], f"{r['code']} has no end"
        assert _date(r["valid_from"]) <= _end(r) <= LAST_DAY_OF_HA_GIANG, r["code"]


def test_every_ended_body_has_a_successor_from_the_next_day(ha_giang):
    for r in ha_giang:
        assert r["successor_code"], f"{r['code']} ends without a successor"
        assert _date(r["successor_effective"]) == _end(r) + dt.timedelta(days=1), r["code"]
        if _end(r) == LAST_DAY_OF_HA_GIANG:
            assert r["successor_code"].startswith(NEW_PROVINCE_PREFIX), r["code"]


def test_successors_exist_and_are_valid_when_they_take_over(ha_giang, tuyen_quang):
    for r in ha_giang:
        targets = _resolve(r["successor_code"], ha_giang, tuyen_quang)
        assert len(targets) == 1, f"{r['code']} -> {r['successor_code']}: not exactly one target"
        assert _valid_on(targets[0], _date(r["successor_effective"])), f"{r['code']} -> {r['successor_code']}"


def test_every_successor_chain_ends_in_a_new_tuyen_quang_body(ha_giang, tuyen_quang):
    tq_codes = {r["code"] for r in tuyen_quang}
    by_code = {r["code"]: r for r in ha_giang}
    for r in ha_giang:
        seen, code = {r["code"]}, r["successor_code"]
        while not code.startswith(NEW_PROVINCE_PREFIX):
            assert code not in seen, f"cycle from {r['code']} at {code}"
            seen.add(code)
            code = by_code[code]["successor_code"]
        assert code[len(NEW_PROVINCE_PREFIX) :] in tq_codes, f"{r['code']} ends at {code}"


def test_ha_giang_departments_before_the_reorganisation(ha_giang):
    before = [r for r in ha_giang if r["body_type"] == "department" and _valid_on(r, dt.date(2025, 2, 28))]
    assert len(before) == HA_GIANG_DEPARTMENTS_IN_2024


def test_ha_giang_departments_follow_decree_45(ha_giang):
    allowed = (*COMMON_DEPARTMENTS, *SPECIAL_DEPARTMENTS)
    day = DECREE_45_IN_FORCE
    while day <= LAST_DAY_OF_HA_GIANG:  # every day from 01/03/2025 to 30/06/2025
        departments = [r["name"] for r in ha_giang if r["body_type"] == "department" and _valid_on(r, day)]
        for decree_name in COMMON_DEPARTMENTS:
            assert any(_same_body(n, decree_name) for n in departments), f"{decree_name} missing on {day}"
        for name in departments:
            assert any(_same_body(name, d) for d in allowed), f"{name} is not a Decree 45 department on {day}"
        day += dt.timedelta(days=1)


def test_merged_departments_end_the_day_before_decree_45(ha_giang):
    # Departments Decree 45 no longer provides for (merged into others on 01/03/2025).
    gone = ("Sở Kế hoạch và Đầu tư", "Sở Giao thông vận tải", "Sở Thông tin và Truyền thông",
            "Sở Lao động - Thương binh và Xã hội", "Sở Nông nghiệp và Phát triển nông thôn",
            "Sở Tài nguyên và Môi trường")  # fmt: skip
    for name in gone:
        rows = [r for r in ha_giang if _same_body(r["name"], name)]
        assert len(rows) == 1, name
        assert _end(rows[0]) == DECREE_45_IN_FORCE - dt.timedelta(days=1), name


def test_tuyen_quang_bodies_start_with_the_merger(tuyen_quang):
    for r in tuyen_quang:
        assert _date(r["valid_from"]) >= MERGER, r["code"]
        assert not r.get("valid_to"), f"{r['code']}: no body of the merged province ends in this file"


def test_tuyen_quang_departments_follow_decree_150(tuyen_quang):
    departments = [r["name"] for r in tuyen_quang if r["body_type"] == "department" and _valid_on(r, MERGER)]
    for decree_name in COMMON_DEPARTMENTS:
        assert any(_same_body(n, decree_name) for n in departments), f"{decree_name} missing"
    allowed = (*COMMON_DEPARTMENTS, *SPECIAL_DEPARTMENTS)
    for name in departments:
        assert any(_same_body(name, d) for d in allowed), f"{name} is not a Decree 150 department"
    assert len(departments) <= MAX_DEPARTMENTS_AFTER_MERGER


def test_every_tuyen_quang_body_continues_a_ha_giang_body(ha_giang, tuyen_quang):
    # Every body of the merged province in this file continues at least one Hà Giang body: the file lists
    # the successors Hà Giang's bodies need, not the whole merged province.
    targets = {
        r["successor_code"][len(NEW_PROVINCE_PREFIX) :]
        for r in ha_giang
        if r["successor_code"].startswith(NEW_PROVINCE_PREFIX)
    }
    assert {r["code"] for r in tuyen_quang} == targets
