"""Ingest the reporting system's data values (DHIS2 dataValueSets) into ``raw``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from dxw.alerts import failure_callback
from dxw.assets import REPORTING_ASSET
from dxw.settings import get_settings

DOC = """
### Reporting system (DHIS2 `dataValueSets`) -> raw

Pulls the SixMonthly data set of the provincial departments (reporting regimes connected to the
Government Reporting Information System, shared systems connected to national databases) from
`/api/dataValueSets.json`, places every data element and org unit through the seeds
(`dhis2_data_elements`, `unit_crosswalk`) and lands the values as one staged batch in
`raw.dhis2_data_values`; the raw expectation suite then promotes or rejects it. A value that
cannot be placed fails the delivery and is named in the error. Files are imported by hand with
`dxw ingest dhis2 FILE`, which answers with a DHIS2-style import summary.

**Incremental**: a run asks only for the values changed since its last successful pull of the
half-year (DHIS2's `lastUpdated`, the watermark kept in `raw.load_batch.details`), deleted
values included (`includeDeleted=true`): a value deleted in DHIS2 lands as a deletion and is
gone downstream. A pull that finds nothing changed is recorded `unchanged` and keeps the
watermark. `full_pull: true` (e.g. `dxw run ingest_reporting_system --conf '{"full_pull": true}'`)
pulls the whole half-year again.

**Schedule**: daily at 02:45 local time (`DXW_TIMEZONE`); a run pulls the current Decree-09 half-year and
the previous one; pass `period` (e.g. `2025S1`) for a single half-year.

**Re-run**: safe. An identical delivery lands nothing (its task is skipped and emits no asset
event, so `transform_warehouse` does not run for it); a changed value supersedes the previous
one (the latest value of a data element, org unit and period wins, as in DHIS2); a re-run
after a successful pull asks only for what changed since.

**Outlet**: `raw.dhis2_data_values` (triggers `transform_warehouse`).
"""


@dag(
    dag_id="ingest_reporting_system",
    schedule=CronTriggerTimetable("45 2 * * *", timezone=get_settings().timezone),
    start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["ingestion", "reporting_system"],
    params={
        "period": Param(None, type=["null", "string"], description="Half-year id, e.g. 2025S1"),
        "periods": Param(None, type=["null", "array"], description="Several half-year ids (backfill)"),
        "source_url": Param(None, type=["null", "string"], description="Override DXW_REPORTING_URL"),
        "full_pull": Param(False, type="boolean", description="Pull whole half-years, not only the changes"),
    },
    default_args={
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=5),
        "on_failure_callback": failure_callback,
    },
)
def ingest_reporting_system():
    @task
    def periods_to_pull() -> list[str]:
        from dxw.runtime import periods_for_run

        context = get_current_context()
        return periods_for_run(context["params"], context.get("logical_date"))

    @task(outlets=[REPORTING_ASSET], map_index_template="{{ period }}")
    def land_data_values(period: str) -> dict:
        from dxw.ingest import ingest
        from dxw.runtime import landed, source_url
        from dxw.settings import get_settings
        from dxw.sources import dhis2

        params = get_current_context()["params"]
        url = source_url(params, get_settings().reporting_url, "DXW_REPORTING_URL")
        result = ingest(dhis2.DATASET, period, url, full=bool(params.get("full_pull")))
        return landed(period, result)

    land_data_values.expand(period=periods_to_pull())


ingest_reporting_system()
