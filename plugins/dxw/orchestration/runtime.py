"""What a DAG run works on: its half-year(s) and the source's address."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dxw.errors import ConfigurationError
from dxw.periods import Convention, PeriodError, parse, period_of
from dxw.settings import get_settings


class PeriodNotReady(Exception):
    """The half-year cannot be built yet (not ended, or no data): the run skips, it does not fail."""


def periods_for_run(
    params: dict[str, Any], run_date: datetime | None, convention: Convention = "decree09"
) -> list[str]:
    """The half-years a run pulls: those asked for, else the previous and the current one.

    ``convention`` is the source's: the portal reports calendar months, so its current half-year
    is the calendar one (from 15 December the Decree 09 half-year is already the next year's,
    whose months have no figures yet). Pulling the previous half-year again until long after its
    cut-off picks up late corrections; an unchanged delivery lands nothing and emits no event.
    """
    if params.get("periods"):
        return [parse(p).id for p in params["periods"]]
    if params.get("period"):
        return [parse(params["period"]).id]
    when = run_date or datetime.now(ZoneInfo(get_settings().timezone))
    local = when.astimezone(ZoneInfo(get_settings().timezone)).date()
    current = period_of(local, "halfyear", convention)
    return [current.previous().id, current.id]


def period_of_run(context: Mapping[str, Any]) -> str:
    """The half-year a run of a half-year DAG works on: ``conf.period`` else its data interval.

    A manual run without ``period`` must have been triggered for a half-year: its logical date
    must map to the half-year of its data interval. Airflow 3.3's ``airflow dags trigger
    --logical-date`` takes the data interval from the moment of triggering instead, which would
    silently build the half-year of "now": such a run is refused, naming the command to use.
    """
    params = context.get("params") or {}
    if params.get("period"):
        return parse(params["period"]).id
    timetable = context["dag"].timetable
    start = context.get("data_interval_start")
    if _run_type(context) == "manual":
        logical_date = context.get("logical_date")
        asked = timetable.infer_manual_data_interval(run_after=logical_date) if logical_date else None
        if asked is None or start is None or asked.start != start:
            dag_id = context["dag"].dag_id
            raise PeriodError(_manual_run_refusal(dag_id, timetable, logical_date, asked, start))
    # The DAG's own timetable knows its convention and refuses an interval that is not a half-year.
    return timetable.period_of_interval(start)


def _run_type(context: Mapping[str, Any]) -> str:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type))


def _manual_run_refusal(
    dag_id: str,
    timetable: Any,
    logical_date: datetime | None,
    asked: Any,
    start: datetime | None,
) -> str:
    example = timetable.period_of_interval(asked.start) if asked is not None else "2025S1"
    if logical_date is None:
        found = "no logical date"
    else:
        given = "no data interval"
        if start is not None:
            try:
                given = f"the data interval of {timetable.period_of_interval(start)}"
            except PeriodError:
                given = f"a data interval starting {start.isoformat()}, not a half-year"
        found = f"logical date {logical_date.isoformat()} (half-year {example}) but {given}"
    return (
        f'refusing to guess the half-year of this manual run: it has no "period" in its conf and {found} '
        "(Airflow's CLI takes the data interval from the moment of triggering). Give the half-year: "
        f'airflow dags trigger {dag_id} --conf \'{{"period": "{example}"}}\' '
        f"(in-process: dxw run {dag_id} --period {example})"
    )


def check_ready(period_id: str, now: datetime, observations: int | None, timezone: str) -> None:
    """Raise :class:`PeriodNotReady` unless ``period_id`` has ended and the core holds its data.

    ``observations`` is the count of the period's rows in ``core.fct_indicator_observation``
    (None when the core has not been built). A year is ready when its second half-year is.
    """
    period = parse(period_id)
    halfyear = parse(f"{period.year}S2") if period.kind == "year" else period
    _, last = halfyear.window("decree09")
    local_today = now.astimezone(ZoneInfo(timezone)).date()
    if local_today <= last:
        raise PeriodNotReady(
            f"{period_id} has not ended: its Decree 09 window closes on {last.isoformat()}, and its marts "
            "are built, audited and published after the cut-off. Nothing was built or published."
        )
    if not observations:
        where = "the warehouse core has not been built" if observations is None else "the core has no rows"
        raise PeriodNotReady(
            f"{period_id} has no data yet ({where} for it): nothing to build, audit or publish. Once the "
            f"sources have delivered it and transform_warehouse has run, re-run this half-year: "
            f"dxw run semiannual_marts --period {period_id} (deployment: airflow dags trigger "
            f'semiannual_marts --conf \'{{"period": "{period_id}"}}\').'
        )


def core_observations(period_id: str) -> int | None:
    """Rows of ``period_id`` (a year: its half-years) in the core fact table; None if it is not built."""
    from dxw.warehouse import database

    period = parse(period_id)
    ids = [f"{period.year}S1", f"{period.year}S2"] if period.kind == "year" else [period.id]
    with database.connect(autocommit=True) as conn:
        built = conn.execute("select to_regclass('core.fct_indicator_observation')").fetchone()
        if built is None or built[0] is None:
            return None
        row = conn.execute(
            "select count(*) from core.fct_indicator_observation where period_id = any(%s)", (ids,)
        ).fetchone()
    return int(row[0]) if row else 0


def source_url(params: dict[str, Any], configured: str | None, variable: str) -> str:
    """A source's base URL: the run's ``source_url`` parameter, else its ``DXW_*_URL`` setting."""
    url = params.get("source_url") or configured
    if not url:
        raise ConfigurationError(
            f"no address for this source: set {variable} (or run through `dxw run`, "
            "which starts the bundled source simulator)"
        )
    return url


def period_to_build(context: Mapping[str, Any]) -> str:
    """:func:`period_of_run`, skipping the run (Airflow's skip) when the half-year is not ready."""
    from airflow.sdk.exceptions import AirflowSkipException

    period_id = period_of_run(context)
    try:
        check_ready(period_id, datetime.now(UTC), core_observations(period_id), get_settings().timezone)
    except PeriodNotReady as exc:
        raise AirflowSkipException(str(exc)) from exc
    return period_id


def landed(period_id: str, result: Any) -> dict[str, Any]:
    """What an ingestion task returns for a landed batch; an ``unchanged`` one skips the task.

    Airflow emits a task's outlet asset events only when it succeeds: a skipped task emits none,
    so a delivery identical to the current batch does not start ``transform_warehouse``.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    if result.status == "unchanged":
        raise AirflowSkipException(
            f"{period_id}: the source delivered nothing new (batch {result.batch_id} recorded unchanged); "
            "no asset event, nothing to rebuild"
        )
    return {"period": period_id, "batch_id": result.batch_id, "status": result.status, "rows": result.rows}
