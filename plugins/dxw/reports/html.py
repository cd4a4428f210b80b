"""The semi-annual report as one self-contained HTML page (inline CSS and SVG, no script).

Every value from the warehouse goes through :func:`e` (``html.escape``) before it reaches the
page; the page skeleton is a :class:`string.Template` filled with already-escaped fragments.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from string import Template

from dxw.reports import charts, svg, vn_change, vn_number, vn_percent
from dxw.reports.model import (
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
    Figure,
    Pilot,
    ReportData,
    structure_of,
)

AWARD_NAMES = {
    "PM_CERTIFICATE": "Bằng khen của Thủ tướng Chính phủ",
    "CHAIRMAN_CERTIFICATE": "Bằng khen của Chủ tịch UBND tỉnh",
}
NAMES_SHOWN = 40  # names listed inline before "và N đơn vị khác"
CANDIDATES_SHOWN = 20  # award candidates per list on the page (the workbook has all)

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Liberation Sans', Arial, 'DejaVu Sans', sans-serif; font-size: 10.5pt; color: #111;
       line-height: 1.45; max-width: 1120px; margin: 0 auto; padding: 24px 28px; background: #fff; }
header.cover { border-bottom: 3px solid #0b3d6b; padding-bottom: 12px; margin-bottom: 18px; }
.kicker { text-transform: uppercase; letter-spacing: .04em; color: #0b3d6b; font-weight: bold; margin: 0; }
h1 { font-size: 21pt; margin: 6px 0 10px; color: #0b3d6b; }
h2 { font-size: 15pt; color: #0b3d6b; border-bottom: 1px solid #c9d3de; padding-bottom: 3px;
     margin-top: 28px; }
h3 { font-size: 12.5pt; margin: 20px 0 6px; }
h4 { font-size: 10.5pt; margin: 12px 0 4px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 8px 0; }
dl.meta dt { font-weight: bold; color: #333; }
dl.meta dd { margin: 0; }
.note { background: #f4f7fb; border-left: 4px solid #0b3d6b; padding: 6px 10px; margin: 10px 0; }
.warning { background: #fff4e5; border-left: 4px solid #b35c00; padding: 6px 10px; margin: 10px 0; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #c9d3de; border-radius: 4px; padding: 8px 12px; min-width: 170px; }
.card b { display: block; font-size: 16pt; color: #0b3d6b; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 9pt; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #b8c2cc; padding: 3px 6px; vertical-align: top; }
th { background: #e8eef5; text-align: left; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th.num { text-align: right; }
td.state { white-space: nowrap; }
td.code { white-space: nowrap; font-family: 'DejaVu Sans Mono', monospace; font-size: 8.5pt; }
tr.province td { font-weight: bold; background: #f4f7fb; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.met { color: #0b5394; font-weight: bold; }
.below { color: #a14400; font-weight: bold; }
.muted { color: #666; }
.pilot { color: #b35c00; font-weight: bold; }
p.names { margin: 2px 0 8px; }
figure { margin: 14px 0 22px; break-inside: avoid; }
figcaption { font-size: 9pt; color: #444; margin-top: 4px; }
svg.chart { max-width: 100%; height: auto; display: block; }
nav ol { columns: 2; margin: 6px 0; }
footer { margin-top: 30px; border-top: 1px solid #c9d3de; padding-top: 6px; font-size: 8.5pt; color: #555; }
@media print {
  body { padding: 0; max-width: none; font-size: 9.5pt; }
  nav { display: none; }
  section.major { break-before: page; }
  a { color: inherit; text-decoration: none; }
}
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dxw">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header class="cover">
<p class="kicker">$kicker</p>
<h1>$title</h1>
$meta
$notes
<nav aria-label="Mục lục"><strong>Mục lục</strong><ol>$toc</ol></nav>
</header>
<main>
$sections
</main>
<footer>$footer</footer>
</body>
</html>
""")


def e(value: object) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _date(day: date | None) -> str:
    return "-" if day is None else f"{day:%d/%m/%Y}"


def _time(moment: datetime | None, zone=None) -> str:
    if moment is None:
        return "-"
    if zone is not None:
        moment = moment.astimezone(zone)
    return f"{moment:%d/%m/%Y %H:%M}"


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[str], caption: str = "") -> str:
    """A table; ``headers`` are (escaped text, class); ``rows`` are ready ``<tr>`` strings."""
    head = "".join(f'<th scope="col" class="{cls}">{text}</th>' for text, cls in headers)
    caption_html = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _td(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


def _met(met: bool | None, short: bool = False) -> str:
    if met is None:
        return '<span class="muted">-</span>'
    if met:
        return (
            '<span class="met" title="Đạt mục tiêu">✓</span>' if short else '<span class="met">✓ Đạt</span>'
        )
    return (
        '<span class="below" title="Chưa đạt mục tiêu">✗</span>'
        if short
        else '<span class="below">✗ Chưa đạt</span>'
    )


def _qualitative(figure: Figure) -> str:
    """A yes/no criterion: the unit's answer, or "k/n units achieved" for a roll-up."""
    return _met(figure.target_met) if figure.is_unit_answer else e(figure.qualitative_text)


def _ratio(numerator, denominator) -> str:
    if numerator is None or denominator is None:
        return "-"
    return f"{vn_number(numerator)} / {vn_number(denominator)}"


def _names(items: Sequence[str], total_label: str) -> str:
    shown = ", ".join(items[:NAMES_SHOWN])
    rest = len(items) - NAMES_SHOWN
    more = f" và {vn_number(rest)} {e(total_label)} khác (xem sổ tính Excel)" if rest > 0 else ""
    return f'<p class="names">{shown}{more}.</p>'


def _pilot_mark(level: str | None) -> str:
    """The marker of a Plan 86 III.4 pilot unit beside its name (nothing for other units)."""
    if level is None:
        return ""
    title = f"Đơn vị chỉ đạo điểm (mục III.4): {PILOT_LEVEL_NAMES[level]}"
    return f' <span class="pilot" title="{e(title)}">{PILOT_MARK}</span>'


PILOT_LEGEND = (
    f'<p class="muted"><span class="pilot">{PILOT_MARK}</span> đơn vị chỉ đạo điểm phong trào thi đua '
    "(mục III.4 Kế hoạch 86), xem Phụ lục D.</p>"
)


def _meta(data: ReportData) -> str:
    start, end = data.window
    zone = data.generated_at.tzinfo
    based = data.based_on
    structure = (
        "Trước sắp xếp năm 2025 (tỉnh Hà Giang, cấp huyện và cấp xã cũ)"
        if data.structure == BEFORE_2025
        else "Sau sắp xếp từ 01/7/2025 (tỉnh Tuyên Quang, không còn cấp huyện)"
    )
    indicator_sum = next(
        (digest for table, _, digest in based.tables if table == "mart_semiannual_indicator"), ""
    )
    items = [
        ("Kỳ báo cáo", f"{e(data.period.id)} ({e(data.period_name)})"),
        ("Thời gian chốt số liệu", f"{_date(start)} – {_date(end)} (theo Nghị định số 09/2019/NĐ-CP)"),
        *(("Thời gian của số liệu", e(note)) for note in data.window_notes()),
        ("Cơ cấu đơn vị hành chính", e(structure)),
        ("Thời điểm lập báo cáo", f"{_time(data.generated_at)} (giờ Việt Nam, {e(zone)})"),
        (
            "Số liệu công bố",
            f"Lần công bố số {e(based.publish_id)} lúc {_time(based.published_at, zone)}, "
            f"đã qua kiểm tra chất lượng lần số {e(based.gate_run_id or '-')}; "
            f'mã kiểm tra (md5) bảng chỉ tiêu: <span class="code">{e(indicator_sum)}</span>',
        ),
    ]
    rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in items)
    return f'<dl class="meta">{rows}</dl>'


def _notes(data: ReportData) -> str:
    notes = []
    if data.structure == BEFORE_2025 and structure_of(data.period) == FROM_2025:
        start, end = data.window
        last_day = date(2025, 6, 30)
        notes.append(
            "Báo cáo này đọc kỳ theo cơ cấu đơn vị trước sắp xếp: các đơn vị cũ chỉ tồn tại đến 30/6/2025, "
            f"nên số liệu chỉ gồm phần {_date(start)} – {_date(last_day)} "
            f"({vn_number((last_day - start).days + 1)} trên {vn_number((end - start).days + 1)} "
            "ngày của kỳ; với số liệu trạng thái tại ngày chốt, các đơn vị cũ không còn số liệu). "
            "Không đánh giá mục tiêu, "
            "không xét khen thưởng cho các đơn vị đã chấm dứt trước ngày chốt số liệu. Số liệu cả kỳ theo cơ "
            "cấu mới có trong báo cáo mặc định của kỳ."
        )
    if data.structure == BEFORE_2025:
        notes.append(
            "Số liệu kỳ này được tổng hợp theo cơ cấu đơn vị hành chính trước sắp xếp "
            f"({e(data.province[1])}, các huyện, thành phố và xã, phường, thị trấn). Từ ngày 01/7/2025 "
            "cấp huyện chấm dứt hoạt động, tỉnh Hà Giang hợp nhất với tỉnh Tuyên Quang (mã 08) và các xã "
            "được sắp xếp lại; các kỳ từ 2025S2 được báo cáo theo cơ cấu mới."
        )
    else:
        notes.append(
            "Từ ngày 01/7/2025 cấp huyện chấm dứt hoạt động và tỉnh Hà Giang hợp nhất với tỉnh Tuyên Quang "
            f"(mã 08). Số liệu kỳ này được trình bày theo cơ cấu mới ({e(data.province[1])} và các xã sau "
            "sắp xếp); các kỳ trước được quy đổi sang cơ cấu mới để so sánh. Vì không còn cấp huyện, báo "
            "cáo không có bảng và biểu đồ cấp huyện; chỉ tiêu cấp huyện chỉ còn giá trị toàn tỉnh."
        )
    # What the figures measure and what the plan leaves open (README, "The plan's rules").
    year_note = (
        " Số liệu năm: các chỉ tiêu đếm số lượng (hồ sơ, cuộc kiểm tra) cộng hai kỳ 6 tháng của năm; các "
        "chỉ tiêu phản ánh hiện trạng (dịch vụ trực tuyến, phủ sóng, tiêu chí định tính) lấy số liệu "
        "tại ngày chốt cuối năm (14/12)."
        if data.is_annual
        else ""
    )
    notes.append(
        "Cách tính: mục tiêu chỉ áp dụng ở cấp mà Kế hoạch quy định (ở cấp khác số liệu chỉ để theo "
        "dõi); so sánh với mục tiêu và xếp hạng trên tỷ lệ chính xác tử số / mẫu số, giá trị hiển thị "
        "được làm tròn. Tỷ lệ dịch vụ công trực tuyến toàn trình tính trên số dịch vụ công đủ điều kiện "
        "(danh mục thủ tục đủ điều kiện cung cấp trực tuyến toàn trình); phần “trên nhiều phương tiện "
        "truy cập khác nhau, bao gồm cả thiết bị di động” chưa được đo. Kỳ báo cáo theo thời gian chốt "
        "số liệu của Nghị định số 09/2019/NĐ-CP (Kế hoạch không quy định, đây là giả định)"
        + (
            ", trừ số liệu Cổng Dịch vụ công (theo tháng dương lịch, xem phần đầu báo cáo)."
            if data.window_notes()
            else "."
        )
        + year_note
    )
    if data.current is None or data.current.publish_id != data.based_on.publish_id:
        latest = (
            f"lần công bố số {e(data.current.publish_id)} (kỳ {e(data.current.period_id)})"
            if data.current
            else "một phiên bản không khớp với nhật ký công bố"
        )
        notes.append(
            f"Lưu ý: bảng dữ liệu hiện hành thuộc {latest}; báo cáo đọc số liệu kỳ {e(data.period.id)} từ "
            "phiên bản hiện hành này."
        )
    return "".join(f'<p class="note">{note}</p>' for note in notes)


def _summary(data: ReportData) -> str:
    rows_data = data.summary()
    measured = [r for r in rows_data if r.province is not None and r.province.measured]
    met = sum(1 for r in measured if r.met)
    eligible = {(c.unit_level, c.unit_code) for c in data.awards}
    quality = data.quality
    quality_text = (
        "chưa có" if quality is None else "Đạt" if quality.success else f"{quality.failed_errors} lỗi chặn"
    )
    cards = [
        (f"{met}/{len(measured)}", "chỉ tiêu mà mọi đơn vị có số liệu ở cấp áp dụng đều đạt mục tiêu"),
        (f"{len(rows_data) - len(measured)}", "chỉ tiêu có mục tiêu nhưng chưa có số liệu"),
        (
            vn_number(len(eligible)),
            "đơn vị đủ điều kiện đề xuất khen thưởng"
            if data.is_annual
            else "đơn vị đang đạt ngưỡng khen thưởng (theo dõi)",
        ),
        (e(quality_text), "kiểm tra chất lượng dữ liệu"),
    ]
    cards_html = "".join(f'<div class="card"><b>{value}</b>{e(label)}</div>' for value, label in cards)
    rows = []
    for row in rows_data:
        figure, indicator = row.province, row.indicator
        levels = ", ".join(LEVEL_NAMES[level] for level in indicator.target_levels)
        units = "; ".join(f"{LEVEL_NAMES[level]}: {met_}/{total}" for level, met_, total in row.units_met)
        if figure is None or not figure.measured:
            cells = [
                _td(e(indicator.short)),
                _td(e(levels)),
                _td(f'<span class="muted">Chưa có số liệu ({e(indicator.missing_text)})</span>', "num"),
                _td("-", "num"),
                _td(e(indicator.target_text), "num"),
                _td('<span class="muted">Chưa đánh giá</span>'),
                _td("", "num"),
                _td(e(data.source_text(indicator.code)), "muted"),
            ]
        elif figure.is_qualitative:
            cells = [
                _td(e(indicator.short)),
                _td(e(levels)),
                _td(_qualitative(figure), "num"),
                _td("-", "num"),
                _td(e(indicator.target_text), "num"),
                _td(_met(row.met), "state"),
                _td("-", "num"),
                _td(e(units) or "-"),
            ]
        else:
            cells = [
                _td(e(indicator.short)),
                _td(e(levels)),
                _td(vn_percent(figure.value, 2), "num"),
                _td(_ratio(figure.numerator, figure.denominator), "num"),
                _td(e(indicator.target_text), "num"),
                _td(_met(row.met), "state"),
                _td(vn_change(figure.change_since_previous), "num"),
                _td(e(units) or "-"),
            ]
        coverage = figure.coverage_text if figure is not None else ""
        if figure is not None and figure.is_partial:
            coverage = f'<span class="partial">Một phần: {e(coverage)}</span>'
        else:
            coverage = e(coverage) or "-"
        cells.append(_td(coverage))
        rows.append(f'<tr data-indicator="{e(indicator.code)}">{"".join(cells)}</tr>')
    table = _table(
        [
            ("Chỉ tiêu", ""),
            ("Cấp áp dụng mục tiêu", ""),
            ("Toàn tỉnh", "num"),
            ("Tử số / mẫu số", "num"),
            ("Mục tiêu 2025", "num"),
            ("Đánh giá", ""),
            ("Thay đổi so với kỳ trước (điểm %)", "num"),
            ("Số đơn vị đạt / có số liệu", ""),
            ("Phạm vi số liệu", ""),
        ],
        rows,
        caption=f"Bảng 1. {e(data.province[1])} so với mục tiêu Kế hoạch số 86/KH-UBND, "
        f"kỳ {e(data.period.id)}; {e(STRUCTURE_CAPTION[data.structure])}",
    )
    partial = [r.province for r in rows_data if r.province is not None and r.province.is_partial]
    coverage_note = (
        '<p class="note partial-coverage">Số liệu toàn tỉnh chỉ phản ánh một phần tỉnh: '
        + "; ".join(
            sorted(
                {f"{e(f.coverage_text)} ({e(LEVEL_NAMES.get(f.coverage_level or '', ''))})" for f in partial}
            )
        )
        + ". Các đơn vị còn lại không báo cáo về kho dữ liệu này; giá trị toàn tỉnh không phải của toàn bộ "
        "tỉnh.</p>"
        if partial
        else ""
    )
    return (
        '<section id="tom-tat"><h2>1. Tóm tắt kết quả toàn tỉnh</h2>'
        f'<div class="cards">{cards_html}</div>{table}{coverage_note}'
        '<p class="muted">Giá trị toàn tỉnh = tổng tử số / tổng mẫu số của các đơn vị thuộc cấp áp dụng '
        "(không phải trung bình các tỷ lệ); so sánh với mục tiêu trên tỷ lệ chính xác, giá trị hiển thị "
        "được làm tròn. Tiêu chí định tính (kho dữ liệu; phổ cập 4G/5G và điện thoại thông minh) được "
        "đánh giá đạt hoặc chưa đạt ở từng đơn vị; toàn tỉnh đạt khi mọi đơn vị thuộc cấp áp dụng đều "
        "đạt. Mục tiêu chỉ áp dụng ở cấp Kế hoạch quy định; ở cấp khác số liệu chỉ để theo dõi.</p>"
        "</section>"
    )


def _level(data: ReportData, level: str, number: int) -> str:
    codes = data.level_indicators(level)
    figures = {(f.unit_code, f.indicator_code): f for f in data.at_level(level)}
    units = sorted({(f.unit_code, f.unit_name, f.parent_code) for f in data.at_level(level)})
    names = data.unit_names()
    headers = [("Mã", ""), ("Đơn vị", "")]
    if level == "commune":
        headers.append(("Trực thuộc", ""))
    for code in codes:
        indicator = data.indicator(code)
        has_target = level in indicator.target_levels and indicator.has_target
        suffix = (
            f"<br><small>mục tiêu {e(indicator.target_text)}</small>"
            if has_target
            else "<br><small>theo dõi, không có mục tiêu</small>"
        )
        headers.append((f"{e(indicator.short)}{suffix}", "num"))
    rows = []
    pilots = 0
    for unit_code, unit_name, parent in units:
        pilot = data.pilot_level(unit_code)
        pilots += pilot is not None
        cells = [_td(e(unit_code), "code"), _td(e(unit_name) + _pilot_mark(pilot))]
        if level == "commune":
            cells.append(_td(e(names.get(parent or "", parent or ""))))
        for code in codes:
            figure = figures.get((unit_code, code))
            if figure is None or not figure.measured:
                cells.append(_td('<span class="muted">-</span>', "num"))
            elif figure.is_qualitative:
                cells.append(_td(_qualitative(figure), "num"))
            else:
                mark = f" {_met(figure.target_met, short=True)}" if figure.target_met is not None else ""
                cells.append(_td(f"{vn_percent(figure.value, 2)}{mark}", "num"))
        rows.append(f'<tr data-unit="{e(unit_code)}">{"".join(cells)}</tr>')
    title = f"3.{number}. {LEVEL_NAMES[level]} ({vn_number(len(units))} {LEVEL_UNITS[level]})"
    parts = [f'<section id="cap-{e(level)}"><h3>{e(title)}</h3>']
    parts.append(
        _table(
            headers,
            rows,
            caption=f"Bảng 3.{number}. Kết quả từng đơn vị, kỳ {e(data.period.id)}; "
            f"{e(STRUCTURE_CAPTION[data.structure])}",
        )
    )
    if pilots:
        parts.append(PILOT_LEGEND)
    for code in data.targeted(level):
        indicator = data.indicator(code)
        below = data.below_target(level, code)
        measured = sum(1 for key, f in figures.items() if key[1] == code and f.measured)
        parts.append(
            f"<h4>Đơn vị chưa đạt mục tiêu: {e(indicator.short)} ({e(indicator.target_text)}) – "
            f"{vn_number(len(below))}/{vn_number(measured)} {e(LEVEL_UNITS[level])}</h4>"
        )
        if below:
            parts.append(
                _names(
                    [
                        e(f.unit_name) if f.is_qualitative else f"{e(f.unit_name)} ({vn_percent(f.value)})"
                        for f in below
                    ],
                    LEVEL_UNITS[level],
                )
            )
        else:
            parts.append('<p class="names">Tất cả các đơn vị có số liệu đều đạt mục tiêu.</p>')
    parts.append("</section>")
    return "".join(parts)


def _levels(data: ReportData) -> str:
    body = [_level(data, level, i) for i, level in enumerate(data.levels, start=1)]
    if data.structure != BEFORE_2025:
        body.append(
            '<p class="note">Từ 01/7/2025 không còn cấp huyện: kỳ này không có bảng kết quả cấp huyện.</p>'
        )
    return '<section id="theo-cap" class="major"><h2>3. Kết quả theo cấp</h2>' + "".join(body) + "</section>"


def _figure(chart: charts.Chart, chart_id: str, number: int, caption: str) -> str:
    return (
        f'<figure id="{e(chart_id)}">{svg.svg(chart, chart_id)}'
        f"<figcaption>Hình {number}. {e(chart.title)}. {caption}</figcaption></figure>"
    )


def _charts(data: ReportData) -> str:
    parts = ['<section id="bieu-do"><h2>2. Biểu đồ</h2>']
    number = 0
    district = charts.district_charts(data)
    parts.append("<h3>2.1. Mức độ đạt mục tiêu theo huyện</h3>")
    if district:
        for chart in district:
            number += 1
            parts.append(
                _figure(chart, f"hinh-{number}", number, "Đường nét đứt: mục tiêu Kế hoạch 86 cho cấp huyện.")
            )
    elif data.structure != BEFORE_2025:
        parts.append(
            '<p class="note">Không có biểu đồ theo huyện: từ 01/7/2025 cấp huyện không còn tồn tại '
            "(sắp xếp đơn vị hành chính năm 2025).</p>"
        )
    else:
        parts.append('<p class="muted">Không có chỉ tiêu cấp huyện có mục tiêu với số liệu kỳ này.</p>')
    number += 1
    parts.append("<h3>2.2. Xu hướng qua các kỳ đã công bố</h3>")
    periods = ", ".join(data.trend_periods)
    parts.append(
        _figure(charts.trend_chart(data), f"hinh-{number}", number, f"Các kỳ đã công bố: {e(periods)}.")
    )
    parts.append("<h3>2.3. Phân bố các xã</h3>")
    communes = charts.commune_charts(data)
    if not communes:
        parts.append('<p class="muted">Không có số liệu hồ sơ công việc cấp xã trong kỳ này.</p>')
    for chart in communes:
        number += 1
        parts.append(
            _figure(
                chart, f"hinh-{number}", number, "Mỗi cột là số xã có tỷ lệ trong khoảng 10 điểm phần trăm."
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _award_rows(data: ReportData, candidates: Sequence[AwardCandidate]) -> list[str]:
    rows = []
    for c in candidates:
        mark = _pilot_mark(data.pilot_level(c.unit_code, c.structure))
        history = f"{c.periods_eligible}/{c.periods_published}" if c.grain != "plan_period" else "-"
        loaded = _time(c.last_loaded_at)
        rows.append(
            f'<tr data-unit="{e(c.unit_code)}">'
            + "".join(
                [
                    _td(e(c.rank or ""), "num"),
                    _td(e(c.unit_name) + mark),
                    _td(e(c.unit_code), "code"),
                    _td(e(c.parent_name)),
                    _td(vn_percent(c.value, 2), "num"),
                    _td(_ratio(c.numerator, c.denominator), "num"),
                    _td(vn_change(c.margin), "num"),
                    _td(e(c.evaluated_text), "num"),
                    _td(e(history), "num"),
                    _td(e(loaded), "num"),
                ]
            )
            + "</tr>"
        )
    return rows


_STATUS = {True: "đang đạt ngưỡng", False: "đủ điều kiện"}
STRUCTURE_CAPTION = {
    BEFORE_2025: "cơ cấu đơn vị trước sắp xếp (đến 30/6/2025)",
    FROM_2025: "cơ cấu đơn vị sau sắp xếp (từ 01/7/2025, chính quyền hai cấp)",
}
STRUCTURE_TEXT = {
    BEFORE_2025: "đơn vị trước sắp xếp, đánh giá đến kỳ cuối còn tồn tại",
    FROM_2025: "đơn vị sau sắp xếp từ 01/7/2025",
}


def _award_group(data: ReportData, key: tuple[str, str, str, str], threshold, members) -> str:
    """One candidate list (grain, award, level and, for the summary award, unit structure)."""
    grain, award, level, structure = key
    name = next((c.award_name for c in members), AWARD_NAMES.get(award, award))
    scope = f", {STRUCTURE_TEXT[structure]}" if grain == "plan_period" else ""
    parts = [
        f'<section id="{e(f"award-{grain}-{award}-{level}-{structure}")}">'
        f"<h3>{e(name)} – {e(LEVEL_NAMES[level])}{e(scope)} (ngưỡng ≥ {vn_percent(threshold, 0)}): "
        f"{vn_number(len(members))} đơn vị {_STATUS[grain == 'halfyear']}</h3>"
    ]
    if not members:
        parts.append('<p class="muted">Không có đơn vị nào đạt ngưỡng trong kỳ này.</p>')
        return "".join([*parts, "</section>"])
    first = members[0]
    parts.append(
        f"<p>{e(first.note)} Cách tính: {e(first.basis_text)}. Nguồn số liệu: "
        f"{e(data.source_text(first.indicator_code))}; "
        f"căn cứ: mục {e(first.plan_ref)} Kế hoạch 86.</p>"
    )
    shown = members[:CANDIDATES_SHOWN]
    headers = [
        ("Hạng", "num"),
        ("Đơn vị", ""),
        ("Mã", ""),
        ("Trực thuộc", ""),
        ("Tỷ lệ", "num"),
        ("Hồ sơ ký số / tổng hồ sơ", "num"),
        ("Vượt ngưỡng (điểm %)", "num"),
        ("Kỳ đánh giá", "num"),
        ("Số kỳ đạt ngưỡng / kỳ đã công bố", "num"),
        ("Số liệu cập nhật lúc", "num"),
    ]
    parts.append(_table(headers, _award_rows(data, shown)))
    if any(data.pilot_level(c.unit_code, c.structure) for c in shown):
        parts.append(PILOT_LEGEND)
    if len(members) > len(shown):
        parts.append(
            f'<p class="muted">Hiển thị {len(shown)} đơn vị đứng đầu; danh sách đầy đủ '
            f"{vn_number(len(members))} đơn vị trong sổ tính Excel, trang “Khen thưởng”.</p>"
        )
    return "".join([*parts, "</section>"])


def _awards(data: ReportData) -> str:
    if data.is_annual:
        heading = "4. Khen thưởng: đơn vị đủ điều kiện đề xuất"
        intro = (
            "Theo mục IV.3 Kế hoạch số 86/KH-UBND: tỷ lệ hồ sơ công việc được xử lý và ký số trên môi "
            "trường mạng (trừ hồ sơ mật). Khen thưởng tổng kết giai đoạn 2021 - 2025 được xét năm 2025; "
            "danh sách theo năm để tham khảo cho khen thưởng hằng năm (mục III.6 và V không quy định "
            "ngưỡng riêng: áp dụng ngưỡng của mục IV.3 là giả định). Chỉ đơn vị còn tồn tại vào ngày chốt "
            "số liệu của kỳ được đánh giá mới có thể được đề xuất."
        )
    else:
        heading = "4. Theo dõi khen thưởng: đơn vị đang đạt ngưỡng"
        intro = (
            "Theo mục IV.3 Kế hoạch số 86/KH-UBND: tỷ lệ hồ sơ công việc được xử lý và ký số trên môi "
            "trường mạng (trừ hồ sơ mật) của đơn vị trong kỳ. Đây là danh sách theo dõi 6 tháng (đơn vị "
            "đang đạt ngưỡng), chưa phải danh sách đề nghị khen thưởng: khen thưởng tổng kết giai đoạn "
            "2021 - 2025 được xét trong báo cáo năm 2025."
        )
    condition = next((c.board_condition for c in data.awards if c.board_condition), "")
    parts = [
        f'<section id="khen-thuong" class="major"><h2>{e(heading)}</h2><p>{e(intro)}</p>',
        '<p class="note">Điều kiện do Hội đồng Thi đua - Khen thưởng xác nhận, hệ thống không đo được: '
        f"{e(condition or 'người dân được tuyên truyền, tích cực ứng dụng công nghệ số')}. Việc lựa chọn "
        "cuối cùng do Hội đồng quyết định.</p>",
    ]
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
    if not keys:
        parts.append('<p class="muted">Không có tiêu chí khen thưởng nào áp dụng cho kỳ này.</p>')
    grain = None
    for key in keys:
        if data.is_annual and key[0] != grain:
            grain = key[0]
            parts.append(f"<h3>{e(GRAIN_TEXT[grain])}</h3>")
        threshold = thresholds.get(key[1:3]) or next(c.threshold for c in groups[key])
        parts.append(_award_group(data, key, threshold, groups.get(key, [])))
    parts.append("</section>")
    return "".join(parts)


def _quality(data: ReportData) -> str:
    parts = ['<section id="phu-luc-a" class="major"><h2>Phụ lục A. Chất lượng dữ liệu</h2>']
    run = data.quality
    if run is None:
        parts.append(
            f'<p class="warning">Chưa có lần kiểm tra chất lượng nào cho kỳ {e(data.period.id)}.</p>'
        )
        return "".join([*parts, "</section>"])
    verdict = "Đạt (được phép công bố)" if run.success else "Không đạt (có lỗi chặn công bố)"
    items = [
        ("Lần kiểm tra", f"số {e(run.quality_run_id)}, bộ kiểm tra {e(run.suite)} trên {e(run.table_name)}"),
        ("Thời điểm", _time(run.started_at, data.generated_at.tzinfo)),
        ("Kết quả", e(verdict)),
        (
            "Số kiểm tra",
            f"{run.evaluated}: {run.passed} đạt, {run.failed_errors} lỗi, {run.failed_warnings} cảnh báo",
        ),
    ]
    parts.append('<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>")
    if data.based_on.gate_run_id and data.based_on.gate_run_id != run.quality_run_id:
        parts.append(
            f'<p class="note">Lần công bố số {e(data.based_on.publish_id)} dựa trên lần kiểm tra số '
            f"{e(data.based_on.gate_run_id)}; lần kiểm tra số {e(run.quality_run_id)} ở trên diễn ra "
            "sau đó.</p>"
        )
    if run.failures:
        rows = [
            "<tr>"
            + _td("Lỗi (chặn công bố)" if f.severity == "error" else "Cảnh báo", "below")
            + _td(e(f.check))
            + _td(e(f.expectation), "code")
            + _td(vn_number(f.unexpected_count), "num")
            + _td("<br>".join(e(r) for r in f.failing_rows[:5]))
            + "</tr>"
            for f in run.failures
        ]
        parts.append(
            _table(
                [("Mức", ""), ("Kiểm tra", ""), ("Quy tắc", ""), ("Số dòng lỗi", "num"), ("Ví dụ", "")],
                rows,
                caption="Các kiểm tra không đạt",
            )
        )
    else:
        parts.append("<p>Tất cả các kiểm tra đều đạt.</p>")
    parts.append(_refused(data))
    return "".join([*parts, "</section>"])


REFUSAL_REASONS = {
    "before_unit_start": "đơn vị chưa được thành lập trong kỳ",
    "after_unit_end": "đơn vị đã chấm dứt hoạt động trước kỳ và không có đơn vị kế thừa cùng cấp",
    "successor_reported": "đơn vị kế thừa đã có số liệu riêng từ cùng nguồn",
    "state_after_unit_end": "số liệu hiện trạng của đơn vị đã chấm dứt trước ngày chốt số liệu "
    "(hiện trạng tại ngày chốt do đơn vị kế thừa báo cáo)",
    "unknown_period": "kỳ báo cáo không xác định",
}


def _refused(data: ReportData) -> str:
    """Observations not counted because their unit did not exist in the half-year."""
    if not data.refused:
        return "<p>Không có số liệu nào bị loại vì đơn vị không tồn tại trong kỳ.</p>"
    rows = [
        "<tr>"
        + _td(e(SOURCE_NAMES.get(source, source)))
        + _td(e(REFUSAL_REASONS.get(reason, reason)))
        + _td(vn_number(count), "num")
        + "</tr>"
        for source, reason, count in data.refused
    ]
    return _table(
        [("Nguồn", ""), ("Lý do", ""), ("Số giá trị", "num")],
        rows,
        caption="Số liệu không được tính vì đơn vị không tồn tại trong kỳ (core.fct_refused_observation)",
    )


def _compliance(data: ReportData) -> str:
    parts = ['<section id="phu-luc-b" class="major"><h2>Phụ lục B. Tình hình thực hiện chế độ báo cáo</h2>']
    if data.structure != BEFORE_2025:
        parts.append(
            '<p class="note">Từ ngày 01/7/2025 chế độ báo cáo do các sở, ban, ngành, đoàn thể của tỉnh '
            "sau sắp xếp thực hiện; cấp huyện không còn nên không có nghĩa vụ báo cáo.</p>"
        )
    if data.is_annual:
        # The sources deliver half-year reports only: no annual submission to judge on its own.
        year = data.period.year
        parts.append(
            f'<p class="note">Kho dữ liệu chưa tiếp nhận báo cáo năm riêng của các đơn vị: tình hình gửi '
            f"báo cáo năm {year} được theo dõi theo từng kỳ 6 tháng (xem Phụ lục B của báo cáo {year}S1 và "
            f"{year}S2; kỳ {year}S2 có cùng ngày chốt số liệu 14/12 với báo cáo năm).</p>"
        )
        return "".join([*parts, "</section>"])
    if not data.compliance:
        parts.append(
            f'<p class="muted">Kỳ {e(data.period.id)} không có đơn vị nào phải báo cáo theo mục VI.6 (các '
            "sở, ngành, đoàn thể tỉnh và UBND các huyện, thành phố còn tồn tại vào ngày chốt số liệu).</p>"
        )
        return "".join([*parts, "</section>"])
    by_level: dict[str, list[Compliance]] = {}
    for row in data.compliance:
        by_level.setdefault(row.unit_level, []).append(row)
    rows = []
    for level, members in by_level.items():
        submitted = sum(1 for m in members if m.submitted)
        complete = [m.completeness for m in members if m.completeness is not None]
        on_time = sum(1 for m in members if m.status == "on_time")
        late = sum(1 for m in members if m.status == "late")
        deadline = max((m.deadline for m in members if m.deadline), default=None)
        rows.append(
            "<tr>"
            + _td(e(LEVEL_NAMES[level]))
            + _td(vn_number(len(members)), "num")
            + _td(vn_number(submitted), "num")
            + _td(vn_number(on_time), "num")
            + _td(vn_number(late), "num")
            + _td(vn_number(len(members) - submitted), "num")
            + _td(vn_percent(sum(complete) / len(complete)) if complete else "-", "num")
            + _td(_date(deadline), "num")
            + "</tr>"
        )
    parts.append(
        _table(
            [
                ("Cấp", ""),
                ("Số đơn vị phải báo cáo", "num"),
                ("Đã gửi báo cáo", "num"),
                ("Đúng hạn", "num"),
                ("Muộn", "num"),
                ("Chưa gửi", "num"),
                ("Mức đầy đủ bình quân", "num"),
                ("Hạn gửi", "num"),
            ],
            rows,
            caption=f"Bảng B.1. Tình hình gửi báo cáo kỳ {e(data.period.id)}",
        )
    )
    assumptions = sorted({m.deadline_assumption for m in data.compliance if m.deadline_assumption})
    parts.append(
        '<p class="muted">Đơn vị phải báo cáo (mục VI.6 Kế hoạch 86): các sở, ngành, đoàn thể tỉnh và UBND '
        "các huyện, thành phố còn tồn tại vào ngày chốt số liệu; cấp xã không có nhiệm vụ này nên không "
        "được liệt kê. Đã gửi: báo cáo của chính đơn vị (tệp biểu mẫu tải lên, bộ dữ liệu trên hệ thống "
        "báo cáo), kể cả khi đơn vị ghi “không có số liệu” cho một chỉ tiêu; số liệu mà cổng dịch "
        "vụ công hay hệ thống quản lý văn bản đo về đơn vị không phải là báo cáo của đơn vị. Đúng hạn: thời "
        "điểm đơn vị gửi (ghi nhận khi tiếp nhận tệp; ngày hoàn thành hoặc cập nhật cuối của bộ dữ liệu), "
        "theo giờ Việt Nam, không muộn hơn hạn gửi; không dùng thời điểm kho dữ liệu nạp số liệu. "
        + "".join(f"{e(text)}. " for text in assumptions)
        + "Mức đầy đủ: tỷ lệ chỉ tiêu đơn vị tự báo cáo mà báo cáo có số liệu.</p>"
    )
    for level, members in by_level.items():
        missing = [m for m in members if not m.submitted]
        late = [m for m in members if m.status == "late"]
        incomplete = [m for m in members if m.submitted and (m.completeness or 0) < 100]
        parts.append(f"<h4>{e(LEVEL_NAMES[level])}</h4>")
        for label, group in (("Chưa gửi báo cáo", missing), ("Gửi muộn", late), ("Chưa đầy đủ", incomplete)):
            if group:
                parts.append(f'<p class="names"><b>{e(label)} ({vn_number(len(group))}):</b></p>')
                parts.append(_names([e(m.unit_name) for m in group], LEVEL_UNITS[level]))
        if not (missing or late or incomplete):
            parts.append('<p class="names">Tất cả các đơn vị đã gửi đầy đủ, đúng hạn.</p>')
    return "".join([*parts, "</section>"])


def _pilot_result(data: ReportData, pilot: Pilot) -> tuple[str, str]:
    """(indicators met / measured / targeted, the figures) of a pilot for the period."""
    if pilot.unit_code is None:
        return "-", '<span class="muted">Không có mã đơn vị, không có số liệu riêng</span>'
    if pilot.unit_structure != data.structure:
        return "-", '<span class="muted">Đơn vị trước sắp xếp năm 2025: không có số liệu trong kỳ này</span>'
    results = data.pilot_results(pilot)
    targeted = [i for i in data.indicators.values() if pilot.unit_level in i.target_levels and i.has_target]
    met = sum(1 for f in results if f.target_met)
    measured = sum(1 for f in results if f.measured)
    count = f"{met} / {measured} / {len(targeted)}"
    if not measured:
        return count, '<span class="muted">Chưa có số liệu</span>'
    items = []
    for f in results:
        if not f.measured:
            continue
        shown = (
            _qualitative(f)
            if f.is_qualitative
            else f"{vn_percent(f.value, 2)} {_met(f.target_met, short=True)}"
        )
        items.append(f"{e(data.indicator(f.indicator_code).short)}: {shown}")
    return count, "<br>".join(items)


def _pilot_awards(data: ReportData, pilot: Pilot) -> str:
    """A pilot's figure for the 2021-2025 summary award, and whether it reaches each threshold."""
    awards = data.pilot_awards.get(pilot.unit_code or "", [])
    if not awards:
        return '<span class="muted">-</span>'
    return "<br>".join(
        f"{e(a.award_name)}: {vn_percent(a.value, 2)} "
        f"(ngưỡng {'>' if a.comparator == '>' else '≥'} {vn_percent(a.threshold, 0)}, "
        f"{e(a.evaluated[1])}) {_met(a.eligible, short=True)}"
        for a in awards
    )


def _pilots(data: ReportData) -> str:
    parts = [
        '<section id="phu-luc-d" class="major"><h2>Phụ lục D. Đơn vị chỉ đạo điểm (mục III.4)</h2>',
        "<p>Theo mục III.4 Kế hoạch số 86/KH-UBND: Hội đồng Thi đua, khen thưởng tỉnh chọn 01 huyện, "
        "thành phố và 01 ngành, đơn vị để chỉ đạo điểm cấp tỉnh; mỗi sở, ngành, đoàn thể chọn ít nhất 01 "
        "đơn vị thuộc và trực thuộc; mỗi huyện, thành phố chọn từ 01 - 03 xã. Danh sách đăng ký về Hội "
        "đồng qua Ban Thi đua - Khen thưởng và Sở Thông tin và Truyền thông trong quý I năm 2022; kết "
        "quả của các đơn vị chỉ đạo điểm được đánh giá khi tổng kết năm 2025.</p>",
    ]
    if not data.pilots:
        parts.append(
            '<p class="warning">Kho dữ liệu chưa có danh sách đăng ký chỉ đạo điểm (core.dim_pilot_unit).</p>'
        )
        return "".join([*parts, "</section>"])
    notes = sorted({p.source_note for p in data.pilots if p.is_demo})
    if notes:
        parts.append('<p class="warning">Nguồn danh sách: ' + " ".join(e(note) for note in notes) + "</p>")
    if any(p.unit_structure and p.unit_structure != data.structure for p in data.pilots):
        parts.append(
            '<p class="note">Các đơn vị chỉ đạo điểm là đơn vị trước sắp xếp năm 2025 (cấp huyện chấm dứt '
            "hoạt động từ 01/7/2025, các xã được sắp xếp lại); số liệu của các đơn vị này đến kỳ 2025S1 "
            "có trong báo cáo các kỳ trước. Xã sau sắp xếp không được coi là đơn vị chỉ đạo điểm thay cho "
            "xã cũ.</p>"
        )
    with_awards = bool(data.pilot_awards)
    headers = [
        ("Đơn vị đăng ký", ""),
        ("Đơn vị chỉ đạo điểm", ""),
        ("Mã", ""),
        ("Ngày đăng ký", "num"),
        ("Chỉ tiêu đạt / có số liệu / có mục tiêu", "num"),
        (f"Kết quả kỳ {e(data.period.id)}", ""),
    ]
    if with_awards:
        headers.append(("Khen thưởng tổng kết 2021 - 2025 (mục IV.3)", ""))
    by_level: dict[str, list[Pilot]] = {}
    for pilot in data.pilots:
        by_level.setdefault(pilot.pilot_level, []).append(pilot)
    for number, (level, members) in enumerate(by_level.items(), start=1):
        rows = []
        for pilot in members:
            count, figures = _pilot_result(data, pilot)
            cells = [
                _td(e(pilot.registered_by_name or pilot.registered_by_code)),
                _td(e(pilot.pilot_name)),
                _td(e(pilot.unit_code or "-"), "code"),
                _td(_date(pilot.registered_on), "num"),
                _td(e(count), "num"),
                _td(figures),
            ]
            if with_awards:
                cells.append(_td(_pilot_awards(data, pilot)))
            rows.append(f'<tr data-unit="{e(pilot.key)}">{"".join(cells)}</tr>')
        parts.append(f"<h3>D.{number}. {e(PILOT_LEVEL_NAMES[level])}: {vn_number(len(members))} đơn vị</h3>")
        parts.append(_table(headers, rows))
    parts.append(
        '<p class="muted">Kết quả: các chỉ tiêu Kế hoạch đặt mục tiêu cho cấp của đơn vị (mục IV.1), '
        "từ số liệu đã công bố của kỳ; ✓ đạt, ✗ chưa đạt mục tiêu. Đơn vị thuộc và trực thuộc sở, ngành "
        "không phải đơn vị báo cáo của kho dữ liệu: sở, ngành đánh giá kết quả của đơn vị mình.</p>"
    )
    return "".join([*parts, "</section>"])


def _provenance(data: ReportData) -> str:
    based = data.based_on
    rows = [
        f"<tr>{_td(e(table), 'code')}{_td(vn_number(count), 'num')}{_td(e(digest), 'code')}</tr>"
        for table, count, digest in based.tables
    ]
    return (
        '<section id="phu-luc-c"><h2>Phụ lục C. Nguồn gốc số liệu</h2>'
        f"<p>Số liệu đọc từ lược đồ <code>marts</code> (dữ liệu đã kiểm tra và công bố). Lần công bố số "
        f"{e(based.publish_id)} cho kỳ {e(based.period_id)}, "
        f"lúc {_time(based.published_at, data.generated_at.tzinfo)}, "
        f"mã chạy <code>{e(based.run_id or '-')}</code>.</p>"
        "<p>Mỗi kỳ chỉ được công bố sau khi số liệu của chính kỳ đó qua kiểm tra chất lượng; công bố một "
        "kỳ không thay đổi số liệu đã công bố của các kỳ khác. Mức thay đổi so với kỳ trước và xu hướng "
        "chỉ dùng số liệu đã công bố; mức thay đổi để trống khi kỳ trước chưa được công bố.</p>"
        + _table([("Bảng", ""), ("Số dòng của kỳ", "num"), ("Mã kiểm tra md5 các dòng của kỳ", "")], rows)
        + "</section>"
    )


def render(data: ReportData) -> str:
    """The whole report page."""
    _, province = data.province
    title = f"Báo cáo kết quả chuyển đổi số {data.period_name}"
    toc_items = [
        ("tom-tat", "Tóm tắt kết quả toàn tỉnh"),
        ("bieu-do", "Biểu đồ"),
        ("theo-cap", "Kết quả theo cấp"),
        ("khen-thuong", "Đề xuất khen thưởng"),
        ("phu-luc-a", "Phụ lục A. Chất lượng dữ liệu"),
        ("phu-luc-b", "Phụ lục B. Chế độ báo cáo"),
        ("phu-luc-c", "Phụ lục C. Nguồn gốc số liệu"),
        ("phu-luc-d", "Phụ lục D. Đơn vị chỉ đạo điểm"),
    ]
    toc = "".join(f'<li><a href="#{anchor}">{e(label)}</a></li>' for anchor, label in toc_items)
    sections = [
        _summary(data),
        _charts(data),
        _levels(data),
        _awards(data),
        _quality(data),
        _compliance(data),
        _provenance(data),
        _pilots(data),
    ]
    return PAGE.substitute(
        title=e(f"{title} – {province}"),
        css=CSS,
        kicker=e(f"{province} · Phong trào thi đua chuyển đổi số · Kế hoạch số 86/KH-UBND ngày 18/3/2022"),
        meta=_meta(data),
        notes=_notes(data),
        toc=toc,
        sections="\n".join(sections),
        footer=e(
            f"Lập tự động bởi dxw lúc {_time(data.generated_at)} từ số liệu đã công bố "
            f"(lần công bố số {data.based_on.publish_id}). Số liệu theo định dạng Việt Nam: 1.234 và 85,5 %."
        ),
    )
