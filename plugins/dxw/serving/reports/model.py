"""What the semi-annual report shows: its labels and the dataclasses of the figures it reads.

Plain data, no I/O: :mod:`dxw.serving.reports.queries` fills a :class:`ReportData` from the published
marts, :mod:`dxw.serving.reports.charts` describes its charts, :mod:`dxw.serving.reports.html` and
:mod:`dxw.serving.reports.workbook` render it. Whether a unit meets a target is the marts' ``target_met``
(the dbt macro ``meets_target``): nothing here decides it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from dxw.errors import DxwError
from dxw.periods import Period, parse
from dxw.serving.reports import vn_percent
from dxw.sources import registry

BEFORE_2025, FROM_2025 = "before_2025", "from_2025"
# Districts were abolished on 1 July 2025: half-years from 2025S2 use the new structure.
FIRST_FROM_2025 = parse("2025S2")
LEVELS = ("province", "department", "district", "commune")
LEVEL_NAMES = {
    "province": "Cấp tỉnh",
    "department": "Sở, ngành, đoàn thể tỉnh",
    "district": "Cấp huyện",
    "commune": "Cấp xã",
}
LEVEL_UNITS = {"province": "tỉnh", "department": "cơ quan", "district": "huyện", "commune": "xã"}
# Sources that measure figures themselves: a missing figure means the source is not connected,
# while a missing self-reported figure means the unit has not reported it.
SYSTEM_SOURCES = tuple(source.name for source in registry.SOURCES)
SOURCE_NAMES = registry.labels_vi()
# Short labels for chart legends and table headers; full names come from the catalogue.
SHORT_NAMES = {
    "PS_FULL_ONLINE": "DVC trực tuyến toàn trình",
    "PS_ON_TIME": "Hồ sơ TTHC giải quyết đúng hạn",
    "DEPT_WORK_DOSSIERS_ONLINE": "Hồ sơ công việc cấp tỉnh xử lý trên mạng",
    "DEPT_REPORTS_CONNECTED": "Chế độ báo cáo kết nối HTTTBC Chính phủ",
    "DEPT_SYSTEMS_CONNECTED": "HTTT dùng chung kết nối CSDL quốc gia",
    "DEPT_DIGITAL_INSPECTIONS": "Kiểm tra thực hiện trên môi trường số",
    "DEPT_DATA_WAREHOUSE": "Kho dữ liệu, mở dữ liệu",
    "DIST_WORK_DOSSIERS_SIGNED": "Hồ sơ công việc cấp huyện xử lý và ký số",
    "DIST_HOUSEHOLD_BROADBAND": "Hộ gia đình được phủ hạ tầng mạng băng rộng",
    "DIST_COMMUNE_BROADBAND": "Xã được phủ hạ tầng mạng băng rộng",
    "DIST_ECOMMERCE_PRODUCTS": "Hàng hóa, dịch vụ được chứng nhận trên sàn TMĐT",
    "DIST_DIGITAL_BUSINESSES": "DN, HTX, nhà hàng, khách sạn quản lý bằng công nghệ số",
    "DIST_MOBILE_UNIVERSAL": "Phổ cập 4G/5G, điện thoại thông minh",
    "DIST_EPAYMENT_ACCOUNTS": "Dân số có tài khoản thanh toán điện tử",
    "COMM_WORK_DOSSIERS_ONLINE": "Hồ sơ công việc cấp xã xử lý trên mạng",
    "COMM_WORK_DOSSIERS_SIGNED": "Hồ sơ công việc cấp xã xử lý và ký số",
}
AWARD_NOTES = {
    ("PM_CERTIFICATE", "district"): "Ban Thi đua - Khen thưởng chọn 1-2 huyện trong số đơn vị đủ điều kiện.",
    ("PM_CERTIFICATE", "commune"): "Ban Thi đua - Khen thưởng chọn 2-3 xã trong số đơn vị đủ điều kiện.",
    ("CHAIRMAN_CERTIFICATE", "district"): "Các huyện đủ điều kiện được đề xuất Ban Thi đua - Khen thưởng.",
    ("CHAIRMAN_CERTIFICATE", "commune"): "Các xã đủ điều kiện được đề xuất Ban Thi đua - Khen thưởng.",
}
# What an award list of each grain is (mart_award_eligibility.grain) and how its figure was formed.
GRAIN_TEXT = {
    "plan_period": "Khen thưởng tổng kết giai đoạn 2021 - 2025 (mục IV.3)",
    "year": "Theo năm (tham khảo cho khen thưởng hằng năm, mục III.6 và V)",
    "halfyear": "Theo dõi 6 tháng: đơn vị đang đạt ngưỡng (chưa phải danh sách đề nghị khen thưởng)",
}
BASIS_TEXT = {
    "last_halfyear": (
        "tỷ lệ của kỳ 6 tháng cuối cùng trong giai đoạn mà đơn vị còn tồn tại vào ngày chốt số liệu"
    ),
    "cumulative": "tỷ lệ lũy kế (tổng tử số / tổng mẫu số) các kỳ 6 tháng trong giai đoạn",
    "year_ratio": "tỷ lệ của năm (tổng hai kỳ 6 tháng)",
    "halfyear_ratio": "tỷ lệ của kỳ 6 tháng",
}
# Plan 86 III.4: who picked the pilot (dim_pilot_unit.pilot_level).
PILOT_LEVEL_NAMES = {
    "province": "Cấp tỉnh (Hội đồng Thi đua, khen thưởng tỉnh chọn)",
    "district": "Cấp huyện, thành phố (xã chỉ đạo điểm)",
    "department": "Cấp sở, ngành, đoàn thể tỉnh (đơn vị thuộc và trực thuộc)",
}
PILOT_MARK = "★"


class ReportError(DxwError):
    """The report cannot be written (bad period, nothing published)."""


class ReportNotPublished(ReportError):
    """The half-year has no published marts."""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    xlsx: Path


@dataclass(frozen=True)
class Indicator:
    """One indicator of the plan's catalogue."""

    code: str
    name: str
    levels: tuple[str, ...]
    comparator: str
    target: Decimal | None
    source: str
    plan_ref: str
    unit: str = "percent"
    # The levels the plan sets the target for (catalogue column target_levels); elsewhere the
    # figure is monitoring only.
    target_levels: tuple[str, ...] = ()
    note: str = ""

    @property
    def short(self) -> str:
        return SHORT_NAMES.get(self.code, self.name)

    @property
    def is_qualitative(self) -> bool:
        """A yes/no criterion: achieved or not per unit, never a percentage."""
        return self.unit == "flag"

    @property
    def has_target(self) -> bool:
        return bool(self.target_levels) and (self.is_qualitative or self.target is not None)

    @property
    def target_text(self) -> str:
        if not self.has_target:
            return ""
        if self.is_qualitative:
            return "Đạt (mọi đơn vị)"
        return f"{'>' if self.comparator == '>' else '≥'} {vn_percent(self.target, 0)}"

    @property
    def source_name(self) -> str:
        return SOURCE_NAMES.get(self.source, self.source)

    @property
    def missing_text(self) -> str:
        """Why a figure is missing: a system not connected, or a unit that has not reported."""
        if self.source in SYSTEM_SOURCES:
            return "nguồn dữ liệu chưa được kết nối"
        return "đơn vị chưa báo cáo"


@dataclass(frozen=True)
class Figure:
    """One row of marts.mart_semiannual_indicator."""

    unit_code: str
    unit_name: str
    unit_level: str
    parent_code: str | None
    indicator_code: str
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None
    target_value: Decimal | None = None
    comparator: str | None = None
    target_met: bool | None = None
    gap_to_target: Decimal | None = None
    change_since_previous: Decimal | None = None
    rank_in_level: int | None = None
    reporting_units: int | None = None
    is_qualitative: bool = False
    units_achieved: int | None = None
    units_applicable: int | None = None
    # Coverage (int_unit_coverage): units of coverage_level under the unit that stand for the
    # period, and how many of them have data.
    coverage_level: str | None = None
    units_at_level: int | None = None
    units_with_data: int | None = None
    # The window the figures really cover (macros/window_basis.sql): 'calendar_months' for the
    # public-service portal (calendar months: its API has no Decree 09 window), 'decree09', 'mixed'.
    window_basis: str | None = None
    window_start: date | None = None
    window_end: date | None = None

    @property
    def is_partial(self) -> bool:
        """Whether the figure covers only part of its unit (some units below have no data)."""
        return self.units_at_level is not None and (self.units_with_data or 0) < self.units_at_level

    @property
    def coverage_text(self) -> str:
        """The coverage in words: "73 trên 124 xã có số liệu" (73 of 124 communes report)."""
        if self.units_at_level is None or self.coverage_level is None:
            return ""
        unit = LEVEL_UNITS.get(self.coverage_level, "đơn vị")
        return f"{self.units_with_data or 0} trên {self.units_at_level} {unit} có số liệu"

    @property
    def is_unit_answer(self) -> bool:
        """A yes/no criterion's row for the unit that answered it (not a roll-up)."""
        return self.is_qualitative and self.units_applicable == 1 and self.denominator == 1

    @property
    def qualitative_text(self) -> str:
        """A yes/no criterion: "Đạt"/"Chưa đạt" for a unit, "k/n đơn vị đạt" for a roll-up."""
        if self.is_unit_answer:
            return "Đạt" if self.target_met else "Chưa đạt"
        return f"{self.units_achieved}/{self.units_applicable} đơn vị đạt"

    @property
    def measured(self) -> bool:
        """A ratio with a value, or a yes/no criterion that units answered."""
        if self.is_qualitative:
            return self.units_achieved is not None
        return self.value is not None


@dataclass(frozen=True)
class Publish:
    """One row of marts_audit.publish_log."""

    publish_id: int
    published_at: datetime
    period_id: str | None
    run_id: str | None
    gate_run_id: int | None
    tables: tuple[tuple[str, int, str], ...]  # (table, rows, checksum)


@dataclass(frozen=True)
class AwardCandidate:
    """An eligible row of marts.mart_award_eligibility, with how often the unit was eligible."""

    award_code: str
    award_name: str
    unit_level: str
    unit_code: str
    unit_name: str
    parent_name: str
    indicator_code: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    comparator: str
    threshold: Decimal
    margin: Decimal | None
    rank: int | None
    plan_ref: str
    last_loaded_at: datetime | None
    periods_eligible: int
    periods_published: int
    grain: str = "halfyear"  # plan_period (the 2021-2025 summary award), year, halfyear (monitoring)
    basis: str = "halfyear_ratio"
    evaluated: tuple[str, str] = ("", "")  # first and last period the figure covers
    board_condition: str = ""  # the part of the criterion the Board confirms, not measured here
    structure: str = BEFORE_2025

    @property
    def note(self) -> str:
        return AWARD_NOTES.get((self.award_code, self.unit_level), "")

    @property
    def grain_text(self) -> str:
        return GRAIN_TEXT.get(self.grain, self.grain)

    @property
    def basis_text(self) -> str:
        return BASIS_TEXT.get(self.basis, self.basis)

    @property
    def evaluated_text(self) -> str:
        first, last = self.evaluated
        return first if first == last else f"{first} – {last}"


@dataclass(frozen=True)
class Pilot:
    """A registered pilot of Plan 86 III.4 (core.dim_pilot_unit)."""

    pilot_level: str  # province | department | district: who picked it
    registered_by_code: str
    registered_by_name: str | None
    unit_code: str | None  # none for a department's subordinate unit, registered by name
    unit_structure: str | None
    unit_level: str  # district | department | commune | subordinate
    pilot_name: str
    registered_on: date
    source_note: str = ""

    @property
    def key(self) -> str:
        return self.unit_code or f"{self.registered_by_code}/{self.pilot_name}"

    @property
    def is_demo(self) -> bool:
        return self.source_note.upper().startswith("DEMO")


@dataclass(frozen=True)
class PilotAward:
    """A pilot's row of the 2021-2025 summary award (mart_award_eligibility, grain plan_period)."""

    award_code: str
    award_name: str
    value: Decimal | None
    comparator: str
    threshold: Decimal
    eligible: bool
    evaluated: tuple[str, str]


@dataclass(frozen=True)
class QualityFailure:
    check: str
    expectation: str
    severity: str
    unexpected_count: int | None
    failing_rows: tuple[str, ...]


@dataclass(frozen=True)
class QualityRun:
    """A run of the marts quality gate for the half-year (marts_audit.quality_run)."""

    quality_run_id: int
    suite: str
    table_name: str
    success: bool
    evaluated: int
    failed_errors: int
    failed_warnings: int
    started_at: datetime
    failures: tuple[QualityFailure, ...] = ()

    @property
    def passed(self) -> int:
        return self.evaluated - self.failed_errors - self.failed_warnings


@dataclass(frozen=True)
class Compliance:
    """One row of marts.mart_reporting_compliance: a unit with the reporting duty (Plan 86 VI.6)."""

    unit_code: str
    unit_name: str
    unit_level: str
    submitted: bool
    indicators_applicable: int
    indicators_reported: int
    completeness: Decimal | None
    deadline: date | None
    deadline_assumption: str | None
    submitted_at: datetime | None
    on_time: bool | None
    status: str  # on_time | late | missing | time_not_recorded


@dataclass(frozen=True)
class SummaryRow:
    """The province against one of the plan's targets."""

    indicator: Indicator
    province: Figure | None
    met: bool | None  # every measured unit of the target levels meets it (qualitative: every unit)
    units_met: tuple[tuple[str, int, int], ...]  # (level, units meeting the target, units measured)

    @property
    def levels_text(self) -> str:
        """The levels the plan sets the target for: "Sở, ngành, đoàn thể tỉnh, Cấp huyện"."""
        return ", ".join(LEVEL_NAMES[level] for level in self.indicator.target_levels)

    @property
    def units_text(self) -> str:
        """Units meeting the target per level: "Cấp huyện: 4/11"."""
        return "; ".join(f"{LEVEL_NAMES[level]}: {met}/{total}" for level, met, total in self.units_met)


@dataclass
class ReportData:
    """Everything the report shows, for one half-year."""

    period: Period
    structure: str
    generated_at: datetime
    indicators: dict[str, Indicator]
    figures: list[Figure]
    trend_periods: list[str]
    trend: dict[str, list[Decimal | None]]
    based_on: Publish
    current: Publish | None = None
    awards: list[AwardCandidate] = field(default_factory=list)
    # (award code, unit level, threshold) of every award rule applying to the half-year
    award_thresholds: list[tuple[str, str, Decimal]] = field(default_factory=list)
    quality: QualityRun | None = None
    compliance: list[Compliance] = field(default_factory=list)
    # (source system, refusal reason, observations) refused for a unit that did not exist in the
    # half-year (core.fct_refused_observation)
    refused: list[tuple[str, str, int]] = field(default_factory=list)
    # The pilot registry of Plan 86 III.4 (core.dim_pilot_unit), and for the plan's last year the
    # pilots' rows of the summary award, by unit code
    pilots: list[Pilot] = field(default_factory=list)
    pilot_awards: dict[str, list[PilotAward]] = field(default_factory=dict)

    @property
    def window(self) -> tuple[date, date]:
        return self.period.window("decree09")

    @property
    def period_name(self) -> str:
        if self.is_annual:
            return f"năm {self.period.year}"
        half = "đầu" if self.period.number == 1 else "cuối"
        return f"6 tháng {half} năm {self.period.year}"

    @property
    def is_annual(self) -> bool:
        """The yearly report of Plan 86 VI.6 (a year id such as 2025), not a half-year's."""
        return self.period.kind == "year"

    @property
    def province(self) -> tuple[str, str]:
        """(code, name) of the province in the report's unit structure."""
        for f in self.figures:
            if f.unit_level == "province":
                return f.unit_code, f.unit_name
        return ("02", "Tỉnh Hà Giang") if self.structure == BEFORE_2025 else ("08", "Tỉnh Tuyên Quang")

    @property
    def levels(self) -> list[str]:
        """Reporting levels below the province that have figures, in hierarchy order."""
        present = {f.unit_level for f in self.figures}
        return [level for level in LEVELS[1:] if level in present]

    def indicator(self, code: str) -> Indicator:
        return self.indicators.get(code) or Indicator(code, code, (), ">=", None, "", "")

    def other_window(self, code: str) -> tuple[date, date] | None:
        """The window an indicator's figures cover when it is not the period's Decree 09 one
        (the portal's calendar months), as the mart states it; None when they follow Decree 09."""
        windows = [
            (f.window_start, f.window_end)
            for f in self.figures
            if f.indicator_code == code and f.window_basis not in (None, "decree09") and f.window_start
        ]
        return min(windows) if windows else None

    def source_text(self, code: str) -> str:
        """The indicator's source, with the window its figures cover when it is not Decree 09's."""
        name = self.indicator(code).source_name
        window = self.other_window(code)
        if window is None:
            return name
        return f"{name}; số liệu theo tháng dương lịch {window[0]:%d/%m/%Y} – {window[1]:%d/%m/%Y}"

    def window_notes(self) -> list[str]:
        """A note per window other than Decree 09's (the portal's): which indicators, which days."""
        by_window: dict[tuple[date, date], list[str]] = {}
        for code in sorted({f.indicator_code for f in self.figures}):
            window = self.other_window(code)
            if window is not None:
                by_window.setdefault(window, []).append(self.indicator(code).short)
        start, end = self.window
        notes = []
        for (first, last), names in sorted(by_window.items()):
            shared = max(0, (min(end, last) - max(start, first)).days + 1)
            notes.append(
                f"Số liệu {', '.join(names)} lấy từ Cổng Dịch vụ công, tổng hợp theo tháng dương lịch "
                f"{first:%d/%m/%Y} – {last:%d/%m/%Y}: Cổng chỉ cung cấp số liệu theo tháng, quý, năm, không "
                f"theo thời gian chốt số liệu {start:%d/%m/%Y} – {end:%d/%m/%Y} của Nghị định số "
                f"09/2019/NĐ-CP (trùng {shared} trên {(end - start).days + 1} ngày). Số hồ sơ được cộng "
                "qua các tháng; số dịch vụ công trực tuyến là số liệu của tháng cuối kỳ."
            )
        return notes

    def unit_names(self) -> dict[str, str]:
        return {f.unit_code: f.unit_name for f in self.figures}

    def at_level(self, level: str) -> list[Figure]:
        return [f for f in self.figures if f.unit_level == level]

    def level_indicators(self, level: str) -> list[str]:
        """Indicators with figures at ``level``: those with a target there first, catalogue order."""
        codes = {f.indicator_code for f in self.at_level(level)}
        order = list(self.indicators)

        def key(code: str) -> tuple[int, int, str]:
            has_target = level in self.indicator(code).target_levels and self.indicator(code).has_target
            return (0 if has_target else 1, order.index(code) if code in order else len(order), code)

        return sorted(codes, key=key)

    def targeted(self, level: str) -> list[str]:
        """Indicators with figures at ``level`` that carry the plan's target there in this period
        (none for units that ceased before its cut-off: the old districts' June 2025 in 2025S2)."""
        judged = {
            f.indicator_code
            for f in self.at_level(level)
            if f.target_value is not None or (f.is_qualitative and f.target_met is not None)
        }
        return [
            code
            for code in self.level_indicators(level)
            if level in self.indicator(code).target_levels and code in judged
        ]

    def below_target(self, level: str, code: str) -> list[Figure]:
        """Units of ``level`` that miss the target of ``code``, lowest value first."""
        rows = [f for f in self.at_level(level) if f.indicator_code == code and f.target_met is False]
        return sorted(rows, key=lambda f: (f.value is None, f.value or 0, f.unit_code))

    def pilot_level(self, unit_code: str, structure: str | None = None) -> str | None:
        """The pilot level of a unit of ``structure`` (the report's by default), none if no pilot."""
        key = (unit_code, structure or self.structure)
        return next((p.pilot_level for p in self.pilots if (p.unit_code, p.unit_structure) == key), None)

    def pilot_results(self, pilot: Pilot) -> list[Figure]:
        """The pilot's figures of the period for the indicators the plan targets at its level
        (none for a subordinate unit, or a pilot of the other unit structure)."""
        if pilot.unit_code is None or pilot.unit_structure != self.structure:
            return []
        targeted = self.targeted(pilot.unit_level)
        rows = [f for f in self.figures if f.unit_code == pilot.unit_code and f.indicator_code in targeted]
        return sorted(rows, key=lambda f: targeted.index(f.indicator_code))

    def summary(self) -> list[SummaryRow]:
        """One row per catalogue indicator with a target, for the province."""
        code, _ = self.province
        province = {f.indicator_code: f for f in self.figures if f.unit_code == code}
        rows = []
        for indicator in self.indicators.values():
            if not indicator.has_target:
                continue
            figure = province.get(indicator.code)
            units = []
            for level in indicator.target_levels:
                # Judged units only: a unit that ceased before the cut-off has figures, no target.
                measured = [
                    f
                    for f in self.at_level(level)
                    if f.indicator_code == indicator.code and f.measured and f.target_met is not None
                ]
                if measured:
                    units.append((level, sum(1 for f in measured if f.target_met), len(measured)))
            # The plan's targets are for each unit of a level: the level meets one when every
            # unit measured there does (a qualitative criterion: every unit that exists, which the
            # province row's own target_met says). The province's roll-up ratio is shown beside.
            if figure is not None and figure.is_qualitative:
                met = figure.target_met
            elif units:
                met = all(met_ == total for _, met_, total in units)
            else:
                met = None
            rows.append(SummaryRow(indicator, figure, met, tuple(units)))
        return rows


def structure_of(period: Period) -> str:
    """The unit structure a period is reported in (districts exist until 2025S1); a year is
    reported in the structure of its end, its second half-year."""
    last = Period(period.year, "halfyear", 2) if period.kind == "year" else period
    return FROM_2025 if last >= FIRST_FROM_2025 else BEFORE_2025


def indicator_table(period: Period) -> str:
    """The published mart of the period's grain: a year's figures, or a half-year's."""
    return "mart_annual_indicator" if period.kind == "year" else "mart_semiannual_indicator"


def award_grains(period: Period) -> tuple[str, ...]:
    """Award views a period's report shows: a year's and, for the plan's last year, the summary
    award's; a half-year's monitoring list."""
    return ("plan_period", "year") if period.kind == "year" else ("halfyear",)
