"""Ingest the public-service portal's per-agency statistics into ``raw``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from dxw.alerts import failure_callback
from dxw.assets import PORTAL_ASSETS
from dxw.settings import get_settings

DOC = """
### Public-service portal -> raw

Pulls `dvc-progress-tree` (dossiers received / completed / on time) and `provide-online-tree`
(services offered fully or partly online) for every agency of the province, all pages,
checks each record against the field contract and lands each endpoint's answer as one batch
in `raw` (COPY, one transaction, recorded in `raw.load_batch`).

The portal's reporting API offers calendar months, quarters and years only (no half-year, no
Decree 09 window): a half-year is pulled as its six calendar months (`timeType: "month"`),
January-June or July-December, one record per agency and month; dbt staging assembles the
half-year (counts summed, services offered from the last month). The marts say so
(`window_basis = 'calendar_months'`, `window_start`, `window_end`).

**Schedule**: daily at 02:00 local time (`DXW_TIMEZONE`). A run pulls the current calendar half-year and
the previous one (late corrections), each as its calendar months (from 15 December the Decree 09
half-year is already next year's, whose months have no figures yet); pass `period` (e.g.
`2025S1`) to pull a single half-year.

**Re-run**: safe. A delivery identical to the latest loaded batch lands nothing (`unchanged`): its
task is skipped and emits no asset event, so nothing is rebuilt for it;
a changed one lands a new batch that supersedes the old one in staging. A failed fetch or
load leaves no rows behind and is recorded as `failed`.

**Outlets**: `raw.portal_dvc_progress`, `raw.portal_provide_online` (they trigger
`transform_warehouse`).
"""


@dag(
    dag_id="ingest_public_service_portal",
    schedule=CronTriggerTimetable("0 2 * * *", timezone=get_settings().timezone),
    start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["ingestion", "public_service_portal"],
    params={
        "period": Param(None, type=["null", "string"], description="Half-year id, e.g. 2025S1"),
        "periods": Param(None, type=["null", "array"], description="Several half-year ids (backfill)"),
        "source_url": Param(None, type=["null", "string"], description="Override DXW_PORTAL_URL"),
    },
    default_args={
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=5),
        "on_failure_callback": failure_callback,
    },
)
def ingest_public_service_portal():
    @task
    def periods_to_pull() -> list[str]:
        from dxw.runtime import periods_for_run

        context = get_current_context()
        return periods_for_run(context["params"], context.get("logical_date"), convention="calendar")

    periods = periods_to_pull()
    for endpoint, asset in PORTAL_ASSETS.items():

        @task(
            task_id=f"land_{asset.name.removeprefix('raw.')}",
            outlets=[asset],
            map_index_template="{{ period }}",
        )
        def land(period: str, endpoint: str = endpoint) -> dict:
            from dxw.ingest import ingest_portal
            from dxw.runtime import landed, source_url
            from dxw.settings import get_settings

            url = source_url(get_current_context()["params"], get_settings().portal_url, "DXW_PORTAL_URL")
            result = ingest_portal(endpoint, period, url)
            return landed(period, result)

        land.expand(period=periods)


ingest_public_service_portal()
