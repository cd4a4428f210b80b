"""Latency benchmark: a unit's upload file landing in the inbox -> published marts with its figures.

    .venv/bin/python bench/latency.py --repeat 3

Setup (not timed): databases of its own (``dxw_bench_latency`` and ``dxw_bench_latency_airflow``,
dropped at the start of each run and left after it for inspection), a temporary upload folder,
the source simulator in a thread, and the province pipeline once for the half-year (feeds,
every district's form, transform, publish), so the warehouse is warm and marts are published.

Event path, ``--repeat`` times with different figures each time: district 024's form lands in
``inbox/024/`` (written beside it, then renamed in: t0 is the rename), then the DAGs run as the
assets chain them, through ``dag.test()``: ``ingest_unit_uploads`` -> ``transform_warehouse`` ->
``semiannual_marts``. t1 is ``published_at`` of that run's row in the publish log;
the published ``marts.mart_semiannual_indicator`` must carry every figure of the file, or the
run fails. Baseline, in the same run: the same kind of file reaching published marts through a
rebuild from an empty warehouse (all feeds, all uploads, transform, publish). A stage's time is
the wall clock of ``dagrun.run`` (DAG file parsing included), with its tasks' own span after it.
Airflow, dbt and GX output goes to ``$DXW_HOME/logs/bench-latency-*.log``. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

UPLOADS = Path(tempfile.mkdtemp(prefix="dxw-bench-latency-"))
os.environ.update(
    DXW_DATABASE_NAME="dxw_bench_latency",
    DXW_AIRFLOW_DATABASE_NAME="dxw_bench_latency_airflow",
    DXW_UPLOAD_DIR=str(UPLOADS),
)

import psycopg  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from psycopg import sql  # noqa: E402

from dxw import publish  # noqa: E402
from dxw.cli import INGEST_DAGS, _output_to  # noqa: E402
from dxw.intake import upload_folder  # noqa: E402
from dxw.intake.uploads.template import HEADER_ROW  # noqa: E402
from dxw.orchestration import airflow_env  # noqa: E402
from dxw.settings import get_settings  # noqa: E402
from dxw.simulator import start_in_thread  # noqa: E402
from dxw.simulator.upload_data import drop_uploads, write_filled  # noqa: E402
from dxw.sources.registry import SOURCES  # noqa: E402
from dxw.warehouse import database, roles  # noqa: E402

UNIT = "024"  # a district whose simulated form is the clean variant
POLL_SECONDS = 600  # dags/ingest_unit_uploads.py: CronTriggerTimetable("*/10 * * * *")
EVENT = "event path (file -> 3 DAGs)"
BASELINE = "full rebuild (baseline)"
LOG = get_settings().home / "logs" / f"bench-latency-{datetime.now():%Y%m%d-%H%M%S}.log"


@dataclass
class Measure:
    """One file's way to the published marts: per-stage (wall, tasks) seconds, t0 and t1."""

    stages: dict[str, tuple[float, float]] = field(default_factory=dict)
    landed: float = 0.0
    published: float = 0.0
    returned: float = 0.0

    @property
    def latency(self) -> float:
        return self.published - self.landed


def run_stage(measure: Measure, dag_id: str, conf: dict | None = None) -> str:
    """Run one DAG through dag.test(); record its wall time and its tasks' span; its run id."""
    from dxw.orchestration import dagrun

    print(f"    {dag_id} ...", end="", flush=True)
    started = time.perf_counter()
    with _output_to(LOG):
        dag_run = dagrun.run(dag_id, conf=conf)
    wall = time.perf_counter() - started
    tis = [ti for ti in dag_run.get_task_instances() if ti.start_date and ti.end_date]
    tasks = (max(t.end_date for t in tis) - min(t.start_date for t in tis)).total_seconds() if tis else 0.0
    measure.stages[dag_id] = (wall, tasks)
    print(f" {wall:.1f} s", flush=True)
    return dag_run.run_id


def land_form(index: int, period: str) -> tuple[float, dict[str, tuple[int, int]]]:
    """Write UNIT's form with figures of its own (``index``), rename it into the inbox; (t0, figures)."""
    staging = UPLOADS / "staging"
    staging.mkdir(exist_ok=True)
    path = write_filled(staging / f"bao-cao-{UNIT}-{period}.xlsx", UNIT, period)
    book = load_workbook(path)
    sheet = book.active
    figures = {}
    for row in range(HEADER_ROW + 1, sheet.max_row + 1):
        code, numerator, denominator = (sheet.cell(row, c).value for c in (3, 6, 7))
        if code and isinstance(numerator, int) and isinstance(denominator, int):
            numerator = (numerator - 1 - index) % (denominator + 1)  # never the simulator's figure
            sheet.cell(row, 6).value = numerator
            figures[code] = (numerator, denominator)
    book.save(path)
    inbox = upload_folder.folders()["inbox"] / UNIT
    inbox.mkdir(parents=True, exist_ok=True)
    os.replace(path, inbox / path.name)
    return time.time(), figures


def published_at(conn: psycopg.Connection, run_id: str) -> float:
    row = conn.execute(
        sql.SQL("select extract(epoch from published_at) from {} where run_id = %s").format(
            publish.PUBLISH_LOG
        ),
        (run_id,),
    ).fetchone()
    if row is None:
        raise SystemExit(f"no publish recorded for run {run_id}")
    return float(row[0])


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


def publish_half_year(measure: Measure, conn: psycopg.Connection, period: str, figures: dict) -> None:
    run_stage(measure, "ingest_unit_uploads")
    run_stage(measure, "transform_warehouse")
    run_id = run_stage(measure, "semiannual_marts", {"period": period})
    measure.returned = time.time()
    measure.published = published_at(conn, run_id)
    verify(conn, period, figures)


def event_path(conn: psycopg.Connection, index: int, period: str) -> Measure:
    measure = Measure()
    measure.landed, figures = land_form(index, period)
    publish_half_year(measure, conn, period, figures)
    print(f"  run {index}: {len(figures)} figures of {UNIT} in marts {measure.latency:.1f} s after landing")
    return measure


def province_pipeline(conn: psycopg.Connection, index: int, period: str, reset: bool) -> Measure:
    """Every district's form, then (t0) UNIT's own; optionally an empty warehouse; everything."""
    drop_uploads(upload_folder.folders()["inbox"], period)
    (upload_folder.folders()["inbox"] / UNIT / f"bao-cao-{UNIT}-{period}.xlsx").unlink()
    measure = Measure()
    measure.landed, figures = land_form(index, period)
    if reset:
        started = time.perf_counter()
        for schema in (*roles.INTERNAL_SCHEMAS, "marts"):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        measure.stages["reset warehouse"] = (time.perf_counter() - started,) * 2
    for dag_id in INGEST_DAGS:
        run_stage(measure, dag_id, {"period": period})
    publish_half_year(measure, conn, period, figures)
    return measure


def median_stages(runs: list[Measure]) -> dict[str, tuple[float, float]]:
    return {
        stage: (
            statistics.median(r.stages[stage][0] for r in runs),
            statistics.median(r.stages[stage][1] for r in runs),
        )
        for stage in runs[0].stages
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="event-path runs (median)")
    parser.add_argument("--period", default="2025S1", help="half-year to publish")
    args = parser.parse_args()
    simulator = start_in_thread()
    for source in SOURCES:
        os.environ[source.url_variable] = simulator.url
    get_settings.cache_clear()
    urls = database.resolve()
    with psycopg.connect(urls.maintenance, autocommit=True) as conn:
        for url in (urls.warehouse, urls.airflow):  # this benchmark's own databases, from its last run
            name = sql.Identifier(database.database_name(url))
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
    urls = airflow_env.apply()
    print(f"warehouse {urls.warehouse}, uploads {UPLOADS}, simulator {simulator.url}\nlogs: {LOG}")
    try:
        with psycopg.connect(urls.warehouse, autocommit=True) as conn:
            print(f"setup: province pipeline for {args.period} (not timed)", flush=True)
            province_pipeline(conn, 0, args.period, reset=False)
            print(f"{EVENT}, {args.repeat} runs:", flush=True)
            events = [event_path(conn, 1 + i, args.period) for i in range(args.repeat)]
            print(f"{BASELINE}:", flush=True)
            rebuild = province_pipeline(conn, 1 + args.repeat, args.period, reset=True)
    finally:
        simulator.stop()
        shutil.rmtree(UPLOADS, ignore_errors=True)
    event_stages, event_latency = median_stages(events), statistics.median(e.latency for e in events)
    event_wall = statistics.median(e.returned - e.landed for e in events)
    print(f"\n{'stage: wall s (tasks s)':<36} {EVENT + ', median':>34} {BASELINE:>26}")
    for stage, (wall, tasks) in rebuild.stages.items():
        ours = "{:.1f} ({:.1f})".format(*event_stages[stage]) if stage in event_stages else "-"
        print(f"{stage:<36} {ours:>34} {f'{wall:.1f} ({tasks:.1f})':>26}")
    print(f"{'file landed -> publish committed':<36} {event_latency:>34.1f} {rebuild.latency:>26.1f}")
    wall_rebuild = rebuild.returned - rebuild.landed
    print(f"{'file landed -> last DAG returned':<36} {event_wall:>34.1f} {wall_rebuild:>26.1f}")
    print(f"\nper run ({EVENT}): " + ", ".join(f"{e.latency:.1f} s" for e in events))
    ratio = event_latency / rebuild.latency
    print(f"{EVENT} vs {BASELINE}: {ratio:.2f} of the rebuild's latency ({1 / ratio:.1f}x faster)")
    print(
        f"scheduled worst case ({EVENT}) = measured {event_latency:.1f} s + {POLL_SECONDS} s "
        f"inbox poll interval (ingest_unit_uploads, every 10 min) = {event_latency + POLL_SECONDS:.1f} s"
    )
    print(
        f"left for inspection: databases {database.database_name(urls.warehouse)}, "
        f"{database.database_name(urls.airflow)} (dropped at the next run's start)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
