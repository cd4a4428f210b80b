"""Text views of the warehouse for the terminal (``dxw demo``, ``dxw status``): a published
half-year's attainment, scorecard, award and reporting-duty tables, the uploads, the pipeline status."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from psycopg import sql

from dxw import publish
from dxw.periods import parse
from dxw.serving.reports.model import structure_of
from dxw.settings import get_settings
from dxw.warehouse import database
from dxw.warehouse.schemas import AUDIT_SCHEMA

ATTAINMENT_SQL = """
select m.unit_code, m.unit_name, m.unit_level, m.indicator_code, m.value, m.numerator,
       m.denominator, m.target_value, m.comparator, m.target_met, m.change_since_previous,
       m.rank_in_level, m.coverage_level, m.units_at_level, m.units_with_data
from marts.mart_semiannual_indicator as m
where m.period_id = %s and m.unit_level in ('province', 'district') and m.unit_structure = %s
  and m.indicator_code in ('PS_FULL_ONLINE', 'PS_ON_TIME')
order by m.unit_level desc, m.unit_code
"""
LEVEL_PLURALS = {"commune": "communes", "district": "districts", "department": "provincial bodies"}
STRUCTURE_WORDS = {
    "before_2025": "units as they stood until 30 June 2025 (Hà Giang, its districts and communes)",
    "from_2025": "units from 1 July 2025 (the new Tuyên Quang, two-tier: province and communes)",
}


def coverage_words(level: str | None, with_data: int | None, at_level: int | None) -> str:
    """'73 of 124 communes report to this warehouse'."""
    return (
        f"{with_data or 0} of {at_level} {LEVEL_PLURALS.get(level or '', 'units')} report to this warehouse"
    )


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _change(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+.1f}"


def _met(met: bool | None, comparator: str | None, target: Decimal | None) -> str:
    if met is None:
        return ""
    return f"{'met' if met else 'below'} {comparator}{target:.0f}%"


def attainment_table(period_id: str) -> str:
    """Province and district attainment for the public-service indicators of one half-year, in the
    unit structure the half-year is reported in, with the province's coverage in words."""
    period = parse(period_id)
    structure = structure_of(period)
    start, end = period.window("decree09")
    with database.connect() as conn:
        rows = conn.execute(ATTAINMENT_SQL, (period.id, structure)).fetchall()
    if not rows:
        return f"No published figures for {period.id} in marts.mart_semiannual_indicator."
    by_unit: dict[str, dict] = {}
    partial: list[str] = []
    for code, name, level, indicator, value, num, den, target, comparator, met, change, rank, *cov in rows:
        unit = by_unit.setdefault(code, {"name": name, "level": level})
        unit[indicator] = (value, num, den, target, comparator, met, change, rank)
        coverage_level, at_level, with_data = cov
        if level == "province" and at_level is not None and (with_data or 0) < at_level:
            partial.append(f"  {indicator}: partial, {coverage_words(coverage_level, with_data, at_level)}")
    header = (
        f"Public-service indicators, {period.id} (Decree 09 window {start:%d/%m/%Y} - {end:%d/%m/%Y}), "
        "from the published marts\n"
        f"Units: {STRUCTURE_WORDS[structure]}\n"
        "Fully online = services offered fully online (toàn trình) / services eligible for it; the plan's\n"
        "               100% target is for sở, ngành, đoàn thể tỉnh only (IV.1.a): monitoring here\n"
        "On time      = dossiers completed on time / dossiers completed (Decision 766 monitoring)\n"
    )
    columns = f"{'Unit':<26} {'Fully online':>12} {'services':>11} {'target':>12} {'rank':>4}  "
    columns += f"{'On time':>8} {'dossiers':>15} {'vs prev':>7}"
    lines = [header, columns, "-" * len(columns)]
    for unit in by_unit.values():
        full = unit.get("PS_FULL_ONLINE")
        on_time = unit.get("PS_ON_TIME")
        name = unit["name"] if unit["level"] != "province" else f"{unit['name']} (province)"
        line = f"{name[:26]:<26} "
        if full:
            value, num, den, target, comparator, met, _change_value, rank = full
            counts = f"{num:.0f}/{den:.0f}"
            line += f"{_pct(value):>12} {counts:>11} {_met(met, comparator, target):>12} {rank:>4}  "
        else:
            line += " " * 45
        if on_time:
            value, num, den, *_rest = on_time
            line += f"{_pct(value):>8} {f'{num:.0f}/{den:.0f}':>15} {_change(on_time[6]):>7}"
        lines.append(line)
    if partial:
        lines += [
            "Coverage of the province's figures (the other units do not report to this warehouse):",
            *partial,
        ]
    return "\n".join(lines)


UPLOADS_SQL = """
select scope, status, coalesce((details ->> 'accepted')::int, 0), coalesce((details ->> 'rejected')::int, 0),
       coalesce(jsonb_array_length(details -> 'no_data'), 0),
       coalesce(jsonb_array_length(details -> 'warnings'), 0),
       details ->> 'file'
from raw.load_batch
where dataset = 'unit_upload_observations' and period_id = %s
order by batch_id
"""


def uploads_table(period_id: str) -> str:
    """What the units' uploads for a half-year became per file: rows accepted, rejected, "no data", warned."""
    period = parse(period_id)
    with database.connect() as conn:
        if not conn.execute("select to_regclass('raw.load_batch')").fetchone()[0]:
            return f"No unit uploads for {period.id}."
        rows = conn.execute(UPLOADS_SQL, (period.id,)).fetchall()
    if not rows:
        return f"No unit uploads for {period.id}."
    lines = [
        f"Unit uploads {period.id}: {len(rows)} file(s)",
        f"{'unit':<8} {'status':<10} {'accepted':>8} {'rejected':>8} {'no data':>8} {'warnings':>8}  file",
    ]
    for unit, status, accepted, rejected, no_data, warnings, name in rows:
        counts = f"{accepted:>8} {rejected:>8} {no_data:>8} {warnings:>8}"
        lines.append(f"{unit or '?':<8} {status:<10} {counts}  {name or ''}")
    return "\n".join(lines)


def next_steps() -> list[str]:
    settings = get_settings()
    from dxw import quality

    where = urlsplit(database.resolve(settings).warehouse)
    # The embedded server checks every password but dxw's own: dxw_bi without one cannot log in.
    bi = (
        f"BI tools: user dxw_bi, password DXW_BI_PASSWORD, {where.hostname}:{where.port}, "
        f"database {where.path.lstrip('/')}, schema marts"
        if settings.bi_password
        else "BI tools: set DXW_BI_PASSWORD, then `dxw db grant`: until then dxw_bi cannot log in"
    )
    return [
        "dxw status                     latest batches, quality gates, publishes",
        # The command rather than the URL: the URL may carry a password, never printed.
        'psql "$(dxw db url --show-password)"   (schema marts: the published marts)',
        bi,
        f"{quality.data_docs_index(settings)}   Great Expectations Data Docs",
        f"{settings.uploads_dir / 'outbox'}   rejection reports for the units (Vietnamese)",
        "dxw upload template --unit 024 --period 2025S1   a unit's xlsx form",
        "dxw ingest upload FILE | dxw ingest dhis2 FILE   load a file by hand, with its summary",
        "dxw run ingest_public_service_portal --period 2025S1   re-ingest a half-year (idempotent)",
        "dxw run semiannual_marts --period 2025S1   rebuild, audit and publish a half-year's marts",
        "make test                      the whole test suite",
    ]


def status() -> str:
    """Latest batch per source dataset, the latest quality gate runs and the published periods."""
    lines = []
    with database.connect() as conn:
        has_ledger = conn.execute("select to_regclass('raw.load_batch')").fetchone()[0]
        lines.append("Latest batches per source dataset and period:")
        if has_ledger:
            rows = conn.execute(
                """
                select distinct on (dataset, period_id) source, dataset, period_id, batch_id, status,
                       row_count, finished_at, coalesce(error, '')
                from raw.load_batch
                order by dataset, period_id, batch_id desc
                """
            ).fetchall()
            for source, dataset, period_id, batch_id, state, rows_, finished, error in rows:
                when = f"{finished:%Y-%m-%d %H:%M}" if finished else "-"
                lines.append(
                    f"  {source:<22} {dataset:<24} {period_id:<7} batch {batch_id:<5} {state:<9} "
                    f"{rows_:>6} rows  {when}  {error[:60]}"
                )
        if not has_ledger or len(lines) == 1:
            lines.append("  nothing landed yet (run `dxw demo` or `dxw run ingest_public_service_portal`)")
        lines.append("Quality gates (latest run per suite):")
        runs = f"{AUDIT_SCHEMA}.quality_run"
        if conn.execute("select to_regclass(%s)", (runs,)).fetchone()[0]:
            for suite, ok, errors, warnings, started in conn.execute(
                sql.SQL(
                    "select distinct on (suite) suite, success, failed_errors, failed_warnings, started_at "
                    "from {} order by suite, quality_run_id desc"
                ).format(sql.Identifier(AUDIT_SCHEMA, "quality_run"))
            ).fetchall():
                verdict = "passed" if ok else f"FAILED ({errors} blocking)"
                lines.append(f"  {suite:<32} {verdict:<20} {warnings} warnings  {started:%Y-%m-%d %H:%M}")
        else:
            lines.append("  no gate has run yet")
        periods = publish.published_periods(conn)
        lines.append("Published periods (schema marts; each passed its own quality gate):")
        if not periods:
            lines.append("  nothing published yet")
        for done in periods:
            rows = sum(table["rows"] for table in done.tables)
            lines.append(
                f"  {done.period_id or '(whole)':<8} published {done.published_at:%Y-%m-%d %H:%M:%S}  "
                f"gate run {done.gate_run_id or '-':<5} {rows:>7} rows in {len(done.tables)} tables"
            )
    return "\n".join(lines)


LEVEL_NAMES = {
    "province": "Province",
    "department": "Provincial bodies",
    "district": "Districts",
    "commune": "Communes",
}


def scorecard_table(period_id: str) -> str:
    """Per level: how many of the plan's targeted indicators units measure and meet."""
    period = parse(period_id)
    with database.connect() as conn:
        rows = conn.execute(
            """
            select unit_level, count(*), max(indicators_applicable), round(avg(indicators_measured), 1),
                   round(avg(indicators_met), 1), round(avg(share_met), 1),
                   (array_agg(unit_name order by standing_in_level, unit_code))[1]
            from marts.mart_unit_scorecard
            where period_id = %s and unit_structure = 'before_2025'
            group by unit_level
            order by array_position(array['province', 'department', 'district', 'commune'], unit_level)
            """,
            (period.id,),
        ).fetchall()
    if not rows:
        return f"No published scorecard for {period.id}."
    lines = [
        f"Scorecard {period.id}: Plan 86 targets per level (targeted indicators that apply to the level)",
        f"{'Level':<18} {'units':>5} {'targets':>7} {'measured':>8} {'met':>5} {'% met':>6}  best unit",
        "-" * 80,
    ]
    for level, units, targets, measured, met, share, best in rows:
        lines.append(
            f"{LEVEL_NAMES[level]:<18} {units:>5} {targets:>7} {measured:>8} {met:>5} {share:>6}  {best}"
        )
    lines.append(
        "(A targeted indicator without a figure for the half-year, e.g. a form a unit has not sent, counts"
    )
    lines.append(" as applicable but not measured.)")
    return "\n".join(lines)


def award_table(period_id: str, shown: int = 5) -> str:
    """Plan 86 IV.3 candidate lists with their evidence (the final choice stays with the Board)."""
    period = parse(period_id)
    with database.connect() as conn:
        rows = conn.execute(
            """
            select award_name_vi, unit_level, comparator, threshold, unit_name, value, numerator,
                   denominator, eligible, candidate_rank
            from marts.mart_award_eligibility
            where period_id = %s and unit_structure = 'before_2025' and grain = 'halfyear'
            order by award_code desc, unit_level desc, eligible desc, candidate_rank, value desc
            """,
            (period.id,),
        ).fetchall()
    if not rows:
        return f"No published award candidates for {period.id}."
    groups: dict[tuple[str, str], list] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    lines = [
        f"Award monitoring {period.id} (work dossiers processed and digitally signed online): units on",
        "track for Plan 86 IV.3, not the award list (the 2021-2025 summary award is in the 2025 report)",
    ]
    for (award, level), members in groups.items():
        eligible = [m for m in members if m[8]]
        comparator, threshold = members[0][2], members[0][3]
        lines.append(
            f"  {award} - {level}: {len(eligible)} of {len(members)} on track ({comparator} {threshold:.0f}%)"
        )
        for _, _, _, _, name, value, num, den, _, rank in eligible[:shown]:
            lines.append(f"    {rank:>3}. {name:<28} {value:>6.2f}%  ({num:.0f}/{den:.0f})")
    return "\n".join(lines)


def compliance_table(period_id: str) -> str:
    """The reporting duty of a published half-year (Plan 86 VI.6): on time, late, missing per level."""
    period = parse(period_id)
    with database.connect() as conn:
        rows = conn.execute(
            "select unit_level, status, count(*), string_agg(unit_code, ' ' order by unit_code) "
            "from marts.mart_reporting_compliance where period_id = %s group by 1, 2 order by 1, 2",
            (period.id,),
        ).fetchall()
    if not rows:
        return f"Reporting duty {period.id}: no unit has the duty (or the half-year is not published)."
    lines = [
        f"Reporting duty {period.id} (Plan 86 VI.6: departments and districts; deadline assumed):",
        f"{'level':<12} {'status':<18} {'units':>5}  late or missing",
    ]
    for level, status, count, codes in rows:
        shown = codes if status in ("late", "missing") else ""
        lines.append(f"{level:<12} {status:<18} {count:>5}  {shown}")
    return "\n".join(lines)
