"""Latency benchmark: a unit's upload file landing in the inbox -> its receipt -> published marts.

    .venv/bin/python bench/latency.py --repeat 3

Under the real deployment (``dxw airflow up``: scheduler, dag-processor, triggerer, Celery
worker), in a ``DXW_HOME`` of its own (a temporary folder: its embedded PostgreSQL, Airflow
metadata, uploads and logs, removed at the end) on free ports.

Setup (not timed): the source simulator in a thread, the province pipeline once for the
half-year in-process (feeds, every district's form, transform, publish: the warehouse is warm
and the marts are published), then the deployment, with ``ingest_unit_uploads``,
``transform_warehouse`` and ``semiannual_marts`` unpaused, and one file dropped and answered so
that the inbox watcher is known to run.

Event path, ``--repeat`` times with different figures each time, the deployment idle before
each: district 024's form, one indicator answered "không có số liệu" (so the unit gets a receipt
listing it), is written beside the inbox and renamed into ``inbox/024/`` (t0 is the rename). Nothing
is triggered by hand until the transform ends: the inbox watcher starts ``ingest_unit_uploads``,
whose outlet starts ``transform_warehouse``. The receipt's time is its file's modification time in
``outbox/024/``. ``semiannual_marts`` is not started by an asset (it publishes a half-year by name):
as an operator would, the benchmark starts it for the half-year (``dxw airflow trigger
semiannual_marts --period``) as soon as the transform has succeeded; t1 is ``published_at`` of the
publish log, and the published ``marts.mart_semiannual_indicator`` must carry every figure of the
file, or the run fails. Stage times come from the runs' ``queued_at``/``start_date``/``end_date``.

Baseline, in the same run: the 10-minute poll that scheduled ``ingest_unit_uploads`` before the
watcher (``CronTriggerTimetable("*/10 * * * *")``): a file waits for the next tick, on average
5 minutes (300 s, the poll's expected wait for a file arriving at a uniformly random moment;
600 s at worst), then the same pipeline as measured here from the ingest run's creation.
Computed, not measured: the cron's wait is known exactly. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="dxw-bench-latency-"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Only what an operator's shell would have, and a home, ports and logins of its own.
for _name in [name for name in os.environ if name.startswith(("AIRFLOW", "DXW_", "DBT_"))]:
    if _name not in ("DXW_BI_PASSWORD", "DXW_LOADER_PASSWORD"):
        del os.environ[_name]
os.environ.update(
    DXW_HOME=str(HOME),
    DXW_AIRFLOW_PORT=str(_free_port()),
    DXW_REDIS_PORT=str(_free_port()),
)
os.environ.setdefault("DXW_BI_PASSWORD", "dxw-bench-bi-password")
os.environ.setdefault("DXW_LOADER_PASSWORD", "dxw-bench-loader-password")

import psycopg  # noqa: E402
from openpyxl import load_workbook  # noqa: E402

from dxw.cli import INGEST_DAGS, _output_to  # noqa: E402
from dxw.intake import upload_folder  # noqa: E402
from dxw.intake.uploads.template import HEADER_ROW  # noqa: E402
from dxw.orchestration import airflow_env, dagrun  # noqa: E402
from dxw.orchestration.airflow_api import AirflowApi  # noqa: E402
from dxw.settings import get_settings  # noqa: E402
from dxw.simulator import start_in_thread  # noqa: E402
from dxw.simulator.upload_data import drop_uploads, write_filled  # noqa: E402
from dxw.sources.registry import SOURCES  # noqa: E402
from dxw.warehouse import database  # noqa: E402

UNIT = "024"  # a district whose simulated form is the clean variant
POLL_SECONDS = 600  # before the watcher: CronTriggerTimetable("*/10 * * * *") on ingest_unit_uploads
POLL_WAIT = POLL_SECONDS / 2  # a file's expected wait for the next tick
# The reporting system also holds 024's households with broadband, and its figure is the official one
# (README, "The plan's rules": source precedence): the upload's stays in the core, not in the mart.
OFFICIAL_ELSEWHERE = {"DIST_HOUSEHOLD_BROADBAND"}
DXW = str(Path(sys.executable).parent / "dxw")
DAGS = ("ingest_unit_uploads", "transform_warehouse", "semiannual_marts")
LOGS = Path(__file__).resolve().parents[1] / ".dxw" / "logs"  # kept: HOME is removed at the end
LOG = LOGS / f"bench-latency-{datetime.now():%Y%m%d-%H%M%S}.log"


@dataclass
class Measure:
    """One file's way through the deployment: epoch seconds of each step."""

    landed: float = 0.0
    times: dict[str, float] = field(default_factory=dict)

    def since(self, step: str) -> float:
        return self.times[step] - self.landed


def dxw(*args: str, timeout: float = 900, check: bool = True) -> str:
    # The deployment sets Airflow's configuration itself; the warehouse is the home's embedded server
    # (the URL this process derived would make `dxw db stop` think the server is not its own).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "DXW_DATABASE_URL"}
    result = subprocess.run(
        [DXW, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    with LOG.open("a") as log:
        log.write(f"$ dxw {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}\n")
    if result.returncode and check:
        raise SystemExit(f"dxw {' '.join(args)} failed ({result.returncode}): see {LOG}")
    return result.stdout


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def form(index: int, period: str) -> tuple[Path, dict[str, tuple[int, int]]]:
    """UNIT's form with figures of its own (``index``), its last indicator "no data"; (path, figures)."""
    staging = HOME / "staging"
    staging.mkdir(exist_ok=True)
    path = write_filled(staging / f"bao-cao-{UNIT}-{period}.xlsx", UNIT, period)
    book = load_workbook(path)
    sheet = book.active
    rows = [r for r in range(HEADER_ROW + 1, sheet.max_row + 1) if isinstance(sheet.cell(r, 6).value, int)]
    figures = {}
    for row in rows[:-1]:
        code, numerator, denominator = (sheet.cell(row, c).value for c in (3, 6, 7))
        numerator = (numerator - 1 - index) % (denominator + 1)  # never the simulator's figure
        sheet.cell(row, 6).value = numerator
        if code not in OFFICIAL_ELSEWHERE:
            figures[code] = (numerator, denominator)
    sheet.cell(rows[-1], 6).value = sheet.cell(rows[-1], 7).value = "Không có số liệu"
    book.save(path)
    return path, figures


def drop(path: Path) -> tuple[float, Path]:
    """Rename ``path`` into UNIT's inbox folder; (t0, where its receipt will be)."""
    inbox = upload_folder.folders()["inbox"] / UNIT
    inbox.mkdir(parents=True, exist_ok=True)
    receipt = upload_folder.folders()["outbox"] / UNIT / f"{path.stem}.bien-nhan.xlsx"
    receipt.unlink(missing_ok=True)
    os.replace(path, inbox / path.name)
    return time.time(), receipt


def wait_for(what: str, check, timeout: float = 900, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(every)
    raise SystemExit(f"{what}: not within {timeout:.0f} s (see {HOME / 'deployment' / 'logs'})")


def run_after(api: AirflowApi, dag_id: str, moment: float) -> dict | None:
    """The first run of ``dag_id`` queued after ``moment``."""
    runs = [r for r in api.runs(dag_id) if r.get("queued_at") and epoch(r["queued_at"]) > moment]
    return min(runs, key=lambda r: epoch(r["queued_at"])) if runs else None


def finished(api: AirflowApi, dag_id: str, run_id: str) -> dict:
    """The run once finished (polled every half second, so the next step starts at once)."""
    return wait_for(
        f"{dag_id} {run_id}",
        lambda: (run := api.run(dag_id, run_id))["state"] in ("success", "failed") and run,
        timeout=1800,
        every=0.5,
    )


def wait_idle(api: AirflowApi) -> None:
    def idle() -> bool:
        return all(r["state"] in ("success", "failed") for dag_id in DAGS for r in api.runs(dag_id))

    wait_for("the deployment's runs to finish", idle, every=2)


def published_at(conn: psycopg.Connection, period: str) -> float | None:
    row = conn.execute(
        "select extract(epoch from max(published_at)) from marts_audit.publish_log where period_id = %s",
        (period,),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def verify(conn: psycopg.Connection, period: str, figures: dict[str, tuple[int, int]]) -> None:
    """Fail unless the published mart carries the file's numerator and denominator for each indicator."""
    rows = conn.execute(
        "select indicator_code, numerator::bigint, denominator::bigint from marts.mart_semiannual_indicator "
        "where unit_structure = 'before_2025' and unit_code = %s and period_id = %s "
        "and indicator_code = any(%s)",
        (UNIT, period, list(figures)),
    ).fetchall()
    found = {code: (numerator, denominator) for code, numerator, denominator in rows}
    if found != figures:
        raise SystemExit(f"published marts do not carry the file's figures: file {figures}, marts {found}")


def event_path(api: AirflowApi, conn: psycopg.Connection, index: int, period: str) -> Measure:
    wait_idle(api)
    path, figures = form(index, period)
    measure = Measure()
    measure.landed, receipt = drop(path)
    written = wait_for("the receipt", lambda: receipt.exists() and receipt.stat().st_mtime)
    measure.times["receipt written"] = written
    ingest = run_after(api, "ingest_unit_uploads", measure.landed)
    ingest = api.wait_for_run("ingest_unit_uploads", ingest["dag_run_id"])
    if ingest["state"] != "success" or ingest["run_type"] != "asset_triggered":
        raise SystemExit(f"ingest_unit_uploads: {ingest}")
    measure.times["ingest run queued"] = epoch(ingest["queued_at"])
    measure.times["ingest run ended"] = epoch(ingest["end_date"])
    transform = wait_for(
        "the transform", lambda: run_after(api, "transform_warehouse", measure.landed), every=0.5
    )
    transform = finished(api, "transform_warehouse", transform["dag_run_id"])
    if transform["state"] != "success":
        raise SystemExit(f"transform_warehouse: {transform}")
    measure.times["transform run queued"] = epoch(transform["queued_at"])
    measure.times["transform run ended"] = epoch(transform["end_date"])
    # What `dxw airflow trigger semiannual_marts --period` does, without its process' start.
    marts = api.run("semiannual_marts", api.trigger("semiannual_marts", conf={"period": period}))
    if finished(api, "semiannual_marts", marts["dag_run_id"])["state"] != "success":
        raise SystemExit(f"semiannual_marts: {marts}")
    measure.times["marts run queued"] = epoch(marts["queued_at"])
    measure.times["marts published"] = published_at(conn, period)
    verify(conn, period, figures)
    print(
        f"  run {index}: receipt {measure.since('receipt written'):.1f} s, {len(figures)} figures of {UNIT} "
        f"in published marts {measure.since('marts published'):.1f} s after landing",
        flush=True,
    )
    return measure


def setup(period: str) -> AirflowApi:
    """The province pipeline in-process for ``period``, then the deployment, watching the inbox."""
    airflow_env.apply()
    with _output_to(LOG):
        for dag_id in INGEST_DAGS:
            dagrun.run(dag_id, {"period": period})
        drop_uploads(upload_folder.folders()["inbox"], period)
        for dag_id in DAGS:
            dagrun.run(dag_id, {"period": period} if dag_id == "semiannual_marts" else None)
    dxw("airflow", "up", "--timeout", "300")
    password = json.loads((HOME / "deployment" / "secrets.json").read_text())["admin_password"]
    api = AirflowApi(f"http://127.0.0.1:{os.environ['DXW_AIRFLOW_PORT']}", "admin", password)
    api.wait_for_dags(list(DAGS))
    for dag_id in DAGS:
        api.set_paused(dag_id, False)
    # The watcher runs from the DAG processor's next parse after the unpause: one file, untimed.
    wait_idle(api)
    path, _ = form(0, period)
    _, receipt = drop(path)
    wait_for("the first receipt (the watcher starting)", receipt.exists, timeout=300, every=0.5)
    return api


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="event-path runs (median)")
    parser.add_argument("--period", default="2025S1", help="half-year to publish")
    args = parser.parse_args()
    simulator = start_in_thread()
    for source in SOURCES:  # the deployment uses this simulator too
        os.environ[source.url_variable] = simulator.url
    get_settings.cache_clear()
    print(f"home {HOME}, simulator {simulator.url}\nlogs: {LOG}, {HOME / 'deployment' / 'logs'}", flush=True)
    try:
        print(f"setup: {args.period} in-process, then `dxw airflow up` (not timed)", flush=True)
        api = setup(args.period)
        print(f"event path under the deployment, {args.repeat} runs:", flush=True)
        with psycopg.connect(database.resolve().warehouse, autocommit=True) as conn:
            events = [event_path(api, conn, 1 + i, args.period) for i in range(args.repeat)]
    finally:
        dxw("airflow", "down", check=False)
        dxw("db", "stop", check=False)
        simulator.stop()
    steps = [
        ("file landed -> ingest run queued (watcher + scheduler)", "ingest run queued"),
        ("file landed -> receipt written", "receipt written"),
        ("file landed -> ingest run ended", "ingest run ended"),
        ("file landed -> transform run queued", "transform run queued"),
        ("file landed -> transform run ended", "transform run ended"),
        ("file landed -> marts run queued (by hand)", "marts run queued"),
        ("file landed -> marts published", "marts published"),
    ]
    title = f"median of {len(events)} runs, seconds"
    print(f"\n{title:<56} {'watcher':>9} {'10-min poll (baseline)':>24}")
    for label, step in steps:
        ours = statistics.median(e.since(step) for e in events)
        # The poll: the file waits for the next tick (300 s on average), then the same pipeline.
        poll = POLL_WAIT + statistics.median(e.times[step] - e.times["ingest run queued"] for e in events)
        print(f"{label:<56} {ours:>9.1f} {poll:>24.1f}")
    for label, step in (("receipt", "receipt written"), ("published marts", "marts published")):
        ours = statistics.median(e.since(step) for e in events)
        poll = POLL_WAIT + statistics.median(e.times[step] - e.times["ingest run queued"] for e in events)
        print(f"{label}: {ours:.1f} s against {poll:.1f} s with the poll (baseline): {ours / poll:.3f} of it")
    print("per run, receipt / marts: " + ", ".join(
        f"{e.since('receipt written'):.1f} / {e.since('marts published'):.1f} s" for e in events
    ))  # fmt: skip
    print(
        f"baseline: {POLL_WAIT:.0f} s, a 10-min cron's expected wait (worst {POLL_SECONDS} s), + the pipeline"
    )
    shutil.rmtree(HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
