"""The report's charts as descriptions: what each chart shows, not how it is drawn.

Each chart is a small dataclass (:class:`Bars`, :class:`Lines`, :class:`Histogram`) that the HTML
page draws as inline SVG (:mod:`dxw.serving.reports.svg`) and the workbook as a native Excel chart, so
both show the same figures. :func:`report_charts` builds every chart of a :class:`ReportData`.
A bar's attainment is the mart's ``target_met``, carried with its value, never decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from dxw.serving.reports import vn_percent
from dxw.serving.reports.model import ReportData


@dataclass(frozen=True)
class Bars:
    """Horizontal bars, one per category (unit): (label, value, whether it meets the target as
    the mart says, None without a target), with an optional target line."""

    title: str
    description: str
    categories: Sequence[tuple[str, float | None, bool | None]]
    x_label: str = "Tỷ lệ (%)"
    y_label: str = ""
    target: float | None = None
    comparator: str = ">="
    target_label: str = "Mục tiêu"


@dataclass(frozen=True)
class Lines:
    """One line per series over ordered x values (half-years)."""

    title: str
    description: str
    x_values: Sequence[str]
    series: Sequence[tuple[str, Sequence[float | None]]]
    x_label: str = "Kỳ báo cáo"
    y_label: str = "Tỷ lệ (%)"


@dataclass(frozen=True)
class Histogram:
    """Counts of values (percentages, 0-100) in bins of ``bin_width`` points, with marker lines."""

    title: str
    description: str
    values: Sequence[float]
    markers: Sequence[tuple[float, str]] = field(default_factory=tuple)
    bin_width: int = 10
    x_label: str = "Tỷ lệ (%)"
    y_label: str = "Số đơn vị"

    @property
    def bins(self) -> list[tuple[str, int]]:
        """(label, count) per bin; 100 falls into the last bin, [90, 100]."""
        edges = list(range(0, 100, self.bin_width))
        counts = [0] * len(edges)
        for value in self.values:
            index = min(max(int(value // self.bin_width), 0), len(edges) - 1)
            counts[index] += 1
        return [(f"{lo}–{min(lo + self.bin_width, 100)}", n) for lo, n in zip(edges, counts, strict=True)]


Chart = Bars | Lines | Histogram


def report_charts(data: ReportData) -> list[tuple[str, Chart]]:
    """(section key, chart) for every chart of the report, in order."""
    return [("district", c) for c in district_charts(data)] + [
        ("trend", trend_chart(data)),
        *(("commune", c) for c in commune_charts(data)),
    ]


def district_charts(data: ReportData) -> list[Bars]:
    """Attainment by district for the indicators with a district target (none after 2025)."""
    charts = []
    for code in data.targeted("district"):
        indicator = data.indicator(code)
        if indicator.is_qualitative:
            continue
        rows = sorted(
            (f for f in data.at_level("district") if f.indicator_code == code),
            key=lambda f: (f.value is None, -(f.value or 0), f.unit_code),
        )
        target = next(f.target_value for f in rows if f.target_value is not None)
        comparator = next((f.comparator for f in rows if f.comparator), indicator.comparator)
        charts.append(
            Bars(
                title=f"{indicator.short} theo huyện, {data.period_name}",
                description=(
                    f"Biểu đồ cột ngang, kỳ {data.period.id}: {indicator.name} của từng huyện, "
                    f"thành phố, so với mục tiêu {indicator.target_text} (đường nét đứt)."
                ),
                categories=[(f.unit_name, _float(f.value), f.target_met) for f in rows],
                x_label="Tỷ lệ (%)",
                y_label="Huyện, thành phố",
                target=_float(target),
                comparator=comparator,
            )
        )
    return charts


def trend_chart(data: ReportData) -> Lines:
    """The province's value of every ratio indicator across the published periods."""
    codes = [c for c in data.indicators if c in data.trend and not data.indicator(c).is_qualitative] + [
        c for c in data.trend if c not in data.indicators
    ]
    _, province = data.province
    return Lines(
        title=f"Xu hướng các chỉ tiêu toàn tỉnh qua các kỳ đã công bố ({province})",
        description=(
            f"Biểu đồ đường: giá trị toàn tỉnh của từng chỉ tiêu ở các kỳ đã công bố, "
            f"từ {data.trend_periods[0] if data.trend_periods else data.period.id} đến {data.period.id}."
        ),
        x_values=list(data.trend_periods),
        series=[(data.indicator(c).short, [_float(v) for v in data.trend[c]]) for c in codes],
        x_label="Năm" if data.is_annual else "Kỳ báo cáo (6 tháng)",
        y_label="Tỷ lệ toàn tỉnh (%)",
    )


def commune_charts(data: ReportData) -> list[Histogram]:
    """Distribution of communes for each commune work-dossier indicator, with its thresholds."""
    charts = []
    communes = data.at_level("commune")
    for code in data.level_indicators("commune"):
        if not code.startswith("COMM_WORK_DOSSIERS"):
            continue
        indicator = data.indicator(code)
        values = [float(f.value) for f in communes if f.indicator_code == code and f.value is not None]
        markers: list[tuple[float, str]] = []
        if indicator.target is not None and "commune" in indicator.target_levels:
            markers.append((float(indicator.target), f"Mục tiêu {indicator.target_text}"))
        else:
            for award, level, threshold in data.award_thresholds:
                if level == "commune":
                    label = (
                        "Bằng khen Thủ tướng" if award == "PM_CERTIFICATE" else "Bằng khen Chủ tịch UBND tỉnh"
                    )
                    markers.append((float(threshold), f"{label} ≥ {vn_percent(threshold, 0)}"))
        charts.append(
            Histogram(
                title=f"Phân bố các xã theo tỷ lệ {indicator.short.lower()}, {data.period.id}",
                description=(
                    f"Biểu đồ tần suất: số xã theo từng khoảng 10 điểm phần trăm của chỉ tiêu "
                    f"{indicator.name.lower()}, kỳ {data.period.id}; đường nét đứt là mốc so sánh."
                ),
                values=values,
                markers=markers,
                x_label="Tỷ lệ (%), khoảng 10 điểm",
                y_label="Số xã",
            )
        )
    return charts


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
