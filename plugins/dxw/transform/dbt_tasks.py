"""The dbt task groups of the DAGs: one ``dbt build`` per run, one task per dbt node.

Rendered from the pre-built manifest (``target/manifest.json``: ``dxw manifest``, kept fresh by
``make``), so parsing a DAG file never runs dbt. A group is:

- ``<group>.build``: runs ``dbt build`` once over the group's selection with dbt's threads
  (``DXW_DBT_THREADS``); in ``transform_warehouse`` a run started by new raw data selects only
  what is downstream of the sources that landed (``dxw.transform.dbt_build``);
- ``<group>.<node>``: one task per seed and model (with its own tests) and per test spanning
  several nodes, wired as dbt orders them, tests before what dbt makes wait for them. It reports
  its node's result from the build: a failed node or test fails its task, and what depends on it
  is ``upstream_failed``; a node the run did not select is skipped. A retry of a node's task (or
  clearing it) runs ``dbt build`` for that node and its tests alone, then its dependants each
  rebuild theirs. Under the scheduler a node's task starts in the triggerer (``DbtNodeTrigger``)
  and ends there when its node passed or was not built: no worker process, no pool slot.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, TaskGroup
from airflow.triggers.base import BaseTrigger, StartTriggerArgs, TriggerEvent

from dxw.errors import ConfigurationError
from dxw.settings import get_settings

BUILD_TASK_ID = "build"
EXECUTABLE = ("model", "seed", "snapshot")


class ManifestMissing(ConfigurationError):
    """The dbt manifest the DAGs render from has not been built."""


@dataclass(frozen=True)
class Node:
    """A task of the group: a dbt node with the tests that only it feeds, or a test of several nodes."""

    unique_id: str
    name: str
    resource_type: str
    tests: tuple[str, ...]  # unique ids of the tests reported (and re-run) with it
    upstream: tuple[str, ...]  # unique ids of the group's nodes its task waits for

    @property
    def unique_ids(self) -> tuple[str, ...]:
        return (self.unique_id, *self.tests)

    def to_dict(self) -> dict[str, Any]:
        """As the trigger's keyword arguments carry it (JSON)."""
        return {**asdict(self), "tests": list(self.tests), "upstream": list(self.upstream)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        return cls(**{**data, "tests": tuple(data["tests"]), "upstream": tuple(data["upstream"])})


@cache
def _manifest(path: Path, mtime: float) -> dict[str, Any]:
    return json.loads(path.read_text())


def manifest() -> dict[str, Any]:
    path = get_settings().dbt_project_dir / "target" / "manifest.json"
    if not path.exists():
        raise ManifestMissing(f"{path} is missing: run `make manifest` (dbt parse) first")
    return _manifest(path, path.stat().st_mtime)


def _matches(node: dict[str, Any], selectors: list[str]) -> bool:
    """dbt's selection for what the DAGs use: ``tag:<tag>`` and a node's name."""
    return any(
        selector.removeprefix("tag:") in node.get("tags", [])
        if selector.startswith("tag:")
        else selector == node["name"]
        for selector in selectors
    )


def group_nodes(manifest: dict[str, Any], select: list[str], exclude: list[str]) -> dict[str, Node]:
    """The group's tasks as dbt builds them with ``--select``/``--exclude``, by unique id.

    A test goes with its node when it tests that one node (dbt builds the node's dependants once
    its tests passed); a test of several nodes (relationships, singular tests) is a task of its
    own, after its nodes and before every node that descends from all of them (dbt's rule).
    """
    nodes = manifest["nodes"]
    parents = {uid: list(node.get("depends_on", {}).get("nodes", [])) for uid, node in nodes.items()}
    chosen = {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] in EXECUTABLE
        and (not select or _matches(node, select))
        and not _matches(node, exclude)
    }
    ancestors: dict[str, set[str]] = {}

    def ancestors_of(uid: str) -> set[str]:
        if uid not in ancestors:
            found: set[str] = set()
            for parent in parents.get(uid, []):
                found |= {parent, *ancestors_of(parent)}
            ancestors[uid] = found
        return ancestors[uid]

    attached: dict[str, list[str]] = {uid: [] for uid in chosen}
    detached: list[str] = []
    for uid, node in nodes.items():
        if node["resource_type"] != "test" or _matches(node, exclude):
            continue
        tested = [parent for parent in parents[uid] if parent in nodes]
        if not any(parent in chosen for parent in tested) and (select or tested):
            continue  # dbt selects a test with any of its nodes (and, building everything, all tests)
        if len(tested) == 1:
            attached[tested[0]].append(uid)
        else:
            detached.append(uid)
    for test in manifest.get("unit_tests", {}).values():
        model = f"model.{test['package_name']}.{test['model']}"
        if model in chosen:
            attached[model].append(test["unique_id"])

    waits_for = {uid: {p for p in parents[uid] if p in chosen} for uid in chosen}
    for test in detached:
        tested = set(parents[test])
        for uid in chosen:
            if tested & set(parents[uid]) and tested <= ancestors_of(uid):
                waits_for[uid].add(test)
    group = {
        uid: Node(
            uid,
            nodes[uid]["name"],
            nodes[uid]["resource_type"],
            tuple(sorted(attached[uid])),
            tuple(sorted(waits_for[uid])),
        )
        for uid in chosen
    }
    for test in detached:
        upstream = tuple(sorted(p for p in parents[test] if p in chosen))
        group[test] = Node(test, nodes[test]["name"], "test", (), upstream)
    return group


class DbtBuildOperator(BaseOperator):
    """Runs one ``dbt build`` over the group's selection; returns each node's result (XCom)."""

    def __init__(self, *, select: list[str], exclude: list[str], select_changed: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.select = select
        self.exclude = exclude
        self.select_changed = select_changed

    def execute(self, context: Any) -> dict[str, Any]:
        from dxw.transform import dbt_build
        from dxw.warehouse import database

        settings = get_settings()
        dag_id, group_id = self.dag_id, self.task_group.group_id if self.task_group else ""
        signature = dbt_build.project_signature(settings.dbt_project_dir)
        select = list(self.select)
        with database.connect(autocommit=True) as conn:
            if self.select_changed:
                changed = _changed_raw_assets(context)
                if changed and dbt_build.last_build_was_clean(conn, dag_id, group_id, signature):
                    select = dbt_build.changed_selection(changed, manifest())
                    self.log.info("new data in %s: building %s", ", ".join(sorted(changed)), " ".join(select))
                elif changed:
                    self.log.info(
                        "the last build was not clean or the dbt project changed: building everything"
                    )
                else:
                    self.log.info("no triggering raw asset (a manual run): building everything")
        outcome = dbt_build.build(
            dag_id, group_id, context.get("run_id"), select, self.exclude, settings=settings
        )
        return {
            "selection": outcome.selection,
            "results": outcome.results,
            "seconds": outcome.seconds,
            "skipped": outcome.skipped,
            "try_number": context["ti"].try_number,
        }


def _changed_raw_assets(context: Any) -> set[str]:
    """The raw assets whose events started this run, or those a manual run names (conf raw_assets)."""
    names = {getattr(asset, "name", "") for asset in (context.get("triggering_asset_events") or {})}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    names |= set(conf.get("raw_assets") or [])
    return {name for name in names if name.startswith("raw.")}


@dataclass(frozen=True)
class Verdict:
    """What a node's task does with the build's outcome: ``skip``, ``report`` its results, or ``rebuild``."""

    action: str
    reason: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def verdict(node: Node, outcome: dict[str, Any] | None, try_number: int) -> Verdict:
    """The one rule of a node's task, wherever it runs (the triggerer first, a worker when needed)."""
    if outcome is None:
        return Verdict("skip", "the group's dbt build did not run (skipped): nothing to report")
    results = {uid: outcome["results"][uid] for uid in node.unique_ids if uid in outcome["results"]}
    if try_number > outcome["try_number"]:
        # A retry, or a clear of this task alone: the build's result is this task's last try.
        return Verdict("rebuild", f"try {try_number}: building {node.name} and its tests again")
    if outcome.get("skipped"):
        return Verdict(
            "skip",
            "nothing changed since the group's last clean build (loaded batches, published marts, "
            "dbt project, other builds): dbt did not run",
        )
    if not results:
        return Verdict(
            "skip",
            f"{node.name} is not downstream of what changed: this run's build selected "
            f"{' '.join(outcome['selection'])}",
        )
    if results.get(node.unique_id, {}).get("status") == "skipped":
        # dbt skipped it after a failure upstream; that upstream task has since succeeded (a retry).
        return Verdict("rebuild", f"dbt skipped {node.name} in the build; its upstream is built now")
    return Verdict("report", results=results)


def result_lines(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """A line per node and test of the results, and the problems among them (failures and errors)."""
    from dxw.transform.dbt_build import FAILED

    lines, problems = [], []
    for uid, result in sorted(results.items()):
        # model.<project>.<name>, test.<project>.<name>.<hash>, unit_test.<project>.<model>.<name>
        kind, _, *names = uid.split(".")
        name = names[-1] if kind == "unit_test" else names[0]
        lines.append(f"{name:<60} {result['status']:<8} {result['seconds']:6.2f} s")
        if result["status"] in FAILED:
            problems.append(f"{name}: {result['status']}: {result['message']}")
    return lines, problems


class DbtNodeTrigger(BaseTrigger):
    """A node's task in the triggerer: it reports a passed or skipped node from the build's XCom.

    The task starts here (``start_from_trigger``) and ends here when the node passed or was not
    built, so the forty-odd node tasks of a run take no worker process and no pool slot; a failed
    node, a retry and a node to rebuild go on to a worker (``DbtNodeOperator.execute``), where the
    task fails with dbt's messages or rebuilds the node. ``dag.test()`` runs every task on its
    worker path, which applies the same ``verdict``.
    """

    def __init__(self, node: dict[str, Any], build_task_id: str):
        super().__init__()
        self.node = node
        self.build_task_id = build_task_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.{type(self).__qualname__}", {
            "node": self.node,
            "build_task_id": self.build_task_id,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk.execution_time.xcom import XCom
        from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent
        from asgiref.sync import sync_to_async

        ti = self.task_instance
        assert ti is not None, "a node's trigger runs for its task instance"
        outcome = await sync_to_async(XCom.get_one)(
            key="return_value", dag_id=ti.dag_id, task_id=self.build_task_id, run_id=ti.run_id, map_index=-1
        )
        found = verdict(Node.from_dict(self.node), outcome, ti.try_number)
        if found.action == "skip":
            self.log.info("%s", found.reason)
            yield TaskSkippedEvent()
            return
        if found.action == "report":
            lines, problems = result_lines(found.results)
            if not problems:
                for line in lines:
                    self.log.info("%s", line)
                yield TaskSuccessEvent()
                return
        self.log.info("%s: on to a worker", found.reason or "the node failed")
        yield TriggerEvent({"action": found.action})


class DbtNodeOperator(BaseOperator):
    """Reports one dbt node's result (with its tests) from the group's build; a retry rebuilds it.

    The task starts in the triggerer (``DbtNodeTrigger``); ``execute`` runs on a worker when the
    trigger sends it there, and under ``dag.test()``.
    """

    def __init__(self, *, node: Node, build_task_id: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.node = node
        self.build_task_id = build_task_id
        self.start_from_trigger = True
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=f"{__name__}.{DbtNodeTrigger.__qualname__}",
            trigger_kwargs={"node": node.to_dict(), "build_task_id": build_task_id},
            next_method="resume_on_worker",
        )

    def resume_on_worker(self, context: Any, event: dict[str, Any] | None = None) -> None:
        """Where the trigger sends a failed node, a retry or a node to rebuild."""
        self.execute(context)

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import AirflowSkipException

        ti = context["ti"]
        found = verdict(self.node, ti.xcom_pull(task_ids=self.build_task_id), ti.try_number)
        if found.action == "skip":
            raise AirflowSkipException(found.reason)
        results = found.results
        if found.action == "rebuild":
            self.log.info("%s", found.reason)
            results = self._rebuild()
        self._report(results)

    def _rebuild(self) -> dict[str, dict[str, Any]]:
        from dxw.transform import dbt_build

        outcome = dbt_build.run_build(["--select", self.node.name], threads=1)
        return {uid: result for uid, result in outcome.results.items() if uid in self.node.unique_ids}

    def _report(self, results: dict[str, dict[str, Any]]) -> None:
        from airflow.sdk.exceptions import AirflowException

        lines, problems = result_lines(results)
        for line in lines:
            self.log.info("%s", line)
        if problems:
            what = f"dbt {self.node.resource_type} {self.node.name}"
            raise AirflowException(f"{what} failed:\n" + "\n".join(problems))


def dbt_task_group(group_id: str, select: list[str] | None = None, exclude: list[str] | None = None,
                   select_changed: bool = False) -> TaskGroup:  # fmt: skip
    """One dbt build over the selection and a task per node, in a task group named ``group_id``.

    ``select_changed``: a run started by raw asset events builds only what is downstream of them.
    """
    settings = get_settings()
    # Each task may run dbt on a core: the pool (created by `dxw airflow up`) bounds how many run at
    # once, so a small worker still answers its heartbeats; a task that lost its heartbeat anyway is
    # retried (a dbt build is idempotent).
    task_args = {
        "pool": settings.dbt_pool,
        "retries": settings.dbt_task_retries,
        "retry_delay": timedelta(seconds=settings.dbt_task_retry_delay),
    }
    nodes = group_nodes(manifest(), select or [], exclude or [])
    with TaskGroup(group_id=group_id) as group:
        build = DbtBuildOperator(
            task_id=BUILD_TASK_ID, select=select or [], exclude=exclude or [], select_changed=select_changed,
            doc_md="One `dbt build` over this group's selection, with dbt's threads.", **task_args,
        )  # fmt: skip
        tasks = {
            uid: DbtNodeOperator(
                task_id=node.name,
                node=node,
                build_task_id=build.task_id,
                # A node the run did not select is skipped: what is downstream of it may still run.
                trigger_rule="none_failed",
                doc_md=f"dbt {node.resource_type} `{node.name}` with its {len(node.tests)} tests",
                **task_args,
            )
            for uid, node in nodes.items()
        }
        for uid, node in nodes.items():
            upstream = [tasks[parent] for parent in node.upstream]
            (upstream or [build]) >> tasks[uid]
    return group
