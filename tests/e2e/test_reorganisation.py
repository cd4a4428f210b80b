"""The 2025 reorganisation, end to end: sources speaking both structures, coverage, two tiers.

The document-management system is pulled over HTTP from the simulator for 2024S2, 2025S1 and
2025S2 and the warehouse is built with dbt. Expected values come from outside the warehouse:

* the simulator's truth: what each old unit did over a whole Decree 09 window
  (``dms_data.drawn_counts``), before anything is split or reported;
* the administrative-unit lists of the ``vietnamadminunits`` package, read here straight from
  its SQLite file and converter JSON (not through dxw.units): 193 Hà Giang communes, 124 new
  Tuyên Quang communes;
* the calendar: the 2025S2 window is 15 June - 14 December 2025 = 16 + 31 + 31 + 30 + 31 + 30 + 14
  = 183 days, of which 15-30 June = 16 days before the reorganisation of 1 July 2025.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from dxw.intake.ingest import ensure_raw_tables, ingest
from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import dms_data
from dxw.sources import dms
from dxw.transform import dbt
from dxw.units import legacy_units

pytestmark = pytest.mark.integration

S2 = parse("2025S2")
WINDOW_DAYS = 183
JUNE_DAYS = 16


def _package() -> Path:
    return Path(importlib.util.find_spec("vietnamadminunits").origin).with_name("data")


def _package_rows(sql: str, params: tuple = ()) -> list[tuple]:
    uri = f"{(_package() / 'dataset.db').as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        return connection.execute(sql, params).fetchall()


def _primary_successors() -> dict[str, str]:
    """Hà Giang commune code -> new commune code, from the package's converter (the part an
    address without street is converted to when a commune was split)."""
    converter = json.loads((_package() / "converter_2025.json").read_text(encoding="utf-8"))
    new_key = dict(_package_rows("select wardKey, wardCode from admin_units where provinceCode = '08'"))
    old = _package_rows(
        "select provinceKey || '_' || districtKey || '_' || wardKey, wardCode from admin_units_legacy "
        "where provinceCode = '02'"
    )
    whole = {
        old_key: new
        for new, olds in converter["DICT_PROVINCE_WARD_NO_DIVIDED"]["tinhtuyenquang"].items()
        for old_key in olds
    }
    divided = converter["DICT_PROVINCE_WARD_DIVIDED"].get("tinhtuyenquang", {})
    found = {}
    for old_key, code in old:
        key = whole.get(old_key) or next(p["newWardKey"] for p in divided[old_key] if p["isDefaultNewWard"])
        found[code] = new_key[key]
    return found


@pytest.fixture(scope="module")
def built(simulator):
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS, reset_warehouse

    reset_warehouse()
    ensure_raw_tables()
    for period in ("2024S2", "2025S1", "2025S2"):
        assert ingest(dms.DATASET, period, simulator.url).status == "loaded"
    assert dbt.run(["build", *WITHOUT_UNIT_TESTS], URLS.warehouse, get_settings(), check=False) == 0


def _truth(code: str, part: str, period=S2) -> int:
    unit = next(u for u in legacy_units() if u.code == code)
    return dms_data.drawn_counts(unit, period)[part]


def _mart(conn, structure: str, unit: str, indicator: str, period: str = "2025S2"):
    return conn.execute(
        "select numerator, denominator, coverage_level, units_at_level, units_with_data, target_value, "
        "target_met from marts_build.mart_semiannual_indicator "
        "where unit_structure = %s and unit_code = %s and indicator_code = %s and period_id = %s",
        (structure, unit, indicator, period),
    ).fetchone()


def test_the_source_speaks_old_units_until_30_june_and_new_ones_after(built, conn):
    codes = dict(
        conn.execute(
            "select left(org_code, 4), count(*) from raw.dms_work_dossiers as r "
            "join raw.load_batch as b using (batch_id) "
            "where b.period_id = '2025S2' and b.status = 'loaded' group by 1"
        ).fetchall()
    )
    # 2025S2: for 15-30 June every Hà Giang body valid on 30 June 2025 (those the 1 March 2025
    # mergers left), district and commune; for July-December the 73 new communes formed from Hà
    # Giang's and the new province's bodies that took over Hà Giang's.
    with (Path(dms_data.__file__).parents[1] / "data" / "provincial_bodies.csv").open(
        encoding="utf-8"
    ) as handle:
        bodies = [row for row in csv.DictReader(handle) if row["valid_to"] == "2025-06-30"]
    successors = {row["successor_code"] for row in bodies}
    assert len(bodies) == len(successors) == 26
    assert codes["HGG-"] == len(bodies) + 11 + 193
    assert codes["TQG-"] == 73 + len(successors)


def test_the_old_commune_reports_its_16_days_of_june(built, conn):
    # Phường Quang Trung (00688): its 2025S2 signed-online dossiers over the whole window are the
    # simulator's truth; 16 of 183 days of it were before 1 July 2025.
    truth = _truth("00688", "signed")
    numerator, *_ = _mart(conn, "before_2025", "00688", "COMM_WORK_DOSSIERS_SIGNED")
    assert numerator == round(truth * JUNE_DAYS / WINDOW_DAYS)


def test_new_communes_add_up_their_predecessors_whole_window_with_nothing_lost(built, conn):
    successors = _primary_successors()
    by_new: dict[str, list[str]] = {}
    for old, new in successors.items():
        by_new.setdefault(new, []).append(old)
    assert len(by_new) == 73
    rows = dict(
        (code, (numerator, denominator))
        for code, numerator, denominator in conn.execute(
            "select unit_code, numerator, denominator from marts_build.mart_semiannual_indicator "
            "where unit_structure = 'from_2025' and unit_level = 'commune' and period_id = '2025S2' "
            "and indicator_code = 'COMM_WORK_DOSSIERS_SIGNED'"
        ).fetchall()
    )
    assert set(rows) == set(by_new)
    for new, olds in by_new.items():
        signed = sum(_truth(old, "signed") for old in olds)
        open_dossiers = sum(_truth(old, "open") for old in olds)
        assert rows[new] == (signed, open_dossiers), new
    # The new province: every Hà Giang commune's whole window, once.
    province = _mart(conn, "from_2025", "08", "COMM_WORK_DOSSIERS_SIGNED")
    assert province[:2] == (
        sum(_truth(code, "signed") for code in successors),
        sum(_truth(code, "open") for code in successors),
    )


def test_coverage_counts_the_whole_new_province(built, conn):
    new_communes = _package_rows("select count(*) from admin_units where provinceCode = '08'")[0][0]
    legacy_communes = _package_rows("select count(*) from admin_units_legacy where provinceCode = '02'")[0][0]
    assert (new_communes, legacy_communes) == (124, 193)
    # The new province, in every half-year it restates: 73 of its 124 communes have data.
    for period in ("2024S2", "2025S1", "2025S2"):
        _, _, level, at_level, with_data, *_ = _mart(
            conn, "from_2025", "08", "COMM_WORK_DOSSIERS_SIGNED", period
        )
        assert (level, at_level, with_data) == ("commune", 124, 73), period
    # Hà Giang before the reorganisation: all of its communes report.
    _, _, level, at_level, with_data, *_ = _mart(
        conn, "before_2025", "02", "COMM_WORK_DOSSIERS_SIGNED", "2025S1"
    )
    assert (level, at_level, with_data) == ("commune", 193, 193)
    # A district of the old structure: its own communes (TP Hà Giang has 8 wards and communes).
    district_communes = _package_rows(
        "select count(*) from admin_units_legacy where provinceCode = '02' and districtCode = '024'"
    )[0][0]
    _, _, level, at_level, with_data, *_ = _mart(
        conn, "before_2025", "024", "COMM_WORK_DOSSIERS_SIGNED", "2025S1"
    )
    assert (level, at_level, with_data) == ("commune", district_communes, district_communes)


def test_two_tiers_from_july_2025(built, conn):
    # No district in the new structure, whatever the half-year.
    assert conn.execute(
        "select count(*) from marts_build.mart_semiannual_indicator "
        "where unit_structure = 'from_2025' and unit_level = 'district'"
    ).fetchone() == (0,)
    # The old districts' 15-30 June 2025: figures, but no target judged on 16 days.
    target, met = _mart(conn, "before_2025", "024", "DIST_WORK_DOSSIERS_SIGNED")[5:]
    assert (target, met) == (None, None)
    assert _mart(conn, "before_2025", "024", "DIST_WORK_DOSSIERS_SIGNED", "2025S1")[5] == 90
    # The new communes are judged against the commune target (IV.1.c: 70 %).
    judged = conn.execute(
        "select count(*), count(target_met), min(target_value), max(target_value) "
        "from marts_build.mart_semiannual_indicator where unit_structure = 'from_2025' "
        "and unit_level = 'commune' and period_id = '2025S2' and indicator_code = 'COMM_WORK_DOSSIERS_ONLINE'"
    ).fetchone()
    assert judged == (73, 73, 70, 70)
    # No scorecard for a unit that ceased before the cut-off.
    assert conn.execute(
        "select count(*) from marts_build.mart_unit_scorecard as s join core.dim_unit as u "
        "on s.unit_code = u.unit_code and s.unit_structure = u.unit_structure "
        "where s.period_id = '2025S2' and u.valid_to < date '2025-12-14'"
    ).fetchone() == (0,)


def test_a_department_rolls_forward_into_the_one_that_absorbed_it(built, conn):
    # Decree 45/2025: Sở Thông tin và Truyền thông (until 28 Feb 2025) merged into Sở Khoa học và
    # Công nghệ (1 March), which became the new province's on 1 July 2025. Provincial work
    # dossiers processed online, as the simulator drew them for each body's whole window.
    def online(code: str, period: str) -> int:
        return _truth(code, "online", parse(period))

    indicator = "DEPT_WORK_DOSSIERS_ONLINE"
    # As they stood: 2024S2 has both bodies; in 2025S1 TT&TT's 15 Dec - 28 Feb rolls forward
    # into KH&CN, which carries on to the cut-off (their parts add up to both whole windows).
    assert _mart(conn, "before_2025", "02.SKHCN", indicator, "2024S2")[0] == online("02.SKHCN", "2024S2")
    assert _mart(conn, "before_2025", "02.STTTT", indicator, "2024S2")[0] == online("02.STTTT", "2024S2")
    assert _mart(conn, "before_2025", "02.STTTT", indicator, "2025S1") is None
    assert _mart(conn, "before_2025", "02.SKHCN", indicator, "2025S1")[0] == online(
        "02.SKHCN", "2025S1"
    ) + online("02.STTTT", "2025S1")
    # Restated under the new province's body, like with like in every half-year.
    for period in ("2024S2", "2025S1"):
        expected = online("02.SKHCN", period) + online("02.STTTT", period)
        assert _mart(conn, "from_2025", "08.SKHCN", indicator, period)[0] == expected, period
    # 2025S2: Hà Giang's KH&CN for 15-30 June plus the new body from 1 July = KH&CN's window.
    assert _mart(conn, "from_2025", "08.SKHCN", indicator)[0] == online("02.SKHCN", "2025S2")
    # The department scorecards of 2024S2 and 2025S1 in the new structure rank the same bodies.
    bodies = {
        period: {
            row[0]
            for row in conn.execute(
                "select unit_code from marts_build.mart_unit_scorecard "
                "where unit_structure = 'from_2025' and unit_level = 'department' and period_id = %s",
                (period,),
            ).fetchall()
        }
        for period in ("2024S2", "2025S1", "2025S2")
    }
    assert bodies["2024S2"] == bodies["2025S1"] == bodies["2025S2"]
    assert "08.SKHCN" in bodies["2025S1"]
    assert not any(code.startswith("02.") for code in bodies["2025S1"])
