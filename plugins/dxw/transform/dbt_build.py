"""One ``dbt build`` per DAG run: what to select, running it, and what each node ended as.

The transform and the marts run dbt once, with its threads, and per-node Airflow tasks report
each node's result (``dxw.transform.dbt_tasks``). A run started by new raw data builds only what is
downstream of the sources that landed, provided the previous build of the same DAG was clean and
the dbt project has not changed since; otherwise, and for a manual run, everything is built.
Every build is logged in ``marts_audit.dbt_build``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dxw.settings import Settings, get_settings
from dxw.transform import dbt
from dxw.warehouse import database

log = logging.getLogger(__name__)

# run_results.json statuses: a node or test with one of these failed.
FAILED = frozenset({"error", "fail", "runtime error"})
# Files of the dbt project that are not its definition.
_NOT_PROJECT = {"target", "logs", "dbt_packages", ".user.yml", "__pycache__"}

BUILD_LOG_DDL = """
create schema if not exists marts_audit;
create table if not exists marts_audit.dbt_build (
    build_id bigint generated always as identity primary key,
    dag_id text not null,
    group_id text not null,
    run_id text,
    project_signature text not null,
    selection text[] not null,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status text not null default 'running',
    nodes integer,
    failed text[]
);
comment on table marts_audit.dbt_build is
    'One row per dbt build of a DAG run: what was selected (empty: everything), for which project '
    'version, and whether every node and test passed (status clean) or not (failed).';
"""


class DbtBuildError(RuntimeError):
    """dbt could not run the build at all (no results): the build task fails and is retried."""


@dataclass
class BuildOutcome:
    """What a build selected (empty: everything in the group) and each node's result."""

    selection: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        return sorted(uid for uid, result in self.results.items() if result["status"] in FAILED)


def project_signature(project_dir: Path) -> str:
    """A hash of the dbt project's files (models, macros, seeds, tests, configuration)."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or _NOT_PROJECT & set(relative.parts):
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def raw_sources(manifest: dict[str, Any]) -> dict[str, str]:
    """dbt's ``source:`` selector of every raw table, by the table's name (its dataset)."""
    return {
        source["identifier"]: f"source:{source['source_name']}.{source['name']}"
        for source in manifest["sources"].values()
        if source["schema"] == "raw"
    }


def changed_selection(raw_assets: Iterable[str], manifest: dict[str, Any]) -> list[str]:
    """``source:<raw table>+`` for every raw asset (``raw.<dataset>``) that changed."""
    sources = raw_sources(manifest)
    selectors = []
    for name in sorted(set(raw_assets)):
        dataset = name.removeprefix("raw.")
        if dataset not in sources:
            known = ", ".join(sorted(sources))
            raise ValueError(f"{name!r} is not a raw table of the dbt project (known: {known})")
        selectors.append(f"{sources[dataset]}+")
    return selectors


def last_build_was_clean(conn: Any, dag_id: str, group_id: str, signature: str) -> bool:
    """Whether the latest build of this DAG's group passed every node and test of this project version."""
    if conn.execute("select to_regclass('marts_audit.dbt_build')").fetchone()[0] is None:
        return False
    row = conn.execute(
        "select status, project_signature from marts_audit.dbt_build "
        "where dag_id = %s and group_id = %s order by build_id desc limit 1",
        (dag_id, group_id),
    ).fetchone()
    return row is not None and row[0] == "clean" and row[1] == signature


def start_log(conn: Any, dag_id: str, group_id: str, run_id: str | None, signature: str,
              selection: list[str]) -> int:  # fmt: skip
    with conn.transaction():
        # The two DAGs' first builds may create the log at once: one does, the other waits.
        conn.execute("select pg_advisory_xact_lock(hashtext('marts_audit.dbt_build'))")
        conn.execute(BUILD_LOG_DDL)
        row = conn.execute(
            "insert into marts_audit.dbt_build (dag_id, group_id, run_id, project_signature, selection) "
            "values (%s, %s, %s, %s, %s) returning build_id",
            (dag_id, group_id, run_id, signature, selection),
        ).fetchone()
    return int(row[0])


def finish_log(conn: Any, build_id: int, outcome: BuildOutcome | None) -> None:
    failed = None if outcome is None else outcome.failed
    conn.execute(
        "update marts_audit.dbt_build set finished_at = clock_timestamp(), status = %s, nodes = %s, "
        "failed = %s where build_id = %s",
        (
            "clean" if outcome is not None and not failed else "failed",
            None if outcome is None else len(outcome.results),
            failed,
            build_id,
        ),
    )


def run_build(args: list[str], settings: Settings | None = None, threads: int | None = None) -> BuildOutcome:
    """Run ``dbt build <args>`` once, with dbt's threads; each node's result from run_results.json.

    The build writes into a target folder of its own (builds of two DAGs may run at once), seeded
    with the project's partial-parse state so dbt does not parse the whole project again. dbt's
    output goes to this process's log, line by line. A build whose nodes fail still returns: the
    per-node tasks report them. Raises :class:`DbtBuildError` when dbt produced no results.
    """
    settings = settings or get_settings()
    project = settings.dbt_project_dir
    # profiles.yml reads the connection dxw derives from the warehouse URL (no defaults of its own).
    env = {**os.environ, **dbt.connection_env(database.resolve(settings).warehouse, settings)}
    with tempfile.TemporaryDirectory(prefix="dxw-dbt-") as target:
        partial = project / "target" / "partial_parse.msgpack"
        if partial.exists():
            shutil.copy2(partial, Path(target) / partial.name)
        command = [
            dbt.executable(), "build", *args,
            "--threads", str(threads or settings.dbt_threads),
            "--target-path", target,
        ]  # fmt: skip
        log.info("dbt %s", " ".join(command[1:]))
        started = time.monotonic()
        with subprocess.Popen(
            command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                log.info("%s", line.rstrip())
        seconds = time.monotonic() - started
        results_path = Path(target) / "run_results.json"
        if not results_path.exists() or process.returncode not in (0, 1):
            raise DbtBuildError(
                f"dbt build ended with exit code {process.returncode} and no results (see the log above)"
            )
        run_results = json.loads(results_path.read_text())
    results = {
        result["unique_id"]: {
            "status": str(result["status"]),
            "message": result.get("message"),
            "seconds": round(float(result.get("execution_time") or 0.0), 3),
        }
        for result in run_results["results"]
    }
    log.info("dbt build: %d nodes and tests in %.1f s, %d failed", len(results), seconds,
             sum(r["status"] in FAILED for r in results.values()))  # fmt: skip
    return BuildOutcome(selection=[], results=results, seconds=seconds)
