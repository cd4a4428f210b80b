"""The report's charts drawn as self-contained inline SVG (no plotting library, no script).

Draws the chart descriptions of :mod:`dxw.serving.reports.charts`. Every SVG carries ``role="img"``, a
``<title>`` and a ``<desc>`` for screen readers; all text goes through :func:`html.escape`. The
result is :class:`markupsafe.Markup`: the page template inserts it as it is.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from markupsafe import Markup

from dxw.serving.reports import vn_number, vn_percent
from dxw.serving.reports.charts import Bars, Chart, Histogram, Lines

FONT = "'Liberation Sans', Arial, 'DejaVu Sans', sans-serif"
MET, BELOW, NO_TARGET = "#0072B2", "#E69F00", "#8c8c8c"
# Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in grey print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6")
WIDTH = 760
HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'  # keeps labels legible over lines
NO_DATA = "Không có số liệu"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _f(number: float) -> str:
    """A coordinate: short, locale-free."""
    return f"{number:.1f}".rstrip("0").rstrip(".")


def _text_width(text: str, size: float = 12) -> float:
    """Rough rendered width of ``text``: enough to lay out labels without a font engine."""
    return len(text) * size * 0.55


def _open(chart: Chart, height: float, chart_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" '
        f'height="{_f(height)}" viewBox="0 0 {WIDTH} {_f(height)}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="{_e(FONT)}" font-size="12">',
        f'<title id="{chart_id}-title">{_e(chart.title)}</title>',
        f'<desc id="{chart_id}-desc">{_e(chart.description)}</desc>',
        f'<text x="{WIDTH / 2:.0f}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
        f"{_e(chart.title)}</text>",
    ]


def _no_data(chart: Chart, chart_id: str) -> str:
    parts = _open(chart, 90, chart_id)
    parts.append(f'<text x="{WIDTH / 2:.0f}" y="60" text-anchor="middle" fill="#555">{NO_DATA}</text>')
    return "\n".join([*parts, "</svg>"])


def _nice_step(maximum: float, ticks: int = 5) -> float:
    """A 1-2-5 step giving at most ``ticks`` intervals up to ``maximum``."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _legend(items: Sequence[tuple[str, str, str]], x: float, y: float, columns: int = 1) -> list[str]:
    """(label, colour, kind) with kind 'box' or a dash pattern for a line; laid out in columns."""
    parts = []
    column_width = (WIDTH - 2 * x) / columns
    for i, (label, colour, kind) in enumerate(items):
        cx = x + (i % columns) * column_width
        cy = y + (i // columns) * 18
        if kind == "box":
            parts.append(f'<rect x="{_f(cx)}" y="{_f(cy - 9)}" width="12" height="12" fill="{colour}"/>')
        else:
            dash = f' stroke-dasharray="{kind}"' if kind.strip() else ""
            parts.append(
                f'<line x1="{_f(cx)}" y1="{_f(cy - 3)}" x2="{_f(cx + 22)}" y2="{_f(cy - 3)}" '
                f'stroke="{colour}" stroke-width="2.5"{dash}/>'
            )
        parts.append(f'<text x="{_f(cx + 28)}" y="{_f(cy + 1)}">{_e(label)}</text>')
    return parts


def bars_svg(chart: Bars, chart_id: str = "bars") -> str:
    """Horizontal bar chart: one bar per unit, coloured by target attainment, with the target line."""
    if not chart.categories:
        return _no_data(chart, chart_id)
    row = 24
    top, bottom = 58, 62
    labels = [label for label, _, _ in chart.categories]
    left = min(280.0, max(90.0, max(_text_width(label) for label in labels) + 34))
    right = 70.0
    plot_w = WIDTH - left - right
    height = top + row * len(labels) + bottom
    values = [v for _, v, _ in chart.categories if v is not None]
    domain = max(100.0, max(values, default=0.0), chart.target or 0.0)

    def x(value: float) -> float:
        return left + plot_w * value / domain

    parts = _open(chart, height, chart_id)
    plot_bottom = top + row * len(labels)
    step = _nice_step(domain)
    tick = 0.0
    while tick <= domain + 1e-9:
        parts.append(
            f'<line x1="{_f(x(tick))}" y1="{top - 6}" x2="{_f(x(tick))}" y2="{_f(plot_bottom)}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_f(x(tick))}" y="{_f(plot_bottom + 16)}" text-anchor="middle">'
            f"{vn_percent(tick, 0)}</text>"
        )
        tick += step
    for i, (label, value, met) in enumerate(chart.categories):
        y = top + i * row
        parts.append(
            f'<text x="{_f(left - 8)}" y="{_f(y + row / 2 + 4)}" text-anchor="end">{_e(label)}</text>'
        )
        if value is None:
            parts.append(f'<text x="{_f(left + 6)}" y="{_f(y + row / 2 + 4)}" fill="#555">{NO_DATA}</text>')
            continue
        colour = NO_TARGET if met is None else MET if met else BELOW
        state = "" if met is None else " (đạt mục tiêu)" if met else " (chưa đạt mục tiêu)"
        parts.append(
            f'<rect class="bar" x="{_f(left)}" y="{_f(y + 4)}" width="{_f(max(x(value) - left, 0.5))}" '
            f'height="{row - 8}" fill="{colour}">'
            f"<title>{_e(label)}: {vn_percent(value)}{state}</title></rect>"
        )
        parts.append(
            f'<text x="{_f(x(value) + 4)}" y="{_f(y + row / 2 + 4)}" {HALO}>{vn_percent(value)}</text>'
        )
    parts.append(
        f'<line x1="{_f(left)}" y1="{top - 6}" x2="{_f(left)}" y2="{_f(plot_bottom)}" stroke="#333"/>'
    )
    if chart.target is not None:
        tx = x(chart.target)
        parts.append(
            f'<line class="target" x1="{_f(tx)}" y1="{top - 10}" x2="{_f(tx)}" y2="{_f(plot_bottom)}" '
            'stroke="#B00020" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        anchor = "end" if tx > WIDTH - 120 else "middle"
        parts.append(
            f'<text x="{_f(tx)}" y="{top - 14}" text-anchor="{anchor}" fill="#B00020" '
            f'font-weight="bold" {HALO}>'
            f"{_e(chart.target_label)} {_e(chart.comparator.replace('>=', '≥'))} "
            f"{vn_percent(chart.target, 0)}</text>"
        )
    parts.append(
        f'<text x="{_f(left + plot_w / 2)}" y="{_f(plot_bottom + 34)}" text-anchor="middle">'
        f"{_e(chart.x_label)}</text>"
    )
    if chart.y_label:
        parts.append(
            f'<text transform="translate(14 {_f(top + row * len(labels) / 2)}) rotate(-90)" '
            f'text-anchor="middle">{_e(chart.y_label)}</text>'
        )
    legend = [("Đạt mục tiêu", MET, "box"), ("Chưa đạt mục tiêu", BELOW, "box")]
    if chart.target is None:
        legend = [("Không có mục tiêu", NO_TARGET, "box")]
    parts += _legend(legend, left, plot_bottom + 54, columns=3)
    return "\n".join([*parts, "</svg>"])


def lines_svg(chart: Lines, chart_id: str = "lines") -> str:
    """Line chart of each series across the x values; a single point is drawn as a marker."""
    if not chart.x_values or not any(v is not None for _, values in chart.series for v in values):
        return _no_data(chart, chart_id)
    left, right, top = 64.0, 30.0, 44.0
    plot_h = 240.0
    plot_w = WIDTH - left - right
    legend_rows = math.ceil(len(chart.series) / 2)
    height = top + plot_h + 56 + legend_rows * 18 + 8
    plot_bottom = top + plot_h
    n = len(chart.x_values)

    def x(i: int) -> float:
        return left + plot_w / 2 if n == 1 else left + 30 + (plot_w - 60) * i / (n - 1)

    def y(value: float) -> float:
        return plot_bottom - plot_h * value / 100

    parts = _open(chart, height, chart_id)
    for tick in range(0, 101, 20):
        parts.append(
            f'<line x1="{_f(left)}" y1="{_f(y(tick))}" x2="{_f(left + plot_w)}" y2="{_f(y(tick))}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{_f(left - 6)}" y="{_f(y(tick) + 4)}" text-anchor="end">{vn_percent(tick, 0)}</text>'
        )
    for i, label in enumerate(chart.x_values):
        parts.append(
            f'<text x="{_f(x(i))}" y="{_f(plot_bottom + 18)}" text-anchor="middle">{_e(label)}</text>'
        )
    parts.append(
        f'<line x1="{_f(left)}" y1="{_f(plot_bottom)}" x2="{_f(left + plot_w)}" y2="{_f(plot_bottom)}" '
        'stroke="#333"/>'
    )
    for s, (name, values) in enumerate(chart.series):
        colour, dash = PALETTE[s % len(PALETTE)], DASHES[s % len(DASHES)]
        # A missing value breaks the line rather than drawing through it.
        path, pen_down = [], False
        for i, value in enumerate(values):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{_f(x(i))} {_f(y(value))}")
            pen_down = True
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path class="series" d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5"'
            f"{dash_attr}><title>{_e(name)}</title></path>"
        )
        for i, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle cx="{_f(x(i))}" cy="{_f(y(value))}" r="4" fill="{colour}">'
                    f"<title>{_e(name)}, {_e(chart.x_values[i])}: {vn_percent(value)}</title></circle>"
                )
    parts.append(
        f'<text x="{_f(left + plot_w / 2)}" y="{_f(plot_bottom + 38)}" text-anchor="middle">'
        f"{_e(chart.x_label)}</text>"
    )
    parts.append(
        f'<text transform="translate(14 {_f(top + plot_h / 2)}) rotate(-90)" text-anchor="middle">'
        f"{_e(chart.y_label)}</text>"
    )
    legend = [
        (name, PALETTE[s % len(PALETTE)], DASHES[s % len(DASHES)] or " ")
        for s, (name, _) in enumerate(chart.series)
    ]
    parts += _legend(legend, left, plot_bottom + 62, columns=2)
    return "\n".join([*parts, "</svg>"])


def histogram_svg(chart: Histogram, chart_id: str = "histogram") -> str:
    """Vertical bars of unit counts per bin, with marker lines (targets, thresholds)."""
    if not chart.values:
        return _no_data(chart, chart_id)
    bins = chart.bins
    left, right, top = 64.0, 30.0, 50.0
    plot_h = 220.0
    plot_w = WIDTH - left - right
    plot_bottom = top + plot_h
    height = plot_bottom + 48
    step = _nice_step(max(n for _, n in bins))
    domain = step * math.ceil(max(n for _, n in bins) / step)
    width = plot_w / len(bins)

    def y(count: float) -> float:
        return plot_bottom - plot_h * count / domain

    def x(percent: float) -> float:
        return left + plot_w * percent / 100

    parts = _open(chart, height, chart_id)
    tick = 0.0
    while tick <= domain + 1e-9:
        parts.append(
            f'<line x1="{_f(left)}" y1="{_f(y(tick))}" x2="{_f(left + plot_w)}" y2="{_f(y(tick))}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{_f(left - 6)}" y="{_f(y(tick) + 4)}" text-anchor="end">{vn_number(tick)}</text>'
        )
        tick += step
    for i, (label, count) in enumerate(bins):
        bx = left + i * width
        if count:
            parts.append(
                f'<rect class="bar" x="{_f(bx + 1)}" y="{_f(y(count))}" width="{_f(width - 2)}" '
                f'height="{_f(plot_bottom - y(count))}" fill="{MET}">'
                f"<title>{_e(label)} %: {vn_number(count)} đơn vị</title></rect>"
            )
            parts.append(
                f'<text x="{_f(bx + width / 2)}" y="{_f(y(count) - 4)}" text-anchor="middle" {HALO}>'
                f"{vn_number(count)}</text>"
            )
        parts.append(
            f'<text x="{_f(bx + width / 2)}" y="{_f(plot_bottom + 16)}" text-anchor="middle">'
            f"{_e(label)}</text>"
        )
    parts.append(
        f'<line x1="{_f(left)}" y1="{_f(plot_bottom)}" x2="{_f(left + plot_w)}" y2="{_f(plot_bottom)}" '
        'stroke="#333"/>'
    )
    for m, (value, label) in enumerate(sorted(chart.markers, reverse=True)):
        mx = x(value)
        parts.append(
            f'<line class="marker" x1="{_f(mx)}" y1="{_f(top - 4 + 14 * m)}" x2="{_f(mx)}" '
            f'y2="{_f(plot_bottom)}" stroke="#B00020" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{_f(mx - 4)}" y="{_f(top - 8 + 14 * m)}" text-anchor="end" fill="#B00020" '
            f'font-weight="bold" {HALO}>{_e(label)}</text>'
        )
    parts.append(
        f'<text x="{_f(left + plot_w / 2)}" y="{_f(plot_bottom + 36)}" text-anchor="middle">'
        f"{_e(chart.x_label)}</text>"
    )
    parts.append(
        f'<text transform="translate(14 {_f(top + plot_h / 2)}) rotate(-90)" text-anchor="middle">'
        f"{_e(chart.y_label)}</text>"
    )
    return "\n".join([*parts, "</svg>"])


def svg(chart: Chart, chart_id: str) -> Markup:
    """The inline SVG of any chart description; ``chart_id`` must be unique within the page."""
    if isinstance(chart, Bars):
        return Markup(bars_svg(chart, chart_id))
    if isinstance(chart, Lines):
        return Markup(lines_svg(chart, chart_id))
    return Markup(histogram_svg(chart, chart_id))
