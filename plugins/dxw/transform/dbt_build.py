"""One ``dbt build`` per DAG run: what to select, running it, and what each node ended as.

The transform and the marts run dbt once, with its threads, and per-node Airflow tasks report
each node's result (``dxw.transform.dbt_tasks``). A run started by new raw data builds only what is
downstream of the sources that landed, provided the previous build of the same DAG was clean and
the dbt project has not changed since; otherwise, and for a manual run, everything is built.
A build whose inputs are those of the group's last clean build (:func:`input_fingerprint`: the
loaded batches, the published marts, the project, the dbt version, the other groups' builds) does
not run dbt at all: it is logged as skipped. Every build is logged in ``marts_audit.dbt_build``.
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
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
alter table marts_audit.dbt_build add column if not exists inputs text;
alter table marts_audit.dbt_build add column if not exists code text;
alter table marts_audit.dbt_build add column if not exists unit_tests boolean;
comment on table marts_audit.dbt_build is
    'One row per dbt build of a DAG run: what was selected (empty: everything), for which project '
    'version, code and inputs, whether it ran the unit tests, and whether every node and test '
    'passed (status clean), not (failed), or dbt did not run because the inputs were those of '
    'the last clean build (skipped).';
"""

# What the build reads in the warehouse besides the project, by the table that says it (a table not
# there yet reads as an empty one: ''): the loaded batches (raw tables are append-only and read through the
# ledger's loaded batches), the published marts (the change since the previous half-year compares
# with them), and the other DAGs' groups' latest builds (the marts read the core). Another group's
# build that is not clean may have been partly retried since (a node's retry is not logged): it
# makes the fingerprint unique, so nothing is skipped until that group builds clean.
INPUTS_SQL = {
    "raw.load_batch": (
        "select coalesce(md5(string_agg(ledger::text, E'\\n' order by batch_id)), '') "
        "from raw.load_batch as ledger where status = 'loaded'"
    ),
    "marts_audit.publish_log": "select coalesce(max(publish_id)::text, '') from marts_audit.publish_log",
    "marts_audit.dbt_build": (
        "select coalesce(string_agg(build_id::text || ':' || "
        "case when status = 'clean' then status else gen_random_uuid()::text end, "
        "',' order by build_id), '') "
        "from (select distinct on (dag_id, group_id) build_id, status from marts_audit.dbt_build "
        "where (dag_id, group_id) <> (%(dag_id)s, %(group_id)s) and status <> 'skipped' "
        "order by dag_id, group_id, build_id desc) as latest"
    ),
}


class DbtBuildError(RuntimeError):
    """dbt could not run the build at all (no results): the build task fails and is retried."""


@dataclass
class BuildOutcome:
    """What a build selected (empty: everything in the group) and each node's result."""

    selection: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False  # dbt did not run: nothing changed since the last clean build

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


def _last_build(conn: Any, dag_id: str, group_id: str) -> tuple[str, str, str | None] | None:
    """Status, project signature and inputs of the group's latest build that ran dbt."""
    if conn.execute("select to_regclass('marts_audit.dbt_build')").fetchone()[0] is None:
        return None
    return conn.execute(
        "select status, project_signature, inputs from marts_audit.dbt_build "
        "where dag_id = %s and group_id = %s and status <> 'skipped' order by build_id desc limit 1",
        (dag_id, group_id),
    ).fetchone()


def last_build_was_clean(conn: Any, dag_id: str, group_id: str, signature: str) -> bool:
    """Whether the latest build of this DAG's group passed every node and test of this project version."""
    row = _last_build(conn, dag_id, group_id)
    return row is not None and row[0] == "clean" and row[1] == signature


def code_fingerprint(args: list[str], signature: str, settings: Settings) -> str:
    """A hash of what a build computes with: the same code gives the same results from the same data.

    The project's files (``signature``: models, macros, seeds, configuration with its dbt vars),
    the dbt version, the arguments, the warehouse and time zone dbt runs with, and the day there
    (``dim_unit.is_current``).
    """
    env = dbt.connection_env(database.resolve(settings).warehouse, settings)
    parts = [
        signature,
        metadata.version("dbt-core"),
        metadata.version("dbt-postgres"),
        json.dumps(args),
        *(env[name] for name in ("DXW_PG_HOST", "DXW_PG_PORT", "DXW_PG_DBNAME", "DXW_TIMEZONE")),
        datetime.now(ZoneInfo(settings.timezone)).date().isoformat(),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def input_fingerprint(conn: Any, dag_id: str, group_id: str, code: str) -> str:
    """A hash of everything a build reads: its ``code`` (:func:`code_fingerprint`), the loaded
    batches, the published marts and the other groups' latest builds (:data:`INPUTS_SQL`).
    Equal fingerprints, equal results; a few milliseconds, against seconds for dbt to start."""
    warehouse = [
        conn.execute(query, {"dag_id": dag_id, "group_id": group_id} if "%(" in query else None).fetchone()[0]
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None
        else ""
        for table, query in INPUTS_SQL.items()
    ]
    return hashlib.sha256("\0".join([code, *(str(part) for part in warehouse)]).encode()).hexdigest()


def unit_tests_passed(conn: Any, dag_id: str, group_id: str, code: str) -> bool:
    """Whether a clean build of this group ran its unit tests with this ``code``.

    A dbt unit test runs a model's SQL on the rows it gives: its result depends on the code
    alone, not on the warehouse's data, so it need not run again until the code changes.
    """
    if conn.execute("select to_regclass('marts_audit.dbt_build')").fetchone()[0] is None:
        return False
    return conn.execute(
        "select exists (select from marts_audit.dbt_build where dag_id = %s and group_id = %s "
        "and code = %s and unit_tests and status = 'clean')",
        (dag_id, group_id, code),
    ).fetchone()[0]


def unchanged_since_last_clean_build(conn: Any, dag_id: str, group_id: str, inputs: str) -> bool:
    """Whether the group's latest build that ran dbt was clean and read exactly ``inputs``."""
    row = _last_build(conn, dag_id, group_id)
    return row is not None and row[0] == "clean" and row[2] == inputs


def start_log(conn: Any, dag_id: str, group_id: str, run_id: str | None, signature: str,
              selection: list[str], inputs: str | None = None, status: str = "running",
              code: str | None = None, unit_tests: bool | None = None) -> int:  # fmt: skip
    with conn.transaction():
        # The two DAGs' first builds may create the log at once: one does, the other waits.
        conn.execute("select pg_advisory_xact_lock(hashtext('marts_audit.dbt_build'))")
        conn.execute(BUILD_LOG_DDL)
        row = conn.execute(
            "insert into marts_audit.dbt_build "
            "(dag_id, group_id, run_id, project_signature, selection, inputs, code, unit_tests, status, "
            "finished_at, nodes) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "case when %s = 'skipped' then clock_timestamp() end, case when %s = 'skipped' then 0 end) "
            "returning build_id",
            (
                dag_id,
                group_id,
                run_id,
                signature,
                selection,
                inputs,
                code,
                unit_tests,
                status,
                status,
                status,
            ),
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


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def partial_parse_state(settings: Settings) -> Path:
    """Where the builds keep dbt's partial-parse state between them (one file per project folder).

    dbt parses the whole project again when the connection it parsed with changed, and the
    project's own state (``make manifest``, ``target/``) was parsed without the server's
    address: seeded with it, every build parsed the whole project (`dbt parse` of this project on
    the 2-core machine: 4.6 s whole, 2.3 s when nothing changed). Seeded with the state of the
    last build, which dbt wrote for this connection, a build parses only what changed; dbt still
    compares every file, the variables, the profile and its own version with the state, and
    parses again whatever differs.
    """
    folder = hashlib.sha256(str(settings.dbt_project_dir.resolve()).encode()).hexdigest()[:16]
    return settings.home / "dbt" / "partial-parse" / folder / PARTIAL_PARSE_FILE


def _keep_parse_state(parsed: Path, state: Path) -> None:
    """Keep a build's parse state for the next build: best effort, the build's outcome stands.

    Whole or not at all for a build that starts meanwhile: written to a file of its own beside
    the state (builds in other containers share the home, and their process ids), then renamed.
    """
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
        handle, beside = tempfile.mkstemp(dir=state.parent, prefix=f".{state.name}.")
        try:
            with open(handle, "wb") as out, parsed.open("rb") as source:
                shutil.copyfileobj(source, out)
            os.replace(beside, state)
        except BaseException:
            Path(beside).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning(
            "dbt's parse state not kept for the next build (%s): it will parse the whole project", exc
        )


def run_build(args: list[str], settings: Settings | None = None, threads: int | None = None) -> BuildOutcome:
    """Run ``dbt build <args>`` once, with dbt's threads; each node's result from run_results.json.

    The build writes into a target folder of its own (builds of two DAGs may run at once), seeded
    with the partial-parse state of the last build (:func:`partial_parse_state`) so dbt does not
    parse the whole project again. dbt's output goes to this process's log, line by line. A build
    whose nodes fail still returns: the per-node tasks report them. Raises
    :class:`DbtBuildError` when dbt produced no results.
    """
    settings = settings or get_settings()
    project = settings.dbt_project_dir
    # profiles.yml reads the connection dxw derives from the warehouse URL (no defaults of its own).
    env = {**os.environ, **dbt.connection_env(database.resolve(settings).warehouse, settings)}
    state = partial_parse_state(settings)
    with tempfile.TemporaryDirectory(prefix="dxw-dbt-") as target:
        parsed = Path(target) / PARTIAL_PARSE_FILE
        for seed in (state, project / "target" / PARTIAL_PARSE_FILE):
            if seed.exists():
                shutil.copy2(seed, parsed)
                break
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
        if process.returncode in (0, 1) and parsed.exists():
            _keep_parse_state(parsed, state)
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


def build(dag_id: str, group_id: str, run_id: str | None = None, select: list[str] | None = None,
          exclude: list[str] | None = None, full_refresh: bool = False,
          settings: Settings | None = None) -> BuildOutcome:  # fmt: skip
    """A group's ``dbt build``, logged in ``marts_audit.dbt_build``; skipped when nothing changed.

    When the inputs (:func:`input_fingerprint`) are those of the group's last build that ran dbt
    and it was clean, dbt does not run: the build is logged as skipped, with no node results.
    The unit tests run when no clean build of the group ran them with this code
    (:func:`unit_tests_passed`). ``--full-refresh`` always runs, unit tests included.
    """
    settings = settings or get_settings()
    select, exclude = list(select or []), list(exclude or [])
    args = (["--select", *select] if select else []) + (["--exclude", *exclude] if exclude else [])
    started = time.monotonic()
    signature = project_signature(settings.dbt_project_dir)
    # A full refresh computes what a build computes: after one, a build with nothing new is skipped.
    code = code_fingerprint(args, signature, settings)
    args += ["--full-refresh"] if full_refresh else []
    with database.connect(settings, autocommit=True) as conn:
        inputs = input_fingerprint(conn, dag_id, group_id, code)
        if not full_refresh and unchanged_since_last_clean_build(conn, dag_id, group_id, inputs):
            start_log(conn, dag_id, group_id, run_id, signature, select, inputs, "skipped", code)
            log.info("nothing changed since the last clean build of %s.%s: dbt not run", dag_id, group_id)
            return BuildOutcome(selection=select, seconds=time.monotonic() - started, skipped=True)
        unit_tests = full_refresh or not unit_tests_passed(conn, dag_id, group_id, code)
        build_id = start_log(conn, dag_id, group_id, run_id, signature, select, inputs, "running", code,
                             unit_tests)  # fmt: skip
    if not unit_tests:
        log.info("the unit tests passed with this code in an earlier clean build: not run again")
        args = (["--select", *select] if select else []) + ["--exclude", *exclude, "resource_type:unit_test"]
    outcome = None
    try:
        outcome = run_build(args, settings)
        outcome.selection = select
    finally:
        with database.connect(settings, autocommit=True) as conn:
            finish_log(conn, build_id, outcome)
    return outcome
