"""Running dxw's DAGs in-process through Airflow's own ``dag.test()`` loop.

Used by ``dxw run``, ``dxw demo`` and the tests; the deployment runs the same DAG files under
the scheduler. Call :func:`dxw.orchestration.airflow_env.apply` before this module's functions.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from dxw.errors import RunError
from dxw.periods import parse
from dxw.settings import get_settings

log = logging.getLogger(__name__)


class RunInProgress(RunError):
    """Another ``dxw run`` of the same DAG holds the run lock."""


@contextmanager
def run_lock(dag_id: str) -> Iterator[None]:
    """Hold the warehouse's session lock of ``dag_id`` for a run; refuse when another run holds it.

    Two runs of one DAG would land, build and publish the same periods over each other. The lock
    belongs to a connection of its own, so it ends with the process however the run ends.
    """
    from dxw.warehouse import database

    name = f"dxw run {dag_id} (pid {os.getpid()})"
    with database.connect(autocommit=True, application_name=name[:63]) as conn:
        key = f"dxw.run|{dag_id}"
        if not conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]:
            holder = conn.execute(
                "select activity.application_name from pg_locks as locks "
                "join pg_stat_activity as activity on activity.pid = locks.pid "
                "where locks.locktype = 'advisory' and locks.granted and locks.objsubid = 1 "
                "and (locks.classid::bigint << 32) + locks.objid::bigint "
                "= hashtextextended(%s, 0)",
                (key,),
            ).fetchone()
            who = holder[0].removeprefix(f"dxw run {dag_id} ").strip("()") if holder else "pid unknown"
            raise RunInProgress(f"another dxw run of {dag_id} is running ({who}); wait for it to end")
        yield  # closing the connection gives the lock up


class DagRunFailed(RunError):
    """A DAG run ended in a state other than success; ``task_states`` says where."""

    def __init__(self, message: str, task_states: dict[str, str] | None = None):
        super().__init__(message)
        self.task_states = task_states or {}


def ensure_metadata_db() -> bool:
    """Migrate Airflow's metadata database when needed; returns True if it migrated."""
    from airflow.utils import db

    try:
        db.check_migrations(timeout=1)
        return False
    except TimeoutError:
        started = time.monotonic()
        log.info("migrating the Airflow metadata database")
        db.upgradedb()
        log.info("Airflow metadata database migrated in %.1fs", time.monotonic() - started)
        return True


def load_dag(dag_id: str):
    """The DAG ``dag_id`` from the configured dags folder."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(get_settings().dags_dir))
    if bag.import_errors:
        details = "\n".join(f"{path}: {error}" for path, error in bag.import_errors.items())
        raise DagRunFailed(f"DAG files failed to import:\n{details}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise DagRunFailed(f"no DAG {dag_id!r}; available: {', '.join(sorted(bag.dag_ids))}")
    return dag


def run(dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None) -> Any:
    """Run one DAG run to completion; raises :class:`DagRunFailed` unless it succeeded.

    Raises :class:`RunInProgress` when another run of the same DAG is under way.
    """
    with run_lock(dag_id):
        return _run(dag_id, conf, logical_date)


def _run(dag_id: str, conf: dict[str, Any] | None, logical_date: datetime | None) -> Any:
    ensure_metadata_db()
    dag = load_dag(dag_id)
    conf = conf or {}
    if logical_date is None and conf.get("period") and hasattr(dag.timetable, "logical_date_for"):
        # A half-year DAG run for a given period gets that half-year as its data interval; a year
        # (annual figures) the interval of its second half-year, which completes it.
        period = parse(conf["period"])
        halfyear = f"{period.year}S2" if period.kind == "year" else period.id
        logical_date = dag.timetable.logical_date_for(halfyear)
    if getattr(dag, "deadline", None):
        # Deadline alerts are the scheduler's and triggerer's business and never fire in dag.test();
        # worse, Airflow 3.3's dag.test() looks them up by the in-memory definition instead of
        # their stored id when the run succeeds, and fails on PostgreSQL. Run without them here.
        dag.deadline = None
    started = time.monotonic()
    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    state = str(getattr(dag_run, "state", None))
    log.info("%s finished %s in %.1fs", dag_id, state, time.monotonic() - started)
    if state != "success":
        states = task_states(dag_run)
        failed = [task_id for task_id, task_state in states.items() if task_state == "failed"]
        raise DagRunFailed(f"{dag_id} ended {state}; failed tasks: {', '.join(failed) or 'none'}", states)
    return dag_run


_SEVERITY = {"success": 0, "skipped": 1, "upstream_failed": 2, "failed": 3}


def task_states(dag_run: Any) -> dict[str, str]:
    """Final state of every task of a run (for a mapped task, the worst of its instances)."""
    states: dict[str, str] = {}
    for ti in dag_run.get_task_instances():
        state = str(getattr(ti.state, "value", ti.state))
        if _SEVERITY.get(state, 4) >= _SEVERITY.get(states.get(ti.task_id, "success"), 4):
            states[ti.task_id] = state
    return states
