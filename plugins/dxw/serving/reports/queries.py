"""The semi-annual report's reads: the published marts, their audit trail and the catalogue.

Everything comes from the published schema ``marts`` (and its audit trail ``marts_audit``),
read in one read-only repeatable-read transaction, so the report shows one consistent
publish even while the next one is being swapped in. Indicator names, levels and targets come
from the reviewed catalogue (dbt seed ``indicators.csv``, read by :mod:`dxw.catalogue`) the marts
are built from; the pilot registry of Plan 86 III.4 (``core.dim_pilot_unit``) and the refused
observations come from ``core``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dxw import catalogue, publish
from dxw.periods import Period, PeriodError, parse
from dxw.serving.reports.model import (
    BEFORE_2025,
    FROM_2025,
    AwardCandidate,
    Compliance,
    Figure,
    Indicator,
    Pilot,
    PilotAward,
    Publish,
    QualityFailure,
    QualityRun,
    ReportData,
    ReportError,
    ReportNotPublished,
    award_grains,
    indicator_table,
    structure_of,
)
from dxw.settings import Settings, get_settings
from dxw.warehouse import database


def load_catalogue(settings: Settings, period: Period) -> dict[str, Indicator]:
    """The indicator catalogue (dbt seed ``indicators.csv``, one row per indicator version) as it
    judges ``period``: each indicator's version valid at the period's cut-off, the one the marts
    took its targets from (:mod:`dxw.catalogue_versions`), in catalogue order."""
    rows = catalogue.in_force("indicators", "indicator_code", period, settings.dbt_project_dir / "seeds")
    return {
        row["indicator_code"]: Indicator(
            code=row["indicator_code"],
            name=row["name_vi"],
            levels=tuple(row["levels"].split("|")),
            comparator=row["comparator"] or ">=",
            target=Decimal(row["target_value"]) if row["target_value"] else None,
            source=row["source"],
            plan_ref=row["plan_ref"],
            unit=row["unit"] or "percent",
            target_levels=tuple(level for level in row["target_levels"].split("|") if level),
            note=row["note"],
        )
        for row in rows
    }


def _rows(conn: psycopg.Connection, query: str | sql.Composable, params: Iterable = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query, tuple(params)).fetchall()


def _publish(row: dict) -> Publish:
    tables = tuple((t["name"], int(t["rows"]), t["checksum"]) for t in row["tables"])
    return Publish(
        row["publish_id"], row["published_at"], row["period_id"], row["run_id"], row["gate_run_id"], tables
    )


def _published(conn: psycopg.Connection, period: Period) -> tuple[Publish, Publish | None, list[str]]:
    """The latest publish of the half-year, the publish whose figures of it the marts hold, the
    published (gated) half-years up to it."""
    if conn.execute("select to_regclass('marts_audit.publish_log')").fetchone()[0] is None:
        raise ReportNotPublished(f"nothing has been published yet: no marts for half-year {period.id}")
    publishes = [
        _publish(r) for r in _rows(conn, "select * from marts_audit.publish_log order by publish_id desc")
    ]
    based_on = next((p for p in publishes if p.period_id == period.id), None)
    if based_on is None:
        raise ReportNotPublished(
            f"half-year {period.id} has no published marts (no row in marts_audit.publish_log): "
            f"run `dxw run semiannual_marts --period {period.id}` first"
        )
    # A publish records the checksums of its half-year's rows: the marts hold the figures of the
    # half-year's latest publish unless something else changed them since.
    current_sums = {
        table: publish.table_checksum(
            conn, "marts", table, period.id if publish.has_period_column(conn, "marts", table) else None
        )[1]
        for table, _, _ in based_on.tables
    }
    current = next(
        (
            p
            for p in publishes
            if p.period_id == period.id and all(current_sums.get(t) == digest for t, _, digest in p.tables)
        ),
        None,
    )
    same_grain = sorted(
        {
            p.period_id
            for p in publishes
            if p.period_id and _is_kind(p.period_id, period.kind) and parse(p.period_id) <= period
        },
        key=parse,
    )
    return based_on, current, same_grain


def _is_kind(period_id: str, kind: str) -> bool:
    try:
        return parse(period_id).kind == kind
    except PeriodError:
        return False


def _figures(conn: psycopg.Connection, period: Period, structure: str) -> list[Figure]:
    rows = _rows(
        conn,
        sql.SQL(
            """
            select unit_code, unit_name, unit_level, parent_code, indicator_code, numerator, denominator,
                   value, target_value, comparator, target_met, gap_to_target, change_since_previous,
                   rank_in_level, reporting_units, is_qualitative, units_achieved, units_applicable,
                   coverage_level, units_at_level, units_with_data, window_basis, window_start, window_end
            from {}
            where period_id = %s and unit_structure = %s
            order by array_position(array['province', 'department', 'district', 'commune'], unit_level),
                     unit_code, indicator_code
            """
        ).format(sql.Identifier("marts", indicator_table(period))),
        (period.id, structure),
    )
    return [Figure(**row) for row in rows]


def _trend(
    conn: psycopg.Connection, period: Period, structure: str, province_code: str, periods: list[str]
) -> dict[str, list[Decimal | None]]:
    rows = conn.execute(
        sql.SQL(
            """
            select indicator_code, period_id, value from {}
            where unit_structure = %s and unit_code = %s and period_id = any(%s)
            """
        ).format(sql.Identifier("marts", indicator_table(period))),
        (structure, province_code, periods),
    ).fetchall()
    values = {(code, pid): value for code, pid, value in rows}
    return {code: [values.get((code, pid)) for pid in periods] for code in sorted({r[0] for r in rows})}


def _awards(
    conn: psycopg.Connection, period: Period, structure: str, periods: list[str], names: dict[str, str]
) -> tuple[list[AwardCandidate], list[tuple[str, str, Decimal]]]:
    history = {
        (award, unit): (eligible, total)
        for award, unit, eligible, total in conn.execute(
            """
            select award_code, unit_code, count(*) filter (where eligible), count(*)
            from marts.mart_award_eligibility
            where unit_structure = %s and period_id = any(%s) and grain = %s
            group by award_code, unit_code
            """,
            (structure, periods, period.kind),
        ).fetchall()
    }
    rows = _rows(
        conn,
        """
        select award_code, award_name_vi, grain, basis, evaluated_from, evaluated_to, board_condition_vi,
               unit_structure, unit_level, unit_code, unit_name, parent_code, indicator_code, value,
               numerator, denominator, comparator, threshold, margin, candidate_rank, plan_ref,
               last_loaded_at
        from marts.mart_award_eligibility
        where period_id = %s and eligible and grain = any(%s)
          -- The summary award reads every unit that existed in the plan period: the districts and
          -- communes until 30 June 2025 as well as the 2025 communes.
          and (unit_structure = %s or grain = 'plan_period')
        order by array_position(array['plan_period', 'year', 'halfyear'], grain), award_code desc,
                 array_position(array['district', 'commune'], unit_level), unit_structure, candidate_rank,
                 unit_code
        """,
        (period.id, list(award_grains(period)), structure),
    )
    candidates = [
        AwardCandidate(
            award_code=r["award_code"],
            award_name=r["award_name_vi"],
            grain=r["grain"],
            basis=r["basis"],
            evaluated=(r["evaluated_from"], r["evaluated_to"]),
            board_condition=r["board_condition_vi"] or "",
            structure=r["unit_structure"],
            unit_level=r["unit_level"],
            unit_code=r["unit_code"],
            unit_name=r["unit_name"],
            parent_name=names.get(r["parent_code"] or "", r["parent_code"] or ""),
            indicator_code=r["indicator_code"],
            value=r["value"],
            numerator=r["numerator"],
            denominator=r["denominator"],
            comparator=r["comparator"],
            threshold=r["threshold"],
            margin=r["margin"],
            rank=r["candidate_rank"],
            plan_ref=r["plan_ref"],
            last_loaded_at=r["last_loaded_at"],
            periods_eligible=history.get((r["award_code"], r["unit_code"]), (1, 1))[0],
            periods_published=history.get((r["award_code"], r["unit_code"]), (1, 1))[1],
        )
        for r in rows
    ]
    thresholds = conn.execute(
        """
        select distinct award_code, unit_level, threshold from marts.mart_award_eligibility
        where period_id = %s and unit_structure = %s and grain = %s order by threshold desc
        """,
        (period.id, structure, period.kind),
    ).fetchall()
    return candidates, [tuple(t) for t in thresholds]


def _quality(conn: psycopg.Connection, period: Period) -> QualityRun | None:
    """The latest run of a marts quality gate that audited the half-year."""
    if conn.execute("select to_regclass('marts_audit.quality_run')").fetchone()[0] is None:
        return None
    # quality.validate records an audited half-year as "<table> (<period>)".
    runs = _rows(
        conn,
        """
        select quality_run_id, suite, table_name, success, evaluated, failed_errors, failed_warnings,
               started_at
        from marts_audit.quality_run where table_name like %s
        order by quality_run_id desc limit 1
        """,
        (f"marts%({period.id})",),
    )
    if not runs:
        return None
    failures = conn.execute(
        """
        select check_name, expectation, severity, unexpected_count, failing_rows
        from marts_audit.quality_failure where quality_run_id = %s
        order by severity = 'error' desc, check_name
        """,
        (runs[0]["quality_run_id"],),
    ).fetchall()
    return QualityRun(
        **runs[0],
        failures=tuple(
            QualityFailure(check, expectation, severity, count, tuple(_row_label(r) for r in rows or []))
            for check, expectation, severity, count, rows in failures
        ),
    )


def _refused(conn: psycopg.Connection, period: Period) -> list[tuple[str, str, int]]:
    """Observations of the half-year refused because their unit did not exist in it."""
    if conn.execute("select to_regclass('core.fct_refused_observation')").fetchone()[0] is None:
        return []
    rows = conn.execute(
        """
        select source_system, refusal_reason, count(*)::integer from core.fct_refused_observation
        where period_id = %s group by 1, 2 order by 1, 2
        """,
        (period.id,),
    ).fetchall()
    return [tuple(row) for row in rows]


def _pilots(conn: psycopg.Connection) -> list[Pilot]:
    """The pilot registry (Plan 86 III.4): the board's picks, then the districts', the departments'."""
    if conn.execute("select to_regclass('core.dim_pilot_unit')").fetchone()[0] is None:
        return []
    rows = _rows(
        conn,
        """
        select pilot_level, registered_by_code, registered_by_name, unit_code, unit_structure, unit_level,
               pilot_name, registered_on, source_note
        from core.dim_pilot_unit
        order by array_position(array['province', 'district', 'department'], pilot_level),
                 array_position(array['district', 'department'], unit_level), registered_by_code,
                 unit_code, pilot_name
        """,
    )
    return [Pilot(**{**row, "source_note": row["source_note"] or ""}) for row in rows]


def _pilot_awards(conn: psycopg.Connection, period: Period) -> dict[str, list[PilotAward]]:
    """The pilots' rows of the 2021-2025 summary award, which a year's report shows."""
    if period.kind != "year" or "pilot_level" not in publish.columns(conn, "marts", "mart_award_eligibility"):
        return {}
    rows = _rows(
        conn,
        """
        select unit_code, award_code, award_name_vi, value, comparator, threshold, eligible,
               evaluated_from, evaluated_to
        from marts.mart_award_eligibility
        where period_id = %s and grain = 'plan_period' and pilot_level is not null
        order by unit_code, award_code desc
        """,
        (period.id,),
    )
    awards: dict[str, list[PilotAward]] = {}
    for r in rows:
        awards.setdefault(r["unit_code"], []).append(
            PilotAward(
                r["award_code"],
                r["award_name_vi"],
                r["value"],
                r["comparator"],
                r["threshold"],
                r["eligible"],
                (r["evaluated_from"], r["evaluated_to"]),
            )
        )
    return awards


def _row_label(row: object) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={v}" for k, v in row.items())
    return str(row)


def _compliance(conn: psycopg.Connection, period: Period) -> list[Compliance]:
    rows = _rows(
        conn,
        """
        select unit_code, unit_name, unit_level, submitted, indicators_applicable, indicators_reported,
               completeness, deadline, deadline_assumption, submitted_at, on_time, status
        from marts.mart_reporting_compliance where period_id = %s
        order by array_position(array['department', 'district'], unit_level), unit_code
        """,
        (period.id,),
    )
    return [Compliance(**row) for row in rows]


def load(
    period_id: str,
    settings: Settings | None = None,
    now: Callable[[ZoneInfo], datetime] = datetime.now,
    structure: str | None = None,
) -> ReportData:
    """Read the half-year's published marts into a :class:`ReportData`.

    ``structure``: the unit structure to report in (``before_2025`` or ``from_2025``); by default
    the one the period is reported in (:func:`structure_of`). 2025S2 and the year 2025 read in
    both: under the old structure they cover the old units' 15-30 June 2025 only.
    """
    settings = settings or get_settings()
    try:
        period = parse(period_id)
    except PeriodError as exc:
        raise ReportError(str(exc)) from exc
    if period.kind not in ("halfyear", "year"):
        raise ReportError(
            f"a report needs a half-year id such as 2025S1 or a year such as 2025, got {period_id!r}"
        )
    structure = structure or structure_of(period)
    if structure not in (BEFORE_2025, FROM_2025):
        raise ReportError(f"structure must be {BEFORE_2025} or {FROM_2025}, got {structure!r}")
    with database.connect(settings) as conn:
        # One snapshot: a publish swapping tables mid-way cannot mix two versions into the report.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        table = indicator_table(period)
        if conn.execute("select to_regclass(%s)", (f"marts.{table}",)).fetchone()[0] is None:
            raise ReportNotPublished(
                f"schema marts has no published marts: nothing to report for {period.id}"
            )
        based_on, current, halfyears = _published(conn, period)
        figures = _figures(conn, period, structure)
        if not figures:
            raise ReportNotPublished(
                f"marts.{table} has no figures for {period.id} "
                f"({structure} units), although it was published in publish {based_on.publish_id}"
            )
        data = ReportData(
            period=period,
            structure=structure,
            generated_at=now(ZoneInfo(settings.timezone)),
            indicators=load_catalogue(settings, period),
            figures=figures,
            trend_periods=halfyears,
            trend={},
            based_on=based_on,
            current=current,
        )
        data.trend = _trend(conn, period, structure, data.province[0], halfyears)
        data.awards, data.award_thresholds = _awards(conn, period, structure, halfyears, data.unit_names())
        data.quality = _quality(conn, period)
        data.compliance = _compliance(conn, period)
        data.refused = _refused(conn, period)
        data.pilots = _pilots(conn)
        data.pilot_awards = _pilot_awards(conn, period)
    return data
