"""Build the warehouse with dbt, gate it with Great Expectations, publish the marts."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from dxw.assets import PORTAL_ASSETS, PUBLISHED_MARTS
from dxw.settings import get_settings

DOC = """
### raw -> staging -> core -> marts (write, audit, publish)

1. **dbt** (rendered by Cosmos from the pre-built manifest, one task per node; each model's
   tests run with it): seeds, staging views over the latest loaded batches, core dimensions
   and facts, and the semi-annual marts built into `marts_build`.
2. **quality_gate**: the Great Expectations suites in `expectations/` audit `marts_build`;
   results go to `marts_audit.quality_run` and GX Data Docs.
3. **publish_marts**: only when every blocking expectation passed, the audited tables replace
   those in `marts` in one transaction. A failure anywhere leaves the published marts as they were.

**Schedule**: whenever an ingestion DAG lands a raw asset. **Re-run**: rebuilds from raw;
identical inputs give identical marts.
"""

settings = get_settings()
MANIFEST = settings.dbt_project_dir / "target" / "manifest.json"
if not MANIFEST.exists():
    raise FileNotFoundError(f"{MANIFEST} is missing: run `make manifest` (dbt parse) first")


@dag(
    dag_id="transform_warehouse",
    schedule=AssetAny(*PORTAL_ASSETS.values()),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["transform", "quality", "publish"],
)
def transform_warehouse():
    dbt_build = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=settings.dbt_project_dir,
            manifest_path=MANIFEST,
            project_name="dxw",
        ),
        profile_config=ProfileConfig(
            profile_name="dxw",
            target_name="warehouse",
            profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            # Tests spanning several models (relationships, crosswalk coverage) run once all are built.
            should_detach_multiple_parents_tests=True,
        ),
        # Lineage lives in dbt docs; per-model Airflow assets would only add noise here.
        operator_args={"install_deps": False, "emit_datasets": False},
    )

    @task
    def quality_gate() -> int | None:
        from dxw.quality import gate

        return gate("mart_semiannual_indicator", run_id=get_current_context()["run_id"]).quality_run_id

    @task(outlets=[PUBLISHED_MARTS])
    def publish_marts(gate_run_id: int | None) -> list[dict]:
        from dxw import database
        from dxw.publish import publish

        with database.connect(autocommit=True) as conn:
            published = publish(conn, run_id=get_current_context()["run_id"], gate_run_id=gate_run_id)
        return [table.__dict__ for table in published]

    gate_run = quality_gate()
    dbt_build >> gate_run
    publish_marts(gate_run)


transform_warehouse()
