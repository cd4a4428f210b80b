"""What a DAG run works on: its half-year(s) and the source's address."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dxw.periods import parse, period_of
from dxw.settings import get_settings


def periods_for_run(params: dict[str, Any], run_date: datetime | None) -> list[str]:
    """The half-years a run pulls: those asked for, else the previous and the current one.

    Pulling the previous half-year again until long after its cut-off picks up late
    corrections; landing is idempotent, so an unchanged delivery costs nothing.
    """
    if params.get("periods"):
        return [parse(p).id for p in params["periods"]]
    if params.get("period"):
        return [parse(params["period"]).id]
    when = run_date or datetime.now(ZoneInfo(get_settings().timezone))
    local = when.astimezone(ZoneInfo(get_settings().timezone)).date()
    current = period_of(local, "halfyear", "decree09")
    return [current.previous().id, current.id]


def period_of_run(context: Mapping[str, Any]) -> str:
    """The half-year a run of a half-year DAG works on: ``conf.period`` else its data interval."""
    params = context.get("params") or {}
    if params.get("period"):
        return parse(params["period"]).id
    # The DAG's own timetable knows its convention and refuses an interval that is not a half-year.
    return context["dag"].timetable.period_of_interval(context.get("data_interval_start"))


def source_url(params: dict[str, Any], configured: str | None, variable: str) -> str:
    """A source's base URL: the run's ``source_url`` parameter, else its ``DXW_*_URL`` setting."""
    url = params.get("source_url") or configured
    if not url:
        raise RuntimeError(
            f"no address for this source: set {variable} (or run through `dxw run`, "
            "which starts the bundled source simulator)"
        )
    return url
