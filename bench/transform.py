"""Transform benchmark: ``transform_warehouse`` as one dbt build against one dbt process per node.

    .venv/bin/python bench/transform.py --repeat 3

Setup (not timed): databases of its own (``dxw_bench_transform`` and ``dxw_bench_transform_airflow``,
dropped at the start of each run and left after it for inspection), the source simulator in a
thread, a copy of the DAG folder with the baseline DAG beside dxw's, the province's 2025S1 from
every source and one full transform, so the warehouse is warm.

Then, ``--repeat`` times, each mode on the same change: district 024's form with new figures
lands through ``ingest_unit_uploads`` (not timed), then the transform runs through
``dag.test()``, timed by the wall clock of ``dagrun.run`` (DAG file parsing included):

- ``per-node tasks (baseline)``: the transform as it was before one build per run: Cosmos 1.15
  renders a task per dbt node from the manifest (``TestBehavior.BUILD``, ``InvocationMode.DBT_RUNNER``),
  each task running ``dbt build`` for its node;
- ``one build, everything``: ``transform_warehouse`` run by hand (no triggering asset): one
  ``dbt build`` of the whole core, a task per node reporting it;
- ``one build, the upload's branch``: ``transform_warehouse`` as the upload's asset event starts
  it (``raw_assets`` names the asset, as ``triggering_asset_events`` does in the deployment):
  ``dbt build --select source:raw_uploads.unit_upload_observations+``.

Every mode must leave the same facts (checked after each run). Airflow and dbt output goes to
``$DXW_HOME/logs/bench-transform-*.log``. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="dxw-bench-transform-"))
os.environ.update(
    DXW_DATABASE_NAME="dxw_bench_transform",
    DXW_AIRFLOW_DATABASE_NAME="dxw_bench_transform_airflow",
    DXW_UPLOAD_DIR=str(WORK / "uploads"),
    DXW_PROJECT_DIR=str(WORK / "project"),
    DXW_HOME=os.environ.get("DXW_HOME", str(PROJECT / ".dxw")),
)

import psycopg  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from psycopg import sql  # noqa: E402

from dxw.cli import INGEST_DAGS, _output_to  # noqa: E402
from dxw.intake import upload_folder  # noqa: E402
from dxw.intake.uploads.template import HEADER_ROW  # noqa: E402
from dxw.orchestration import airflow_env  # noqa: E402
from dxw.settings import get_settings  # noqa: E402
from dxw.simulator import start_in_thread  # noqa: E402
from dxw.simulator.upload_data import drop_uploads, write_filled  # noqa: E402
from dxw.transform import dbt  # noqa: E402
from dxw.warehouse import database  # noqa: E402

UNIT = "024"
PERIOD = "2025S1"
BASELINE = "per-node tasks (baseline)"
FULL = "one build, everything"
BRANCH = "one build, the upload's branch"
LOG = get_settings().home / "logs" / f"bench-transform-{datetime.now():%Y%m%d-%H%M%S}.log"

# The transform as dxw rendered it before one build per run (dxw.transform.dbt_tasks at f593410).
PER_NODE_DAG = '''
"""transform_warehouse before one build per run: Cosmos, one dbt build per node (bench only)."""
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from dxw.settings import get_settings


@dag(dag_id="bench_transform_per_node", schedule=None, catchup=False,
     start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone))
def bench_transform_per_node():
    @task
    def ensure_raw_tables() -> None:
        from dxw.intake.ingest import ensure_raw_tables

        ensure_raw_tables()

    settings = get_settings()
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    project_config = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir, manifest_path=manifest, project_name="dxw"
    )
    project_config.manifest_path = manifest
    group = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=ProfileConfig(profile_name="dxw", target_name="warehouse",
                                     profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml"),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD,
                                   exclude=["tag:publish"], should_detach_multiple_parents_tests=True),
        operator_args={"install_deps": False, "emit_datasets": False, "pool": settings.dbt_pool,
                       "retries": settings.dbt_task_retries,
                       "retry_delay": timedelta(seconds=settings.dbt_task_retry_delay)},
    )
    ensure_raw_tables() >> group


bench_transform_per_node()
'''


def project_copy() -> None:
    """The project with a DAG folder of its own: dxw's DAGs and the baseline."""
    project = WORK / "project"
    project.mkdir()
    for name in ("dbt_project", "plugins", "expectations", "pyproject.toml"):
        (project / name).symlink_to(PROJECT / name)
    shutil.copytree(PROJECT / "dags", project / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "dags" / "bench_transform_per_node.py").write_text(PER_NODE_DAG)


def run(dag_id: str, conf: dict | None = None) -> tuple[float, int]:
    """One run through dag.test(): wall seconds and the number of its tasks that ran."""
    from dxw.orchestration import dagrun

    started = time.perf_counter()
    with _output_to(LOG):
        dag_run = dagrun.run(dag_id, conf=conf)
    seconds = time.perf_counter() - started
    return seconds, list(dagrun.task_states(dag_run).values()).count("success")


def land_form(index: int) -> None:
    """UNIT's form with figures of its own (``index``), landed by ``ingest_unit_uploads``."""
    staging = WORK / "staging"
    staging.mkdir(exist_ok=True)
    path = write_filled(staging / f"bao-cao-{UNIT}-{PERIOD}.xlsx", UNIT, PERIOD)
    book = load_workbook(path)
    sheet = book.active
    for row in range(HEADER_ROW + 1, sheet.max_row + 1):
        numerator, denominator = sheet.cell(row, 6).value, sheet.cell(row, 7).value
        if isinstance(numerator, int) and isinstance(denominator, int):
            sheet.cell(row, 6).value = (numerator - 1 - index) % (denominator + 1)
    book.save(path)
    inbox = upload_folder.folders()["inbox"] / UNIT
    inbox.mkdir(parents=True, exist_ok=True)
    os.replace(path, inbox / path.name)
    run("ingest_unit_uploads")


def facts(conn: psycopg.Connection) -> tuple:
    """What the transform must get right: the facts' rows of UNIT's upload, and the row count."""
    return conn.execute(
        "select count(*), sum(hashtext(f::text)) filter (where source_system = 'unit_upload') "
        "from (select * from core.fct_indicator_observation) as f"
    ).fetchone()


def expected_facts(conn: psycopg.Connection, url: str) -> tuple:
    """The facts a full rebuild gives for the same raw data (dbt build --full-refresh of the facts)."""
    from dxw.transform import dbt

    # A target of its own: the DAGs render from the project's manifest, which must stay whole.
    with _output_to(LOG), tempfile.TemporaryDirectory() as target:
        args = ["build", "--select", "fct_indicator_observation", "--full-refresh", "--target-path", target]
        dbt.run(args, url, get_settings())
    return facts(conn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode (median)")
    args = parser.parse_args()
    project_copy()
    simulator = start_in_thread()
    for variable in ("DXW_PORTAL_URL", "DXW_DMS_URL", "DXW_REPORTING_URL"):
        os.environ[variable] = simulator.url
    get_settings.cache_clear()
    urls = database.resolve()
    with psycopg.connect(urls.maintenance, autocommit=True) as conn:
        for url in (urls.warehouse, urls.airflow):  # this benchmark's own databases, from its last run
            name = sql.Identifier(database.database_name(url))
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
    urls = airflow_env.apply()
    # The per-node baseline's Cosmos tasks run dbt in this process: profiles.yml reads the
    # connection dxw derives from the warehouse URL (dxw's own build passes it to its dbt itself).
    os.environ.update(dbt.connection_env(urls.warehouse, get_settings()))
    print(f"warehouse {urls.warehouse}, simulator {simulator.url}\nlogs: {LOG}")
    modes = {
        BASELINE: ("bench_transform_per_node", None),
        FULL: ("transform_warehouse", None),
        BRANCH: ("transform_warehouse", {"raw_assets": ["raw.unit_upload_observations"]}),
    }
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    tasks: dict[str, int] = {}
    try:
        with psycopg.connect(urls.warehouse, autocommit=True) as conn:
            print(f"setup: {PERIOD} from every source and one full transform (not timed)", flush=True)
            for dag_id in INGEST_DAGS:
                run(dag_id, {"period": PERIOD})
            drop_uploads(upload_folder.folders()["inbox"], PERIOD)
            run("ingest_unit_uploads")
            run("transform_warehouse")
            index = 0
            for repeat in range(args.repeat):
                for mode, (dag_id, conf) in modes.items():
                    index += 1
                    land_form(index)
                    seconds, tasks[mode] = run(dag_id, conf)
                    built = facts(conn)
                    if built != expected_facts(conn, urls.warehouse):
                        raise SystemExit(f"{mode}: the facts differ from a full rebuild's")
                    times[mode].append(seconds)
                    ran = f"{tasks[mode]} tasks succeeded"
                    print(f"  run {repeat + 1}, {mode}: {seconds:.1f} s ({ran})", flush=True)
    finally:
        simulator.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    baseline = statistics.median(times[BASELINE])
    print(f"\n{'transform_warehouse, one new upload':<36} {'median s':>9} {'runs':>24} {'of baseline':>12}")
    for mode, values in times.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"{mode:<36} {median:>9.1f} {runs:>24} {median / baseline:>12.2f}")
    for mode in (FULL, BRANCH):
        ratio = statistics.median(times[mode]) / baseline
        print(f"{mode} vs {BASELINE}: {ratio:.2f} of its time ({1 / ratio:.1f}x faster; goal < 0.25)")
    print(
        f"left for inspection: databases {database.database_name(urls.warehouse)}, "
        f"{database.database_name(urls.airflow)} (dropped at the next run's start)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
