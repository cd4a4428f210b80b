"""Build the warehouse core with dbt whenever a source lands new raw data."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, task

from dxw.orchestration.assets import CORE, RAW_ASSETS
from dxw.settings import get_settings
from dxw.transform.dbt_tasks import dbt_task_group

DOC = """
### raw -> staging -> intermediate -> core

dbt (rendered by Cosmos from the pre-built manifest, one task per node; each node's tests run
with it) builds the seeds, the staging views over the latest loaded batch of every raw dataset,
the roll-up bridges and the core star schema (`dim_unit`, `dim_indicator`,
`fct_indicator_observation`). A failing dbt test stops everything downstream of it.

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

    @task(outlets=[CORE])
    def core_built() -> dict[str, int]:
        """Observations per period in the rebuilt fact table (and the asset event for the marts)."""
        from dxw.warehouse import database

        with database.connect() as conn:
            rows = conn.execute(
                "select period_id, count(*) from core.fct_indicator_observation group by 1 order by 1"
            ).fetchall()
        return dict(rows)

    ensure_raw_tables() >> dbt_task_group("dbt", exclude=["tag:publish"]) >> core_built()


transform_warehouse()
