"""The semi-annual report as one self-contained HTML page (inline CSS and SVG, no script).

The page is the Jinja2 template ``templates/report.html.j2`` (with ``templates/report.css``): a
designer edits the layout there. The environment escapes every value (``autoescape``) and
refuses a name the template does not get (``StrictUndefined``); only the SVG charts
(:mod:`dxw.serving.reports.svg`) reach the page as markup. :func:`view` derives what the page shows from
the :class:`ReportData` (groupings, counts); the template decides how it looks.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

import jinja2

from dxw.serving.reports import charts, svg, vn_change, vn_number, vn_percent
from dxw.serving.reports.model import (
    BEFORE_2025,
    FROM_2025,
    GRAIN_TEXT,
    LEVEL_NAMES,
    LEVEL_UNITS,
    PILOT_LEVEL_NAMES,
    PILOT_MARK,
    SOURCE_NAMES,
    AwardCandidate,
    Compliance,
    Pilot,
    ReportData,
    structure_of,
)

TEMPLATE = "report.html.j2"
AWARD_NAMES = {
    "PM_CERTIFICATE": "Bằng khen của Thủ tướng Chính phủ",
    "CHAIRMAN_CERTIFICATE": "Bằng khen của Chủ tịch UBND tỉnh",
}
NAMES_SHOWN = 40  # names listed inline before "và N đơn vị khác"
CANDIDATES_SHOWN = 20  # award candidates per list on the page (the workbook has all)
STRUCTURE_CAPTION = {
    BEFORE_2025: "cơ cấu đơn vị trước sắp xếp (đến 30/6/2025)",
    FROM_2025: "cơ cấu đơn vị sau sắp xếp (từ 01/7/2025, chính quyền hai cấp)",
}
STRUCTURE_TEXT = {
    BEFORE_2025: "đơn vị trước sắp xếp, đánh giá đến kỳ cuối còn tồn tại",
    FROM_2025: "đơn vị sau sắp xếp từ 01/7/2025",
}
REFUSAL_REASONS = {
    "before_unit_start": "đơn vị chưa được thành lập trong kỳ",
    "after_unit_end": "đơn vị đã chấm dứt hoạt động trước kỳ và không có đơn vị kế thừa cùng cấp",
    "successor_reported": "đơn vị kế thừa đã có số liệu riêng từ cùng nguồn",
    "state_after_unit_end": "số liệu hiện trạng của đơn vị đã chấm dứt trước ngày chốt số liệu "
    "(hiện trạng tại ngày chốt do đơn vị kế thừa báo cáo)",
    "unknown_period": "kỳ báo cáo không xác định",
}
# The old units (districts, pre-2025 communes) existed until this day.
OLD_UNITS_END = date(2025, 6, 30)


def day(value: date | None) -> str:
    """``14/06/2025``; ``-`` for no day."""
    return "-" if value is None else f"{value:%d/%m/%Y}"


def moment(value: datetime | None, zone: Any = None) -> str:
    """``22/06/2025 09:05``, in ``zone`` when given; ``-`` for no time."""
    if value is None:
        return "-"
    if zone is not None:
        value = value.astimezone(zone)
    return f"{value:%d/%m/%Y %H:%M}"


@cache
def environment() -> jinja2.Environment:
    """The templates shipped in the package, escaping every value."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dxw.serving.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        vn_number=vn_number, vn_percent=vn_percent, vn_change=vn_change, day=day, moment=moment
    )
    env.globals.update(
        svg=svg.svg,
        BEFORE_2025=BEFORE_2025,
        FROM_2025=FROM_2025,
        LEVEL_NAMES=LEVEL_NAMES,
        LEVEL_UNITS=LEVEL_UNITS,
        PILOT_LEVEL_NAMES=PILOT_LEVEL_NAMES,
        PILOT_MARK=PILOT_MARK,
        SOURCE_NAMES=SOURCE_NAMES,
        STRUCTURE_CAPTION=STRUCTURE_CAPTION,
        STRUCTURE_TEXT=STRUCTURE_TEXT,
        REFUSAL_REASONS=REFUSAL_REASONS,
        NAMES_SHOWN=NAMES_SHOWN,
        CANDIDATES_SHOWN=CANDIDATES_SHOWN,
    )
    return env


def render(data: ReportData) -> str:
    """The whole report page."""
    return environment().get_template(TEMPLATE).render(data=data, view=view(data))


def view(data: ReportData) -> dict[str, Any]:
    """What the page shows beyond the report data's own fields: groupings, counts, charts."""
    start, end = data.window
    return {
        "window_notes": data.window_notes(),
        "indicator_checksum": next(
            (digest for table, _, digest in data.based_on.tables if table == "mart_semiannual_indicator"), ""
        ),
        "structure_of_period": structure_of(data.period),
        "old_units_last_day": OLD_UNITS_END,
        "old_units_days": (OLD_UNITS_END - start).days + 1,
        "period_days": (end - start).days + 1,
        "summary": _summary(data),
        "district_charts": charts.district_charts(data),
        "trend_chart": charts.trend_chart(data),
        "commune_charts": charts.commune_charts(data),
        "levels": [_level(data, level) for level in data.levels],
        "board_condition": next((c.board_condition for c in data.awards if c.board_condition), ""),
        "award_groups": _award_groups(data),
        "compliance": _compliance(data),
        "deadline_assumptions": sorted(
            {m.deadline_assumption for m in data.compliance if m.deadline_assumption}
        ),
        "pilots": _pilots(data),
        "pilot_notes": sorted({p.source_note for p in data.pilots if p.is_demo}),
        "pilots_of_other_structure": any(
            p.unit_structure and p.unit_structure != data.structure for p in data.pilots
        ),
    }


def _summary(data: ReportData) -> dict[str, Any]:
    rows = data.summary()
    measured = [r for r in rows if r.province is not None and r.province.measured]
    partial = [r.province for r in rows if r.province is not None and r.province.is_partial]
    return {
        "rows": rows,
        "measured": len(measured),
        "met": sum(1 for r in measured if r.met),
        "unmeasured": len(rows) - len(measured),
        "eligible": len({(c.unit_level, c.unit_code) for c in data.awards}),
        "partial": sorted(
            {f"{f.coverage_text} ({LEVEL_NAMES.get(f.coverage_level or '', '')})" for f in partial}
        ),
    }


def _level(data: ReportData, level: str) -> dict[str, Any]:
    """A level's table (a row per unit, a column per indicator) and its units below each target."""
    codes = data.level_indicators(level)
    figures = {(f.unit_code, f.indicator_code): f for f in data.at_level(level)}
    names = data.unit_names()
    units = [
        {
            "code": code,
            "name": name,
            "parent": names.get(parent or "", parent or ""),
            "pilot": data.pilot_level(code),
            "figures": [figures.get((code, indicator)) for indicator in codes],
        }
        for code, name, parent in sorted(
            {(f.unit_code, f.unit_name, f.parent_code) for f in data.at_level(level)}
        )
    ]
    targets = [
        {
            "indicator": data.indicator(code),
            "below": data.below_target(level, code),
            "measured": sum(1 for key, f in figures.items() if key[1] == code and f.measured),
        }
        for code in data.targeted(level)
    ]
    return {
        "level": level,
        "indicators": [data.indicator(code) for code in codes],
        "units": units,
        "pilots": sum(1 for unit in units if unit["pilot"] is not None),
        "targets": targets,
    }


def _award_groups(data: ReportData) -> list[dict[str, Any]]:
    """The candidate lists in page order: per grain, award, level and (summary award) structure,
    with an empty list for an award rule no unit reaches."""
    groups: dict[tuple[str, str, str, str], list[AwardCandidate]] = {}
    for c in data.awards:
        structure = c.structure if c.grain == "plan_period" else data.structure
        groups.setdefault((c.grain, c.award_code, c.unit_level, structure), []).append(c)
    thresholds = {(award, level): threshold for award, level, threshold in data.award_thresholds}
    grains = ("plan_period", "year") if data.is_annual else ("halfyear",)
    keys = [(grain, award, level, data.structure) for grain in grains for award, level in thresholds]
    keys += [key for key in groups if key not in keys]
    keys = [k for k in keys if k[0] != "plan_period" or k in groups]
    order = {"plan_period": 0, "year": 1, "halfyear": 2}
    keys.sort(key=lambda k: (order[k[0]], k[1] != "PM_CERTIFICATE", k[2] != "district", k[3]))
    result = []
    previous_grain = None
    for key in keys:
        grain, award, level, structure = key
        members = groups.get(key, [])
        heading = GRAIN_TEXT[grain] if data.is_annual and grain != previous_grain else None
        previous_grain = grain
        result.append(
            {
                "grain": grain,
                "award": award,
                "level": level,
                "structure": structure,
                "heading": heading,
                "name": next((c.award_name for c in members), AWARD_NAMES.get(award, award)),
                "threshold": thresholds.get((award, level)) or next(c.threshold for c in members),
                "members": members,
                "shown_pilots": any(
                    data.pilot_level(c.unit_code, c.structure) for c in members[:CANDIDATES_SHOWN]
                ),
            }
        )
    return result


def _compliance(data: ReportData) -> list[dict[str, Any]]:
    """The reporting duty per level: who submitted, late, missing, incomplete."""
    by_level: dict[str, list[Compliance]] = {}
    for row in data.compliance:
        by_level.setdefault(row.unit_level, []).append(row)
    levels = []
    for level, members in by_level.items():
        complete = [m.completeness for m in members if m.completeness is not None]
        levels.append(
            {
                "level": level,
                "units": members,
                "submitted": sum(1 for m in members if m.submitted),
                "on_time": sum(1 for m in members if m.status == "on_time"),
                "missing": [m for m in members if not m.submitted],
                "late": [m for m in members if m.status == "late"],
                "incomplete": [m for m in members if m.submitted and (m.completeness or 0) < 100],
                "completeness": sum(complete) / len(complete) if complete else None,
                "deadline": max((m.deadline for m in members if m.deadline), default=None),
            }
        )
    return levels


def _pilots(data: ReportData) -> list[dict[str, Any]]:
    """The pilot registry per level of who picked them, each pilot with its figures of the period."""
    by_level: dict[str, list[dict[str, Any]]] = {}
    for pilot in data.pilots:
        by_level.setdefault(pilot.pilot_level, []).append(_pilot(data, pilot))
    return [{"level": level, "pilots": pilots} for level, pilots in by_level.items()]


def _pilot(data: ReportData, pilot: Pilot) -> dict[str, Any]:
    """A pilot with indicators met / measured / targeted at its level (``-`` without figures)."""
    if pilot.unit_code is None or pilot.unit_structure != data.structure:
        return {"pilot": pilot, "count": "-", "results": [], "measured": 0}
    results = data.pilot_results(pilot)
    targeted = [i for i in data.indicators.values() if pilot.unit_level in i.target_levels and i.has_target]
    met = sum(1 for f in results if f.target_met)
    measured = sum(1 for f in results if f.measured)
    return {
        "pilot": pilot,
        "count": f"{met} / {measured} / {len(targeted)}",
        "results": results,
        "measured": measured,
    }
