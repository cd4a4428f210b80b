"""Builds by half-year: an incremental `dbt build` rebuilds only what changed, and gives exactly
what a full rebuild gives (macros/incremental_periods.sql)."""

import csv
import dataclasses
import json
import re
import shutil
from decimal import Decimal

import psycopg
import pytest

from dxw import publish
from dxw.intake.ingest import FEEDS, ensure_raw_tables, ingest
from dxw.settings import get_settings
from dxw.transform import dbt

pytestmark = pytest.mark.integration

BY_HALF_YEAR = [
    ("core", "fct_indicator_observation"),
    ("intermediate", "int_observations_refused"),
    ("marts_build", "mart_semiannual_indicator"),
    ("marts_build", "mart_unit_scorecard"),
    ("marts_build", "mart_reporting_compliance"),
]
# Built by period from the facts' signatures, a year with its half-years.
COVERAGE = ("intermediate", "int_unit_coverage")
# Built by year from the facts of the year and of its half-years.
BY_YEAR = [("marts_build", "mart_annual_indicator"), ("marts_build", "mart_annual_scorecard")]
SIGNED = [*BY_HALF_YEAR, COVERAGE, *BY_YEAR]
EVERY_TABLE = [*SIGNED, ("marts_build", "mart_award_eligibility")]


def build(*args: str) -> None:
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS

    assert dbt.run(["build", *args, *WITHOUT_UNIT_TESTS], URLS.warehouse, get_settings(), check=False) == 0


def writes(conn) -> dict[tuple[str, str], dict[str, str]]:
    """Per table and half-year, the transactions that wrote its rows (xmin): which rows a build rewrote."""
    found = {}
    for schema, table in SIGNED:
        found[(schema, table)] = dict(
            conn.execute(
                f"select period_id, string_agg(distinct xmin::text, ',') from {schema}.{table} group by 1"
            ).fetchall()
        )
    return found


def checksums(conn) -> dict[tuple[str, str], tuple[int, str]]:
    return {(schema, table): publish.table_checksum(conn, schema, table) for schema, table in EVERY_TABLE}


@pytest.fixture(scope="module")
def builds(simulator):
    from tests.conftest import URLS, reset_warehouse

    with psycopg.connect(URLS.warehouse, autocommit=True) as conn:
        return _build_twice_then_fully(simulator, conn, reset_warehouse)


def _build_twice_then_fully(simulator, conn, reset_warehouse):

    reset_warehouse()
    simulator.clear_faults()
    for period in ("2024S2", "2025S1"):
        for dataset in FEEDS:
            ingest(dataset, period, simulator.url)
    ensure_raw_tables()
    build()
    before = writes(conn)

    # A new half-year arrives, and the reporting system re-delivers 2024S2 with one value changed.
    for dataset in FEEDS:
        ingest(dataset, "2025S2", simulator.url)
    simulator.inject("inflate:value")
    # A full pull (not only what changed since the last one) so that the fault has a value to edit.
    assert ingest("dhis2_data_values", "2024S2", simulator.url, full=True).status == "loaded"
    build()
    after = writes(conn)
    incremental = checksums(conn)
    tested = facts_test_filter()

    build("--full-refresh")
    return before, after, incremental, checksums(conn), tested


FACTS_UNIQUENESS_TEST = "test.dxw.dxw_unique_combination_fct_indicator_observation_"


def facts_test_filter() -> str:
    """The filter the facts' uniqueness test ran with in the last build (its SQL as dbt ran it)."""
    from tests.conftest import dbt_target

    results = json.loads((dbt_target() / "run_results.json").read_text())
    [sql] = [
        r["compiled_code"] for r in results["results"] if r["unique_id"].startswith(FACTS_UNIQUENESS_TEST)
    ]
    return re.search(r'\."fct_indicator_observation" where (.*?)\) dbt_subquery', sql).group(1)


def rewritten(before, after, table) -> set[str]:
    return {period for period, xmin in after[table].items() if before[table].get(period) != xmin}


def test_only_the_changed_half_years_are_rebuilt(builds):
    before, after = builds[:2]
    assert rewritten(before, after, ("core", "fct_indicator_observation")) == {"2024S2", "2025S2"}
    # The refusals are placed by half-year like the facts. A half-year without one keeps a row
    # of its own (is_refusal false): with no row, it would be placed again on every build.
    refused = ("intermediate", "int_observations_refused")
    assert set(after[refused]) == {"2024S2", "2025S1", "2025S2"}
    assert rewritten(before, after, refused) == {"2024S2", "2025S2"}
    # 2025S1 compares with 2024S2 as published, and nothing is published: 2025S1 is not rebuilt.
    assert rewritten(before, after, ("marts_build", "mart_semiannual_indicator")) == {"2024S2", "2025S2"}
    assert rewritten(before, after, ("marts_build", "mart_unit_scorecard")) == {"2024S2", "2025S2"}
    # 2025S2's reporting duty (Plan 86 VI.6) is the new province's bodies' (from 1 July 2025; the
    # districts ended on 30 June, before its 14 December cut-off): a new half-year, built.
    assert rewritten(before, after, ("marts_build", "mart_reporting_compliance")) == {"2024S2", "2025S2"}
    # The coverage of a year counts its half-years: 2024 (2024S2 re-delivered) and 2025 (2025S2 new).
    assert rewritten(before, after, COVERAGE) == {"2024S2", "2025S2", "2024", "2025"}
    # So do the years of the annual marts (a year they keep: test_publishing_a_year_...).
    for table in BY_YEAR:
        assert set(after[table]) == {"2024", "2025"}, table
        assert rewritten(before, after, table) == {"2024", "2025"}, table


def test_the_facts_tests_check_the_rebuilt_half_years(builds):
    # The facts' uniqueness test ran on the half-years the second build rebuilt (2024S2
    # re-delivered, 2025S2 new), not on 2025S1, which had not changed: scoped by int_unit_coverage,
    # a child built by the same DAG whose half-years carry the facts' own signatures.
    assert builds[4] == "period_id in ('2024S2', '2025S2')"


def test_the_incremental_build_equals_a_full_rebuild(builds):
    incremental, full = builds[2:4]
    assert incremental == full
    assert all(rows > 0 for rows, _ in full.values())


def test_the_redelivered_value_reached_the_marts(builds, conn):
    changed = conn.execute(
        "select count(*) from core.fct_indicator_observation "
        "where period_id = '2024S2' and source_system = 'reporting_system' and numerator > denominator"
    ).fetchone()[0]
    assert changed == 1  # the inflated numerator, ten times its value


def test_tables_built_by_a_release_without_signatures_are_rebuilt_whole(builds, conn):
    full = builds[3]
    for schema, table in SIGNED:
        # cascade: core.fct_refused_observation is a view over int_observations_refused, which
        # the build recreates like every view.
        conn.execute(f"alter table {schema}.{table} drop column load_signature cascade")
    build()
    for schema, table in SIGNED:
        unsigned = conn.execute(
            f"select count(*) from {schema}.{table} where load_signature is null"
        ).fetchone()
        assert unsigned == (0,), table
    assert checksums(conn) == full


def test_a_new_transform_version_rebuilds_every_half_year(builds, conn):
    full = builds[3]
    before = writes(conn)
    build("--vars", "{dxw_transform_version: 1000}")  # any version other than the project's
    after = writes(conn)
    for table in SIGNED:
        assert rewritten(before, after, table) == set(after[table]), table
    # The figures do not depend on the version: only the signatures moved.
    build()
    assert checksums(conn) == full


def test_publishing_a_half_year_rebuilds_the_next_one_against_it(builds, conn):
    from dxw import quality

    build()
    before = writes(conn)
    # 2025S1 passes its own gate and is published; 2025S2 (built, not published) must compare with it.
    gate = quality.gate("mart_semiannual_indicator", run_id="test", period_id="2025S1")
    publish.publish(conn, run_id="test", gate_run_id=gate.quality_run_id, period_id="2025S1")
    assert conn.execute("select distinct period_id from marts.mart_semiannual_indicator").fetchall() == [
        ("2025S1",)
    ]
    build()
    after = writes(conn)
    assert rewritten(before, after, ("marts_build", "mart_semiannual_indicator")) == {"2025S2"}
    assert rewritten(before, after, ("marts_build", "mart_unit_scorecard")) == {"2025S2"}
    assert rewritten(before, after, COVERAGE) == set()  # the coverage counts facts, not publishes
    # Every 2025S2 change is its value minus the published 2025S1 value of the same unit and indicator.
    compared, wrong, measured = conn.execute(
        """
        select count(*), count(*) filter (where b.change_since_previous is distinct from b.value - p.value),
               count(b.change_since_previous)
        from marts_build.mart_semiannual_indicator as b
        left join marts.mart_semiannual_indicator as p
            on (p.unit_structure, p.unit_code, p.indicator_code, p.period_id)
            = (b.unit_structure, b.unit_code, b.indicator_code, '2025S1')
        where b.period_id = '2025S2'
        """
    ).fetchone()
    assert compared > 0
    assert measured > 0
    assert wrong == 0
    # 2025S1 and 2024S2 still compare with unpublished half-years: no change.
    assert conn.execute(
        "select count(change_since_previous) from marts_build.mart_semiannual_indicator "
        "where period_id in ('2024S2', '2025S1')"
    ).fetchone() == (0,)
    # A full rebuild against the same published marts gives the same tables.
    incremental = checksums(conn)
    build("--full-refresh")
    assert checksums(conn) == incremental


def test_publishing_a_year_rebuilds_the_next_one_against_it(builds, conn, simulator):
    from dxw import quality

    # The reporting system re-delivers 2024S2 without the inflated value, so that 2024 passes
    # its gate: the year 2024 is rebuilt, 2025 (whose half-years did not change) is kept.
    build()
    start = writes(conn)
    simulator.clear_faults()
    assert ingest("dhis2_data_values", "2024S2", simulator.url, full=True).status == "loaded"
    build()
    before = writes(conn)
    for table in BY_YEAR:
        assert rewritten(start, before, table) == {"2024"}, table
    # The year 2024 passes its own gate and is published; 2025 must compare with it, and 2024,
    # whose facts did not change since, is kept as built.
    gate = quality.gate("mart_annual_indicator", run_id="test", period_id="2024")
    publish.publish(conn, run_id="test", gate_run_id=gate.quality_run_id, period_id="2024")
    published = conn.execute("select distinct period_id from marts.mart_annual_indicator").fetchall()
    assert published == [("2024",)]
    build()
    after = writes(conn)
    for table in BY_YEAR:
        assert rewritten(before, after, table) == {"2025"}, table
    assert rewritten(before, after, ("core", "fct_indicator_observation")) == set()
    compared, wrong, measured = conn.execute(
        """
        select count(*), count(*) filter (where b.change_since_previous is distinct from b.value - p.value),
               count(b.change_since_previous)
        from marts_build.mart_annual_indicator as b
        left join marts.mart_annual_indicator as p
            on (p.unit_structure, p.unit_code, p.indicator_code, p.period_id)
            = (b.unit_structure, b.unit_code, b.indicator_code, '2024')
        where b.period_id = '2025'
        """
    ).fetchone()
    assert compared > 0
    assert measured > 0
    assert wrong == 0
    # Nothing new: the next build rewrites no year.
    build()
    assert writes(conn) == after
    incremental = checksums(conn)
    build("--full-refresh")
    assert checksums(conn) == incremental


SEEDS = sorted(path.stem for path in (get_settings().dbt_project_dir / "seeds").glob("*.csv"))


def seed_writes(conn) -> dict[str, str]:
    """Per seed table, the transactions that wrote its rows (xmin): a reload writes them anew."""
    return {
        seed: conn.execute(f"select string_agg(distinct xmin::text, ',') from reference.{seed}").fetchone()[0]
        for seed in SEEDS
    }


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the dbt project (seeds included) and settings pointing at it."""
    settings = get_settings()
    shutil.copytree(
        settings.dbt_project_dir,
        tmp_path / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    return dataclasses.replace(settings, project_dir=tmp_path)


def test_an_unchanged_seed_is_not_reloaded_and_rebuilds_nothing(builds, conn):
    build()  # whatever the tests before did (a full refresh reloads every seed)
    seeds, facts = seed_writes(conn), writes(conn)
    assert all(seeds.values()), seeds  # every seed holds rows
    build()
    assert seed_writes(conn) == seeds
    assert writes(conn) == facts


def test_a_changed_seed_row_is_reloaded_alone_and_rebuilds_every_half_year(builds, conn, project_copy):
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS

    build()
    seeds, before = seed_writes(conn), writes(conn)
    # The Plan's target for provincial work dossiers processed online, 90 %, becomes 85 %.
    path = project_copy.dbt_project_dir / "seeds" / "indicators.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    [row] = [r for r in rows if r["indicator_code"] == "DEPT_WORK_DOSSIERS_ONLINE"]
    assert row["target_value"] == "90"
    row["target_value"] = "85"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    assert dbt.run(["build", *WITHOUT_UNIT_TESTS], URLS.warehouse, project_copy, check=False) == 0
    reloaded = {seed for seed, xmin in seed_writes(conn).items() if xmin != seeds[seed]}
    assert reloaded == {"indicators"}
    after = writes(conn)
    for table in BY_HALF_YEAR:
        assert rewritten(before, after, table) == set(after[table]) == {"2024S2", "2025S1", "2025S2"}, table
    for table in BY_YEAR:
        assert rewritten(before, after, table) == set(after[table]) == {"2024", "2025"}, table
    # The target applies to the departments (target_levels); the other levels' rows carry none.
    targets = conn.execute(
        "select period_id, array_agg(distinct target_value) filter (where target_value is not null) "
        "from marts_build.mart_semiannual_indicator "
        "where indicator_code = 'DEPT_WORK_DOSSIERS_ONLINE' group by 1 order by 1"
    ).fetchall()
    assert targets == [(period, [Decimal(85)]) for period in ("2024S2", "2025S1", "2025S2")]


def test_a_changed_seed_over_a_mebibyte_is_reloaded(conn, project_copy):
    """dbt hashes a seed's content up to 1 MiB only (its checksum is then the file's path).

    A national unit list can pass that size: a changed one must still be reloaded.
    """
    from tests.conftest import URLS

    path = project_copy.dbt_project_dir / "seeds" / "big_reference.csv"
    rows = [f"U{i:06d},{'x' * 40}" for i in range(30_000)]  # 30,000 x 49 bytes: 1.4 MiB
    path.write_text("code,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert path.stat().st_size > 1024 * 1024
    seed = ["seed", "--select", "big_reference"]

    def label_of(code: str) -> str:
        return conn.execute("select label from reference.big_reference where code = %s", [code]).fetchone()[0]

    try:
        assert dbt.run(seed, URLS.warehouse, project_copy, check=False) == 0
        assert label_of("U000007") == "x" * 40
        rows[7] = f"U000007,{'y' * 40}"  # the same size, another content
        path.write_text("code,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
        assert dbt.run(seed, URLS.warehouse, project_copy, check=False) == 0
        assert label_of("U000007") == "y" * 40
    finally:
        conn.execute("drop table if exists reference.big_reference")
        conn.execute("delete from reference.dxw_seed_loads where seed = 'big_reference'")


def test_a_seed_the_signature_does_not_read_fails_the_build(builds, project_copy, capfd):
    from tests.conftest import URLS

    (project_copy.dbt_project_dir / "seeds" / "holidays.csv").write_text(
        "day\n2025-09-02\n", encoding="utf-8"
    )
    assert dbt.run(
        ["compile", "--select", "fct_indicator_observation"], URLS.warehouse, project_copy, check=False
    )
    output = capfd.readouterr()
    assert "seed(s) holidays not among the parents of the half-year signature" in output.out + output.err
