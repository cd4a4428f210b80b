"""The pipeline under the real deployment `make airflow` starts, not under dag.test().

`dxw airflow up` runs in a DXW_HOME of its own (its own embedded PostgreSQL, Redis, simulator,
Airflow home and logs) on free ports, so it never meets the tests' in-process Airflow nor a
deployment the user keeps running. Everything is driven the way an operator drives it: the
`dxw airflow trigger` command and Airflow's REST API. The in-process run of the same half-year
(`dxw.orchestration.dagrun`, as `dxw run` does it) is the reference for the published marts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from dxw import publish
from dxw.intake import upload_folder
from dxw.orchestration import dagrun
from dxw.orchestration.airflow_api import AirflowApi
from dxw.orchestration.inbox import INBOX_ASSET_NAME
from dxw.settings import get_settings
from dxw.simulator.upload_data import drop_uploads, write_filled

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.deployment]

PERIOD = "2025S1"
HALF_YEAR_MARTS = ("mart_semiannual_indicator", "mart_unit_scorecard", "mart_reporting_compliance")
LATER = "2025S2"
LOAD_LINEAGE = {"last_loaded_at", "load_signature"}  # a delivery that is new once 2025S1 has landed
INGESTIONS = ("ingest_public_service_portal", "ingest_document_management", "ingest_reporting_system")
DAGS = (*INGESTIONS, "ingest_unit_uploads", "transform_warehouse", "semiannual_marts")
DXW = str(Path(sys.executable).parent / "dxw")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    def __init__(self, home: Path):
        self.home = home
        # Only what an operator's shell would have: nothing of the test session's Airflow or dxw set-up.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DXW_", "DBT_"))}
        env.update(
            DXW_HOME=str(home),
            DXW_AIRFLOW_PORT=str(_free_port()),
            DXW_REDIS_PORT=str(_free_port()),
            DXW_SIMULATOR_PORT=str(_free_port()),
            DXW_BI_PASSWORD=os.environ["DXW_BI_PASSWORD"],
            DXW_LOADER_PASSWORD=os.environ["DXW_LOADER_PASSWORD"],
        )
        self.env = env
        self.output = ""

    def dxw(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        cwd = get_settings().project_dir
        result = subprocess.run(
            [DXW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=cwd
        )
        self.output += f"$ dxw {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}\n"
        return result

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['DXW_AIRFLOW_PORT']}"

    def api(self) -> AirflowApi:
        password = json.loads((self.home / "deployment" / "secrets.json").read_text())["admin_password"]
        return AirflowApi(self.url, "admin", password)

    def warehouse(self) -> psycopg.Connection:
        url = self.dxw("db", "url", "--show-password").stdout.strip().splitlines()[-1]
        return psycopg.connect(url, autocommit=True)


def _checksums(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every mart's rows of the half-year, but for their load lineage.

    ``last_loaded_at`` and ``load_signature`` say when the rows' batches landed and which they
    were: two warehouses loaded at different moments differ there and nowhere else.
    """
    columns = conn.execute(
        "select table_name, array_agg(column_name::text order by ordinal_position) "
        "from information_schema.columns where table_schema = 'marts' "
        "group by 1 having %s = any(array_agg(column_name::text)) order by 1",
        (publish.PERIOD_COLUMN,),
    ).fetchall()
    sums = {}
    for table, names in columns:
        kept = sql.SQL(", ").join(sql.Identifier(name) for name in names if name not in LOAD_LINEAGE)
        row = conn.execute(
            sql.SQL(
                "select count(*), coalesce(md5(string_agg(r::text, E'\\n' order by r::text)), '') "
                "from (select {} from marts.{} where {} = %s) as r"
            ).format(kept, sql.Identifier(table), sql.Identifier(publish.PERIOD_COLUMN)),
            (PERIOD,),
        ).fetchone()
        sums[table] = (row[0], row[1])
    return sums


@pytest.fixture(scope="module")
def in_process_marts(simulator):
    """The reference: the same deliveries run in-process (dag.test, as `dxw run` does)."""
    from tests.conftest import URLS, reset_warehouse

    reset_warehouse()
    for dag_id in INGESTIONS:
        dagrun.run(dag_id, {"period": PERIOD, "source_url": simulator.url})
    dagrun.run("ingest_reporting_system", {"period": LATER, "source_url": simulator.url})
    shutil.rmtree(get_settings().uploads_dir, ignore_errors=True)
    drop_uploads(upload_folder.folders()["inbox"], PERIOD)
    dagrun.run("ingest_unit_uploads")
    dagrun.run("transform_warehouse")
    dagrun.run("semiannual_marts", {"period": PERIOD})
    with psycopg.connect(URLS.warehouse) as conn:
        checksums = _checksums(conn)
    # The half-year's marts have rows (the year's marts, period 2025, none for 2025S1).
    assert all(checksums[name][0] for name in HALF_YEAR_MARTS), checksums
    return checksums


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, in_process_marts):
    deployment = Deployment(tmp_path_factory.mktemp("deployment-home"))
    started = deployment.dxw("airflow", "up", "--timeout", "300", "--show-password")
    try:
        assert started.returncode == 0, deployment.output
        yield deployment
    finally:
        stopped = deployment.dxw("airflow", "down")
        deployment.dxw("db", "stop")
        sys.stdout.write(deployment.output)  # shown by pytest when a test failed
    assert stopped.returncode == 0, deployment.output
    assert "stopped:" in stopped.stdout, deployment.output
    assert deployment.dxw("airflow", "status").returncode == 1, deployment.output


def test_one_command_starts_every_component_on_the_loopback(deployment):
    # `dxw airflow up` prints the UI address and an admin login that the REST API accepts.
    match = re.search(r"Airflow UI: (\S+)\s+login: (\S+) / (\S+)", deployment.output)
    assert match, deployment.output
    assert match[1] == deployment.url
    api = AirflowApi(match[1], match[2], match[3])
    api.wait_for_dags(list(DAGS))
    health = api.request("GET", "/api/v2/monitor/health").json()
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    assert {part: health[part]["status"] for part in parts} == dict.fromkeys(parts, "healthy")
    status = deployment.dxw("airflow", "status").stdout
    names = re.findall(r"^\s+(\S+)\s+pid (\d+)", status, re.MULTILINE)
    assert [name for name, _ in names] == [
        "redis", "simulator", "api-server", "scheduler", "dag-processor", "triggerer", "celery-worker",
    ]  # fmt: skip
    # Nothing of the deployment listens beyond 127.0.0.1 (Airflow's log servers would bind 0.0.0.0).
    listening = []
    for _, pid in names:
        root = psutil.Process(int(pid))
        for process in (root, *root.children(recursive=True)):
            for sock in process.net_connections(kind="inet"):
                if sock.status == psutil.CONN_LISTEN:
                    listening.append((process.name(), sock.laddr.ip, sock.laddr.port))
    assert {ip for _, ip, _ in listening} == {"127.0.0.1"}, listening
    ports = {port for _, _, port in listening}
    for variable in ("DXW_AIRFLOW_PORT", "DXW_REDIS_PORT", "DXW_SIMULATOR_PORT"):
        assert int(deployment.env[variable]) in ports, (variable, listening)
    # A second start refuses while this one runs (it would fight over the ports and the broker).
    again = deployment.dxw("airflow", "up")
    assert again.returncode == 1, deployment.output
    assert "already running" in again.stdout, deployment.output


def _wait_all_finished(api: AirflowApi, dag_id: str, timeout: float = 600) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.runs(dag_id)
        if runs and all(run["state"] in ("success", "failed") for run in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"{dag_id}: runs not finished within {timeout:.0f} s: {api.runs(dag_id)}")


def _states(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in api.task_instances(dag_id, run_id)}


def _inbox_asset(api: AirflowApi) -> dict | None:
    found = api.request("GET", "/api/v2/assets", params={"name_pattern": INBOX_ASSET_NAME}).json()["assets"]
    return next((asset for asset in found if asset["name"] == INBOX_ASSET_NAME), None)


def _triggerer_log(deployment: Deployment) -> str:
    path = deployment.home / "deployment" / "logs" / "triggerer.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _watched(deployment: Deployment, api: AirflowApi, watching: str) -> bool:
    asset = _inbox_asset(api) or {}
    return bool(asset.get("watchers")) and watching in _triggerer_log(deployment)


def _watcher_report(deployment: Deployment, api: AirflowApi) -> str:
    """The inbox watcher as the deployment shows it (REST API, process list, triggerer log)."""
    asset = _inbox_asset(api)
    events = []
    if asset:
        params = {"asset_id": asset["id"]}
        events = api.request("GET", "/api/v2/assets/events", params=params).json()["asset_events"]
    tail = "\n".join(_triggerer_log(deployment).splitlines()[-40:])
    return (
        f"asset: {asset}\nasset events: {events}\nruns: {api.runs('ingest_unit_uploads')}\n"
        f"{deployment.dxw('airflow', 'status').stdout}\ntriggerer.log, last lines:\n{tail}"
    )


def test_the_pipeline_runs_under_the_deployment(deployment, in_process_marts):
    api = deployment.api()
    api.wait_for_dags(list(DAGS))

    # Unpaused before any data, semiannual_marts runs its timetable's latest half-year (on 1
    # December 2026, 2026S1, whose Decree 09 window closed on 14 June): it has no rows in the
    # core, so the run skips instead of failing an empty gate.
    api.set_paused("semiannual_marts", False)
    scheduled = _wait_all_finished(api, "semiannual_marts")
    assert [(run["run_type"], run["state"]) for run in scheduled] == [("scheduled", "success")]
    states = _states(api, "semiannual_marts", scheduled[0]["dag_run_id"])
    assert (states["half_year"], states["publish_marts"]) == ("skipped", "skipped"), states

    # Every source delivers 2025S1 while the transform is paused (a paused DAG is sent no asset
    # event). Unpaused, each ingestion DAG also runs its schedule's latest tick, which pulls the
    # previous and the current half-year from the simulator: those runs succeed on any date.
    inbox = deployment.home / "uploads" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    assert drop_uploads(inbox, PERIOD)
    for dag_id in INGESTIONS:
        result = deployment.dxw("airflow", "trigger", dag_id, "--period", PERIOD, "--unpause", "--wait")
        assert result.returncode == 0, deployment.output
    assert deployment.dxw("airflow", "trigger", "ingest_unit_uploads", "--unpause", "--wait").returncode == 0
    for dag_id in (*INGESTIONS, "ingest_unit_uploads"):
        runs = _wait_all_finished(api, dag_id)
        assert {run["state"] for run in runs} == {"success"}, (dag_id, runs)
        assert "scheduled" in {run["run_type"] for run in runs}, (dag_id, runs)
    assert not list(inbox.rglob("*.xlsx")), "the district forms were not taken from the inbox"
    assert api.runs("transform_warehouse") == []

    # Unpaused, the transform waits for an asset event: a re-pull with nothing new emits none.
    api.set_paused("transform_warehouse", False)
    result = deployment.dxw("airflow", "trigger", "ingest_reporting_system", "--period", PERIOD, "--wait")
    assert result.returncode == 0, deployment.output
    assert f"land_data_values skipped: {PERIOD}: the source delivered nothing new" in result.stdout
    time.sleep(10)  # asset-triggered runs are created within a scheduler loop (about a second)
    assert api.runs("transform_warehouse") == []

    # A new delivery (the reporting system's next half-year) starts the transform through its event.
    result = deployment.dxw("airflow", "trigger", "ingest_reporting_system", "--period", LATER, "--wait")
    assert result.returncode == 0, deployment.output
    deadline = time.monotonic() + 60
    while not (transforms := api.runs("transform_warehouse")) and time.monotonic() < deadline:
        time.sleep(1)
    assert [run["run_type"] for run in transforms] == ["asset_triggered"], transforms
    transform = api.wait_for_run("transform_warehouse", transforms[0]["dag_run_id"], timeout=1800)
    tasks = api.task_instances("transform_warehouse", transform["dag_run_id"])
    assert transform["state"] == "success", [(ti["task_id"], ti["state"]) for ti in tasks]
    # One dbt build through Celery in the dbt pool, and the node tasks (of the pool, with retries,
    # should one go on to a worker: dxw.transform.dbt_tasks).
    dbt_tasks = [ti for ti in tasks if ti["task_id"].startswith("dbt.")]
    assert len(dbt_tasks) > 10
    assert {ti["pool"] for ti in dbt_tasks} == {"dbt"}
    assert {ti["max_tries"] for ti in dbt_tasks} == {2}
    assert {ti["task_id"]: ti["state"] for ti in dbt_tasks}["dbt.build"] == "success"
    assert {ti["executor"] or "CeleryExecutor" for ti in tasks} == {"CeleryExecutor"}
    # The build ran on a worker; every node task started and ended in the triggerer (it passed or was
    # not selected), never queued for a worker (dxw.transform.dbt_tasks.DbtNodeTrigger).
    queued = {ti["task_id"] for ti in dbt_tasks if ti["queued_when"]}
    assert queued == {"dbt.build"}, queued

    def seconds(start: str, end: str) -> float:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()

    build = next(ti for ti in dbt_tasks if ti["task_id"] == "dbt.build")
    last = max(ti["end_date"] for ti in dbt_tasks)
    sys.stdout.write(
        f"transform_warehouse ran {seconds(transform['start_date'], transform['end_date']):.1f} s: "
        f"dbt.build {seconds(build['start_date'], build['end_date']):.1f} s, then its "
        f"{len(dbt_tasks) - 1} node tasks {seconds(build['end_date'], last):.1f} s\n"
    )

    # The half-year by name, through the REST API, whatever today's date: the same marts as in-process.
    result = deployment.dxw("airflow", "trigger", "semiannual_marts", "--period", PERIOD, "--wait")
    assert result.returncode == 0, deployment.output
    with deployment.warehouse() as conn:
        assert _checksums(conn) == in_process_marts
        published = conn.execute("select distinct period_id from marts_audit.publish_log").fetchall()
    assert published == [(PERIOD,)]

    # Every task's log is non-empty, at INFO, and readable through the API.
    checked = 0
    for dag_id in DAGS:
        for run in api.runs(dag_id):
            for ti in api.task_instances(dag_id, run["dag_run_id"]):
                if not ti["start_date"] or not ti["try_number"]:
                    continue  # skipped without running (downstream of a skip)
                run_id, task_id = run["dag_run_id"], ti["task_id"]
                text = api.task_log(dag_id, run_id, task_id, ti["try_number"], ti["map_index"])
                assert re.search(r"^\S+ info ", text, re.MULTILINE), (dag_id, ti["task_id"], text[:500])
                checked += 1
    assert checked > 40
    logs = list((deployment.home / "airflow" / "logs").rglob("*.log"))
    assert logs
    assert [path for path in logs if not path.stat().st_size] == []

    # A unit's file renamed into the inbox is answered with nobody triggering anything: the inbox
    # watcher (dxw.orchestration.inbox, in the triggerer) starts ingest_unit_uploads, which writes
    # the unit's rejection report (two of the rows are wrong) and archives the file.
    api.set_paused("transform_warehouse", True)  # the transform's run was checked above
    # The watcher is registered since ingest_unit_uploads was unpaused (at the DAG processor's next
    # parse of its file): the inbox asset names its trigger and the triggerer says it is watching.
    watching = f"watching {inbox.absolute()} every"
    deadline = time.monotonic() + 90
    while not (watched := _watched(deployment, api, watching)) and time.monotonic() < deadline:
        time.sleep(1)
    assert watched, f"the inbox watcher is not running:\n{_watcher_report(deployment, api)}"
    before = {run["dag_run_id"] for run in api.runs("ingest_unit_uploads")}
    staging = deployment.home / "uploads" / "staging"
    staging.mkdir()
    written = write_filled(staging / f"bao-cao-024-{PERIOD}.xlsx", "024", PERIOD, "with_errors")
    report = deployment.home / "uploads" / "outbox" / "024" / f"bao-cao-024-{PERIOD}.tu-choi.xlsx"
    report.unlink(missing_ok=True)
    (inbox / "024").mkdir(exist_ok=True)
    os.replace(written, inbox / "024" / written.name)
    dropped = time.monotonic()
    while not report.exists() and time.monotonic() - dropped < 120:
        time.sleep(0.2)
    answered = time.monotonic() - dropped
    assert report.exists(), f"no report {answered:.0f} s after the drop:\n{_watcher_report(deployment, api)}"
    runs = [run for run in _wait_all_finished(api, "ingest_unit_uploads") if run["dag_run_id"] not in before]
    # (The hourly safety net could add a scheduled run if the hour turns meanwhile.)
    assert "asset_triggered" in {run["run_type"] for run in runs}, runs
    assert {run["state"] for run in runs} == {"success"}, runs
    assert not list(inbox.rglob("*.xlsx")), "the file was not taken from the inbox"
    sys.stdout.write(f"inbox file answered {answered:.1f} s after it landed\n")
