"""A build whose inputs have not changed since the group's last clean build does not run dbt
(`dxw.transform.dbt_build.build`); any new batch, seed, model or other build makes it run."""

import csv
import dataclasses
import shutil

import pytest

from dxw.intake.ingest import ensure_raw_tables, ingest
from dxw.settings import get_settings
from dxw.transform import dbt_build

pytestmark = pytest.mark.integration

DAG, GROUP = "test_dag", "transform"
# Two staging views (one with a unit test): dbt starts and builds them in seconds.
SELECT = ["stg_raw__load_batch", "stg_portal__provide_online"]
UNIT_TEST = "unit_test.dxw.stg_portal__provide_online.portal_services_last_month_dossiers_summed"


def build(settings=None) -> dbt_build.BuildOutcome:
    return dbt_build.build(DAG, GROUP, "run", SELECT, settings=settings or get_settings())


def logged(conn) -> list[tuple[str, int | None]]:
    """Status and node count of the group's builds, oldest first."""
    return conn.execute(
        "select status, nodes from marts_audit.dbt_build "
        "where dag_id = %s and group_id = %s order by build_id",
        (DAG, GROUP),
    ).fetchall()


@pytest.fixture(scope="module")
def landed(simulator):
    from tests.conftest import reset_warehouse

    reset_warehouse(keep_unit_test_runs=False)  # the tests below see when the unit tests run
    ensure_raw_tables()
    ingest("portal_provide_online", "2024S2", simulator.url)


@pytest.fixture
def project_copy(tmp_path):
    settings = get_settings()
    shutil.copytree(
        settings.dbt_project_dir,
        tmp_path / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    return dataclasses.replace(settings, project_dir=tmp_path)


def test_a_build_with_nothing_new_is_skipped_and_logged(landed, conn):
    first = build()
    assert not first.skipped
    assert first.results["model.dxw.stg_raw__load_batch"]["status"] == "success"
    assert first.results[UNIT_TEST]["status"] == "pass"
    second = build()
    assert second.skipped
    assert second.results == {}
    assert logged(conn)[-2:] == [("clean", len(first.results)), ("skipped", 0)]
    # A skipped build is no build: the next one compares with the last that ran dbt.
    assert build().skipped


def test_a_new_landed_batch_builds(landed, conn, simulator):
    build()
    assert build().skipped
    ingest("portal_provide_online", "2025S1", simulator.url)
    assert not build().skipped
    assert build().skipped


def test_a_batch_staged_but_not_loaded_changes_nothing(landed, conn):
    build()
    conn.execute(
        "insert into raw.load_batch (source, dataset, period_id, checksum, status) "
        "values ('portal', 'portal_provide_online', '2025S2', 'x', 'staged')"
    )
    assert build().skipped
    conn.execute(
        "update raw.load_batch set status = 'loaded', finished_at = now() where period_id = '2025S2'"
    )
    assert not build().skipped


def test_a_changed_seed_builds(landed, conn, project_copy):
    build(project_copy)
    assert build(project_copy).skipped
    path = project_copy.dbt_project_dir / "seeds" / "indicators.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["target_value"] = "85"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert not build(project_copy).skipped


def test_a_changed_model_or_transform_version_builds(landed, conn, project_copy):
    build(project_copy)
    model = project_copy.dbt_project_dir / "models" / "marts" / "core" / "dim_unit.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert not build(project_copy).skipped
    assert build(project_copy).skipped
    project = project_copy.dbt_project_dir / "dbt_project.yml"
    text = project.read_text(encoding="utf-8")
    assert "dxw_transform_version: 4" in text
    project.write_text(text.replace("dxw_transform_version: 4", "dxw_transform_version: 5"), encoding="utf-8")
    assert not build(project_copy).skipped


def test_a_failed_build_or_another_groups_build_is_not_skipped(landed, conn):
    build()
    assert build().skipped
    # The marts read the core: a build of another group, running or done, changes what they read.
    other = dbt_build.start_log(conn, "other_dag", "marts", "run", "signature", [])
    assert not build().skipped
    assert not build().skipped  # the other build is still running: its tables may change again
    dbt_build.finish_log(conn, other, dbt_build.BuildOutcome(selection=[], results={}))
    assert not build().skipped
    assert build().skipped
    # This group's last build failed: the next one runs whatever its inputs.
    conn.execute(
        "update marts_audit.dbt_build set status = 'failed' where build_id = "
        "(select max(build_id) from marts_audit.dbt_build where dag_id = %s and status <> 'skipped')",
        (DAG,),
    )
    assert not build().skipped


def test_a_full_refresh_is_never_skipped(landed, conn):
    build()
    assert build().skipped
    outcome = dbt_build.build(DAG, GROUP, "run", SELECT, full_refresh=True, settings=get_settings())
    assert not outcome.skipped


def test_unit_tests_run_once_per_version_of_the_code(landed, conn, project_copy):
    # New code: a model of the selection changes.
    model = project_copy.dbt_project_dir / "models" / "staging" / "portal" / "stg_portal__provide_online.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    first = build(project_copy)
    assert first.results[UNIT_TEST]["status"] == "pass"
    conn.execute(
        "insert into raw.load_batch (source, dataset, period_id, checksum, status, finished_at) "
        "values ('portal', 'portal_provide_online', '2026S1', 'y', 'loaded', now())"
    )
    # New data, same code: the models and data tests run, the unit tests do not.
    second = build(project_copy)
    assert not second.skipped
    assert second.results["model.dxw.stg_portal__provide_online"]["status"] == "success"
    assert not [uid for uid in second.results if uid.startswith("unit_test.")]
    assert any(uid.startswith("test.dxw.not_null_stg_portal__provide_online") for uid in second.results)
    unit_tests = conn.execute(
        "select unit_tests from marts_audit.dbt_build where dag_id = %s and status <> 'skipped' "
        "order by build_id desc limit 2",
        (DAG,),
    ).fetchall()
    assert unit_tests == [(False,), (True,)]
    # A full refresh runs them whatever passed before.
    full = dbt_build.build(DAG, GROUP, "run", SELECT, full_refresh=True, settings=project_copy)
    assert full.results[UNIT_TEST]["status"] == "pass"
