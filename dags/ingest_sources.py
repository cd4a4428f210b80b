"""Ingest every source of the registry into ``raw``: one Airflow DAG per ``dxw.sources.registry`` entry.

Each DAG pulls its source's datasets for the half-years of the run, one mapped landing task per
dataset and half-year, with the source's schedule, documentation and ``raw.<dataset>`` assets
as declared in the registry. Connectors are imported inside the tasks: parsing stays cheap.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from dxw.orchestration.alerts import failure_callback
from dxw.orchestration.assets import raw_asset
from dxw.settings import get_settings
from dxw.sources.registry import SOURCES, RawDataset, Source


def ingestion_dag(source: Source):
    """The ingestion DAG of ``source``: pull its datasets for each half-year of the run, land, gate."""
    params = {
        "period": Param(None, type=["null", "string"], description="Half-year id, e.g. 2025S1"),
        "periods": Param(None, type=["null", "array"], description="Several half-year ids (backfill)"),
        "source_url": Param(None, type=["null", "string"], description=f"Override {source.url_variable}"),
    }
    if source.incremental:
        params["full_pull"] = Param(
            False, type="boolean", description="Pull whole half-years, not only the changes"
        )

    @dag(
        dag_id=source.dag_id,
        schedule=CronTriggerTimetable(source.schedule, timezone=get_settings().timezone),
        start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
        catchup=False,
        max_active_runs=1,
        doc_md=source.doc_md,
        tags=["ingestion", source.name],
        params=params,
        default_args={
            "retries": 2,
            "retry_delay": pendulum.duration(minutes=5),
            "on_failure_callback": failure_callback,
        },
    )
    def ingest_source():
        @task
        def periods_to_pull() -> list[str]:
            from dxw.orchestration.runtime import periods_for_run

            context = get_current_context()
            params, logical_date = context["params"], context.get("logical_date")
            return periods_for_run(params, logical_date, convention=source.convention)

        periods = periods_to_pull()
        for dataset in source.datasets:

            @task(task_id=dataset.task_id, outlets=[raw_asset(dataset)], map_index_template="{{ period }}")
            def land(period: str, dataset: RawDataset = dataset) -> dict:
                from dxw.intake.ingest import ingest
                from dxw.orchestration.runtime import landed, source_url
                from dxw.settings import get_settings

                params = get_current_context()["params"]
                url = source_url(params, get_settings().source_url(source.name), source.url_variable)
                result = ingest(dataset.name, period, url, full=bool(params.get("full_pull")))
                return landed(period, result)

            land.expand(period=periods)

    return ingest_source()


for _source in SOURCES:
    globals()[_source.dag_id] = ingestion_dag(_source)
