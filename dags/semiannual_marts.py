"""Build, audit and publish the semi-annual marts for one half-year (write-audit-publish)."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from dxw.orchestration.alerts import deadline_alert, failure_callback
from dxw.orchestration.assets import PUBLISHED_MARTS
from dxw.orchestration.timetables import HalfYearTimetable
from dxw.settings import get_settings
from dxw.transform.dbt_tasks import dbt_task_group

DOC = """
### Semi-annual marts: write, audit, publish one half-year

For the half-year of the run's data interval (Decree 09/2019 cut-off windows, 15 Dec - 14 Jun
and 15 Jun - 14 Dec, local time: `DXW_TIMEZONE`):

1. **write**: one `dbt build` builds the marts into `marts_build` (`dbt.build`, a task per mart
   reports it with its tests);
   `change_since_previous` compares with the previous half-year as published, never with an
   ungated build (null when that half-year is not published);
2. **audit**: the Great Expectations suites in `expectations/` check the build's rows of the
   half-year, with its completeness; results go to `marts_audit.quality_run` / `quality_failure`
   and GX Data Docs; a failure names the unit, indicator and check;
3. **publish**: only then, in one transaction, the half-year's audited rows replace its rows in
   every mart of `marts`; the other half-years stay as they were published, each after its own
   gate, so a half-year that never passed its gate is never published. BI readers see the old or
   the new marts, never a half-built state.

**Annual figures** (Plan 86 VI.6): a run with `period` set to a year (`2025`, the Decree 09 year
15 Dec - 14 Dec) audits the year grain, `mart_annual_indicator`, with its own suite
(`expectations/mart_annual_indicator.json`) and publishes it the same way.

The run of a second half-year (`2025S2`) also gates and publishes its year once the half-year is
published: it rebuilds the award mart (`year_awards`: the 2021-2025 summary award reads the
half-years as published), then `year_gate` and `publish_year`.

**Schedule**: once per half-year, the day after its cut-off. A half-year that has not ended, or
has no rows in the core yet, is skipped (`half_year` and all after it), not failed at the gate.
A manual run names its half-year: `--conf '{"period": "2025S1"}'` (`dxw run semiannual_marts
--period 2025S1`); without it, a run whose logical date is not its data interval's half-year is
refused (Airflow's CLI takes the interval from "now"). **Re-run** (clear a run, `dxw run
semiannual_marts --period 2025S1`, `dxw backfill` or Airflow's backfill): rebuilds from the
warehouse core; the same inputs give byte-identical marts. A failed gate leaves the half-year's
published rows as they were and alerts the configured channels; so does a half-year whose marts
are not published `DXW_PUBLISH_DEADLINE_DAYS` after its cut-off. Re-publishing a half-year does
not touch the next one's published change since the previous half-year: re-run the next one too
to carry a correction forward.
"""


@dag(
    dag_id="semiannual_marts",
    schedule=HalfYearTimetable(convention="decree09", timezone=get_settings().timezone),
    start_date=pendulum.datetime(2021, 12, 15, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["marts", "quality", "publish"],
    params={
        "period": Param(None, type=["null", "string"], description="Half-year id (2025S1) or year id (2025)")
    },
    default_args={"on_failure_callback": failure_callback},
    deadline=deadline_alert(),
)
def semiannual_marts():
    @task
    def half_year() -> str:
        from dxw.orchestration.runtime import period_to_build

        return period_to_build(get_current_context())

    @task
    def quality_gate(period_id: str) -> int | None:
        from dxw.quality import gate, suite_for

        context = get_current_context()
        return gate(suite_for(period_id), run_id=context["run_id"], period_id=period_id).quality_run_id

    @task(outlets=[PUBLISHED_MARTS])
    def publish_marts(period_id: str, gate_run_id: int | None) -> list[dict]:
        from dxw.publish import publish
        from dxw.warehouse import database

        run_id = get_current_context()["run_id"]
        with database.connect(autocommit=True) as conn:
            published = publish(conn, run_id=run_id, gate_run_id=gate_run_id, period_id=period_id)
        return [table.__dict__ for table in published]

    @task.short_circuit
    def year_completed(period_id: str) -> str | None:
        """The year a second half-year completes (Plan 86 VI.6's yearly figures); else skip."""
        from dxw.periods import parse

        period = parse(period_id)
        return str(period.year) if period.kind == "halfyear" and period.number == 2 else None

    period = half_year()
    marts = dbt_task_group("dbt", select=["tag:publish"])
    gate_run = quality_gate(period)
    period >> marts >> gate_run
    published = publish_marts(period, gate_run)
    # A second half-year completes its year, once it is itself published: the 2021-2025 summary
    # award reads the half-years as published, so it is rebuilt then; the year is then gated and
    # published on its own. A failed half-year gate holds its year back, not the reverse.
    year = year_completed(period)
    published >> year
    year_awards = dbt_task_group("year_awards", select=["mart_award_eligibility"])
    year_gate = quality_gate.override(task_id="year_gate")(year)
    year >> year_awards >> year_gate
    publish_marts.override(task_id="publish_year")(year, year_gate)


semiannual_marts()
