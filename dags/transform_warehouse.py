"""Build the warehouse core with dbt whenever a source lands new raw data."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, task

from dxw.orchestration.assets import CORE, RAW_ASSETS
from dxw.settings import get_settings
from dxw.transform.dbt_tasks import dbt_task_group

DOC = """
### raw -> staging -> intermediate -> core

One `dbt build` (`dbt.build`, with dbt's threads) builds the seeds, the staging views over the
latest loaded batch of every raw dataset, the roll-up bridges and the core star schema
(`dim_unit`, `dim_indicator`, `fct_indicator_observation`); a task per dbt node (rendered from
the pre-built manifest) reports that node with its tests, in the triggerer when it passed or was
not built. A failing dbt test fails its node's task (on a worker) and stops everything downstream
of it; a retry of a node's task rebuilds that node.

A run started by new raw data builds only what is downstream of the sources that landed (the
facts are rebuilt for the half-years whose loads changed); the other nodes' tasks are skipped.
A manual run, a run after a build that failed and the first run after the dbt project changed
build everything. `--conf '{"raw_assets": ["raw.dms_work_dossiers"]}'` builds one source's
branch by hand.

The semi-annual marts are not built here: `semiannual_marts` builds, audits and publishes them
for each half-year.

**Schedule**: whenever an ingestion DAG lands a raw asset. **Re-run**: rebuilds from raw; the
same raw batches give the same tables.
"""


@dag(
    dag_id="transform_warehouse",
    schedule=AssetAny(*RAW_ASSETS),
    start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["transform"],
)
def transform_warehouse():
    @task
    def ensure_raw_tables() -> None:
        """Staging reads every source's raw table, including those that have not delivered yet."""
        from dxw.intake.ingest import ensure_raw_tables

        ensure_raw_tables()

    # A run that rebuilt one source's branch skips the other nodes' tasks: the core is still built.
    @task(outlets=[CORE], trigger_rule="none_failed")
    def core_built() -> dict[str, int]:
        """Observations per period in the rebuilt fact table (and the asset event for the marts)."""
        from dxw.warehouse import database

        with database.connect() as conn:
            rows = conn.execute(
                "select period_id, count(*) from core.fct_indicator_observation group by 1 order by 1"
            ).fetchall()
        return dict(rows)

    ensure_raw_tables() >> dbt_task_group("dbt", exclude=["tag:publish"], select_changed=True) >> core_built()


transform_warehouse()
