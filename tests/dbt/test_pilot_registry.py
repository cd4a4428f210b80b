"""The pilot registry of Plan 86 III.4 (seed pilot_units) is checked against the plan's counts.

Each case writes an altered pilot_units.csv into a copy of the dbt project and runs `dbt build`
on the two seeds the checks read (units, pilot_units) and the tests on them alone, in a scratch
database of its own (the test warehouse's reference data stays as it is); run_results.json says
which tests failed. The expected failures are read off the plan's text: III.4 a) the board picks
01 district and 01 department; b) each department at least 01 subordinate unit, each district 01-03
of its own communes, registered in the first quarter of 2022.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dxw.settings import get_settings
from dxw.transform import dbt
from dxw.warehouse import database

pytestmark = pytest.mark.integration

PROVINCE = "assert_pilot_units_province_picks_one_district_and_one_department"
DISTRICTS = "assert_pilot_units_each_district_picks_one_to_three_communes"
DEPARTMENTS = "assert_pilot_units_each_department_picks_a_subordinate_unit"
QUARTER = "assert_pilot_units_registered_in_q1_2022"
EXISTS = "assert_pilot_units_exist_at_registration"

Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def scratch_url() -> str:
    """A database of its own for the seeds, dropped afterwards."""
    from tests.conftest import URLS

    name = f"{database.database_name(URLS.warehouse)}_pilots"
    with psycopg.connect(URLS.maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield database._with_database(URLS.warehouse, name)
    with psycopg.connect(URLS.maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the dbt project whose pilot_units.csv each case rewrites."""
    copy = tmp_path_factory.mktemp("pilots") / "dbt_project"
    shutil.copytree(get_settings().dbt_project_dir, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def shipped() -> Rows:
    path = get_settings().dbt_project_dir / "seeds" / "pilot_units.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def failing_tests(project: Path, url: str, rows: Rows) -> tuple[int, set[str]]:
    """`dbt build` of units and pilot_units with their tests: exit code and the tests that failed."""
    with (project / "seeds" / "pilot_units.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    target = project / "target"
    env = {
        **os.environ,
        **dbt.connection_env(url, get_settings()),
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project),
    }
    # buildable: only the tests whose every parent is selected (the checks of the pilot registry).
    command = [
        dbt.executable(),
        "build",
        "--select",
        "units",
        "pilot_units",
        "--indirect-selection",
        "buildable",
    ]
    result = subprocess.run([*command, "--target-path", str(target)], cwd=project, env=env, check=False)
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    ran = {r["unique_id"].split(".")[2] for r in results if r["unique_id"].startswith("test.")}
    assert {PROVINCE, DISTRICTS, DEPARTMENTS, QUARTER, EXISTS} <= ran
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")}
    return result.returncode, failed


def add(**row: str) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        return [*rows, {**rows[-1], "unit_valid_from": "2004-01-01", "subordinate_unit_name": "", **row}]

    return change


def edit(match: Callable[[dict], bool], **values: str) -> Callable[[Rows], Rows]:
    return lambda rows: [{**r, **values} if match(r) else r for r in rows]


def drop(match: Callable[[dict], bool]) -> Callable[[Rows], Rows]:
    return lambda rows: [r for r in rows if not match(r)]


# Codes from seeds/units.csv: 00694 Phường Nguyễn Trãi is a commune of 024 the demo registry
# does not name; 026 Đồng Văn is a district that is not a province-level pilot; 02.SYT has one
# subordinate unit in the registry.
CASES = {
    "a fourth commune for district 024": (
        add(registered_by_code="024", pilot_level="district", unit_code="00694", registered_on="2022-03-30"),
        {DISTRICTS},
    ),
    "a district registers another district's commune": (
        add(registered_by_code="026", pilot_level="district", unit_code="00694", registered_on="2022-03-30"),
        {DISTRICTS},
    ),
    "a commune code the registry does not hold": (
        add(registered_by_code="035", pilot_level="district", unit_code="01299", registered_on="2022-03-30"),
        {DISTRICTS, EXISTS},
    ),
    "the board picks a second district": (
        add(registered_by_code="02", pilot_level="province", unit_code="026", registered_on="2022-03-25"),
        {PROVINCE},
    ),
    "a department registers no subordinate unit": (
        drop(lambda r: r["registered_by_code"] == "02.SYT"),
        {DEPARTMENTS},
    ),
    "a list registered after the first quarter": (
        edit(lambda r: r["unit_code"] == "00772", registered_on="2022-04-01"),
        {QUARTER},
    ),
}


def test_the_shipped_registry_passes_every_check(project, scratch_url):
    rows = shipped()
    # Hand count of the demo list: the board's 2, one subordinate unit for each of the 31
    # provincial bodies of Q1 2022 (the 30 of the first registry and Sở Ngoại vụ, which
    # data/provincial_bodies.csv added), 21 communes for the 11 districts.
    assert len(rows) == 2 + 31 + 21
    assert failing_tests(project, scratch_url, rows) == (0, set())


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_registry_fails_the_check_of_the_rule_it_breaks(project, scratch_url, case):
    change, expected = CASES[case]
    code, failed = failing_tests(project, scratch_url, change(shipped()))
    assert code != 0
    assert failed == expected
