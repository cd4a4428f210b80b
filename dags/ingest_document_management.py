"""Ingest the document-management system's work-dossier statistics into ``raw``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from dxw.alerts import failure_callback
from dxw.assets import DMS_ASSET
from dxw.settings import get_settings

DOC = """
### Document-management system -> raw

Pulls `work-dossier-stats` (work dossiers handled, secret, processed online, processed and
digitally signed online) for every unit of the province, all pages, checks every record against
the field contract and lands it as one staged batch in `raw.dms_work_dossiers`; the raw
expectation suite then promotes it to the current batch or rejects it.

**Schedule**: daily at 02:30 local time (`DXW_TIMEZONE`); a run pulls the current Decree-09 half-year and
the previous one (late corrections); pass `period` (e.g. `2025S1`) for a single half-year.

**Re-run**: safe. An identical delivery lands nothing (its task is skipped and emits no asset
event, so `transform_warehouse` does not run for it); a changed one supersedes the previous
batch; a failed or rejected one never reaches staging.

**Outlet**: `raw.dms_work_dossiers` (triggers `transform_warehouse`).
"""


@dag(
    dag_id="ingest_document_management",
    schedule=CronTriggerTimetable("30 2 * * *", timezone=get_settings().timezone),
    start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["ingestion", "document_management"],
    params={
        "period": Param(None, type=["null", "string"], description="Half-year id, e.g. 2025S1"),
        "periods": Param(None, type=["null", "array"], description="Several half-year ids (backfill)"),
        "source_url": Param(None, type=["null", "string"], description="Override DXW_DMS_URL"),
    },
    default_args={
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=5),
        "on_failure_callback": failure_callback,
    },
)
def ingest_document_management():
    @task
    def periods_to_pull() -> list[str]:
        from dxw.runtime import periods_for_run

        context = get_current_context()
        return periods_for_run(context["params"], context.get("logical_date"))

    @task(outlets=[DMS_ASSET], map_index_template="{{ period }}")
    def land_dms_work_dossiers(period: str) -> dict:
        from dxw.ingest import ingest
        from dxw.runtime import landed, source_url
        from dxw.settings import get_settings
        from dxw.sources import dms

        url = source_url(get_current_context()["params"], get_settings().dms_url, "DXW_DMS_URL")
        result = ingest(dms.DATASET, period, url)
        return landed(period, result)

    land_dms_work_dossiers.expand(period=periods_to_pull())


ingest_document_management()
