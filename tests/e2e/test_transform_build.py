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


def node_trigger(run, task_id: str):
    """The event a node task's trigger gives for a finished run, run as the triggerer runs it.

    Under a real scheduler a node task starts in the triggerer (``start_from_trigger``); dag.test()
    runs it on its worker path instead. So the trigger is built here the way the triggerer builds it:
    from the serialized DAG's start arguments, its keyword arguments through the trigger table's
    encoding, and run with the Task SDK's comms (its XCom read of the build's results is real).
    """
    from uuid import UUID

    from airflow.models.trigger import Trigger
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.api.datamodels._generated import TaskInstance
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagrun.load_dag("transform_warehouse")))
    args = dag.get_task(task_id).start_trigger_args
    kwargs = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(args.trigger_kwargs))
    trigger = import_string(args.trigger_cls)(
        **{k: smart_decode_trigger_kwargs(v) for k, v in kwargs.items()}
    )
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == task_id)
    trigger.task_instance = TaskInstance(
        id=UUID(str(ti.id)), task_id=ti.task_id, dag_id=ti.dag_id, run_id=ti.run_id,
        try_number=ti.try_number, map_index=ti.map_index, dag_version_id=UUID(str(ti.dag_version_id)),
    )  # fmt: skip
    return InProcessTestSupervisor.run_trigger_in_process(trigger=trigger, ti=trigger.task_instance)


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
    # Under the scheduler, these node tasks end in the triggerer: no worker process for either.
    from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent

    assert type(node_trigger(run, "dbt.stg_dms__work_dossiers")) is TaskSuccessEvent
    assert type(node_trigger(run, "dbt.units")) is TaskSkippedEvent
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
    # Under the scheduler the failed node goes from the triggerer to a worker, which fails it (and
    # retries it as configured). The DAG's newest run is this one.
    from airflow.models.dagrun import DagRun

    run = max(DagRun.find(dag_id="transform_warehouse"), key=lambda found: found.id)
    assert node_trigger(run, "dbt.stg_dms__work_dossiers").payload == {"action": "report"}
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
    assert node_trigger(run, "dbt.stg_dms__work_dossiers").payload == {"action": "rebuild"}  # on a worker
    # Its dependants, which dbt had skipped, built themselves once it succeeded: first try.
    assert states["dbt.fct_indicator_observation"] == "success"
    assert tries["dbt.fct_indicator_observation"] == 1
