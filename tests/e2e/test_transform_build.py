"""transform_warehouse as one dbt build per run, through dag.test(): what it selects, how a failure
shows in the node tasks, and what a retry does."""

from __future__ import annotations

import threading
import time

import pytest

from dxw.orchestration import dagrun
from dxw.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DMS = ["raw.dms_work_dossiers"]


def break_dms(conn) -> None:
    """stg_dms__work_dossiers subtracts two counts: as text, the model fails ("operator does not exist")."""
    conn.execute("drop view staging.stg_dms__work_dossiers cascade")  # dbt recreates it and what reads it
    conn.execute("alter table raw.dms_work_dossiers alter column dossiers_total type text")


def repair_dms(conn) -> None:
    conn.execute(
        "alter table raw.dms_work_dossiers alter column dossiers_total type bigint "
        "using dossiers_total::bigint"
    )


@pytest.fixture(scope="module")
def built(simulator):
    """A warehouse with 2025S1 from the portal and the document system, transformed once by hand."""
    from tests.conftest import reset_warehouse

    reset_warehouse()
    dagrun.run("ingest_public_service_portal", {"period": "2025S1", "source_url": simulator.url})
    dagrun.run("ingest_document_management", {"period": "2025S1", "source_url": simulator.url})
    run = dagrun.run("transform_warehouse")
    assert dagrun.task_states(run)["dbt.stg_portal__dvc_progress"] == "success"


@pytest.fixture
def retries(monkeypatch):
    """Set the dbt tasks' retries (and the seconds between tries) for the DAGs parsed in this test."""

    def set_retries(count: int, delay: float = 30) -> None:
        monkeypatch.setenv("DXW_DBT_TASK_RETRIES", str(count))
        monkeypatch.setenv("DXW_DBT_TASK_RETRY_DELAY", str(delay))
        get_settings.cache_clear()

    yield set_retries
    get_settings.cache_clear()


def last_build(conn) -> tuple:
    return conn.execute(
        "select selection, status, failed from marts_audit.dbt_build "
        "where dag_id = 'transform_warehouse' order by build_id desc limit 1"
    ).fetchone()


def facts(conn) -> list[tuple]:
    return conn.execute(
        "select period_id, source_system, count(*), sum(hashtext(f::text)) "
        "from core.fct_indicator_observation as f group by 1, 2 order by 1, 2"
    ).fetchall()


def test_new_data_of_one_source_builds_that_sources_branch_only(built, conn, simulator):
    dagrun.run("ingest_document_management", {"period": "2024S2", "source_url": simulator.url})
    run = dagrun.run("transform_warehouse", {"raw_assets": DMS})  # as the asset event names it

    states = dagrun.task_states(run)
    assert last_build(conn) == (["source:raw_dms.dms_work_dossiers+"], "clean", [])
    for branch in ("stg_dms__work_dossiers", "int_observations_unpivoted", "fct_indicator_observation"):
        assert states[f"dbt.{branch}"] == "success", branch
    # The other sources' staging, the seeds and what only they feed were not built, and say why.
    for other in ("stg_portal__dvc_progress", "stg_portal__provide_online", "units", "dim_unit"):
        assert states[f"dbt.{other}"] == "skipped", other
    assert states["core_built"] == "success"
    # The facts hold the new half-year, and are what a build of everything gives.
    after = facts(conn)
    assert ("2024S2", "document_management") in {(period, source) for period, source, *_ in after}
    dagrun.run("transform_warehouse")
    assert last_build(conn)[:2] == ([], "clean")
    assert facts(conn) == after


def test_a_failing_model_fails_its_task_and_stops_its_dependants(built, conn, retries):
    retries(0)
    break_dms(conn)
    try:
        with pytest.raises(dagrun.DagRunFailed) as failed:
            dagrun.run("transform_warehouse", {"raw_assets": DMS})
    finally:
        repair_dms(conn)
    states = failed.value.task_states
    assert states["dbt.build"] == "success"  # dbt ran; the node's task reports its failure
    assert states["dbt.stg_dms__work_dossiers"] == "failed"
    for dependant in ("int_observations_unpivoted", "int_observations_placed", "fct_indicator_observation"):
        assert states[f"dbt.{dependant}"] == "upstream_failed", dependant
    assert states["core_built"] == "upstream_failed"
    selection, status, failed_nodes = last_build(conn)
    assert (selection, status) == (["source:raw_dms.dms_work_dossiers+"], "failed")
    assert failed_nodes == ["model.dxw.stg_dms__work_dossiers"]

    # After a failed build, the next run builds everything, whatever started it.
    run = dagrun.run("transform_warehouse", {"raw_assets": DMS})
    assert last_build(conn)[:2] == ([], "clean")
    assert set(dagrun.task_states(run).values()) == {"success"}


def test_a_retry_rebuilds_the_failed_node_then_its_dependants(built, conn, retries):
    retries(1, delay=4)  # the table is repaired (within a second of the build's end) before the retry
    break_dms(conn)
    before = conn.execute("select max(build_id) from marts_audit.dbt_build").fetchone()[0]

    def repair() -> None:
        """Repair the raw table once the build has ended (its node task then waits 4 s to retry)."""
        from dxw.warehouse import database

        with database.connect(autocommit=True) as own:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                ended = own.execute(
                    "select 1 from marts_audit.dbt_build where build_id > %s and status <> 'running'",
                    (before,),
                ).fetchone()
                if ended:
                    break
                time.sleep(0.5)
            repair_dms(own)

    repairer = threading.Thread(target=repair)
    repairer.start()
    try:
        run = dagrun.run("transform_warehouse", {"raw_assets": DMS})
    finally:
        repairer.join()
    assert last_build(conn)[1] == "failed"  # the build itself saw the failure ...
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    states = dagrun.task_states(run)
    assert set(states.values()) == {"success", "skipped"}  # ... the retry rebuilt the node
    assert tries["dbt.stg_dms__work_dossiers"] == 2
    # Its dependants, which dbt had skipped, built themselves once it succeeded: first try.
    assert states["dbt.fct_indicator_observation"] == "success"
    assert tries["dbt.fct_indicator_observation"] == 1
