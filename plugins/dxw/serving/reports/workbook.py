"""The semi-annual report as an Excel workbook: the same content as the HTML page, as real numbers.

Percentages are stored as fractions with a percent format and counts as integers, so Excel shows
them with the reader's own separators (``85,07%`` and ``1.234`` in a Vietnamese locale) and they
can be summed and filtered. Charts are native Excel charts over the sheet "Biểu đồ".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.line import LineProperties
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dxw.serving.reports.charts import Bars, Histogram, Lines, report_charts
from dxw.serving.reports.model import BEFORE_2025, LEVEL_NAMES, PILOT_LEVEL_NAMES, ReportData

PERCENT = "0.00%"
COUNT = "#,##0"
WHEN = "dd/mm/yyyy hh:mm"
DAY = "dd/mm/yyyy"
HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
HEADER_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14, color="0B3D6B")
MET_TEXT = {True: "Đạt", False: "Chưa đạt", None: ""}


def _fraction(value: Decimal | float | None) -> float | None:
    """A percentage (85.07) as the fraction Excel formats as a percent (0.8507)."""
    return None if value is None else float(value) / 100


def _plain(value: object) -> object:
    """Excel cells take no time zone: local Vietnamese time without the offset."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _table(
    sheet: Worksheet,
    top: int,
    headers: Sequence[tuple[str, str | None, int]],
    rows: Sequence[Sequence[object]],
    freeze: bool = True,
) -> int:
    """Write a header row at ``top`` and the rows below; (header, number format, width) per column."""
    for column, (title, _, width) in enumerate(headers, start=1):
        cell = sheet.cell(row=top, column=column, value=title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = max(sheet.column_dimensions[letter].width or 0, width)
    for r, row in enumerate(rows, start=top + 1):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=column, value=_plain(value))
            number_format = headers[column - 1][1]
            if number_format:
                cell.number_format = number_format
    if freeze:
        sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    if rows:
        sheet.auto_filter.ref = f"A{top}:{get_column_letter(len(headers))}{top + len(rows)}"
    return top + len(rows) + 1


def _local(data: ReportData, moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(data.generated_at.tzinfo)


def _summary_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.active
    sheet.title = "Tóm tắt"
    start, end = data.window
    _, province = data.province
    based = data.based_on
    sheet["A1"] = f"Báo cáo kết quả chuyển đổi số {data.period_name} – {province}"
    sheet["A1"].font = TITLE_FONT
    structure = (
        "Trước sắp xếp năm 2025 (có cấp huyện)"
        if data.structure == BEFORE_2025
        else "Sau sắp xếp từ 01/7/2025 (không còn cấp huyện)"
    )
    meta = [
        ("Kế hoạch", "Kế hoạch số 86/KH-UBND ngày 18/3/2022 của UBND tỉnh Hà Giang"),
        ("Kỳ báo cáo", f"{data.period.id} ({data.period_name})"),
        ("Thời gian chốt số liệu", f"{start:%d/%m/%Y} – {end:%d/%m/%Y} (Nghị định số 09/2019/NĐ-CP)"),
        ("Cơ cấu đơn vị hành chính", structure),
        ("Thời điểm lập báo cáo", f"{data.generated_at:%d/%m/%Y %H:%M} ({data.generated_at.tzinfo})"),
        (
            "Số liệu công bố",
            f"Lần công bố số {based.publish_id} lúc {_local(data, based.published_at):%d/%m/%Y %H:%M}, "
            f"kiểm tra chất lượng lần số {based.gate_run_id or '-'}",
        ),
    ]
    for table, rows, digest in based.tables:
        meta.append((f"Mã kiểm tra md5 {table}", f"{digest} ({rows} dòng của kỳ {based.period_id})"))
    meta += [("Thời gian của số liệu", note) for note in data.window_notes()]
    for r, (label, value) in enumerate(meta, start=3):
        sheet.cell(row=r, column=1, value=label).font = HEADER_FONT
        sheet.cell(row=r, column=2, value=value)
    top = len(meta) + 4
    rows = []
    for row in data.summary():
        figure, indicator = row.province, row.indicator
        rows.append(
            [
                indicator.code,
                indicator.name,
                row.levels_text,
                figure.qualitative_text
                if figure and figure.is_qualitative
                else _fraction(figure and figure.value),
                figure.numerator if figure and not figure.is_qualitative else None,
                figure.denominator if figure and not figure.is_qualitative else None,
                indicator.comparator,
                indicator.target_text if indicator.is_qualitative else _fraction(indicator.target),
                MET_TEXT[row.met]
                if figure and figure.measured
                else f"Chưa có số liệu ({indicator.missing_text})",
                figure.change_since_previous if figure else None,
                row.units_text,
                ("Một phần: " if figure and figure.is_partial else "")
                + (figure.coverage_text if figure else ""),
                data.source_text(indicator.code),
            ]
        )
    _table(
        sheet,
        top,
        [
            ("Mã chỉ tiêu", None, 42),
            ("Chỉ tiêu", None, 60),
            ("Cấp áp dụng mục tiêu", None, 22),
            ("Toàn tỉnh", PERCENT, 11),
            ("Tử số", COUNT, 11),
            ("Mẫu số", COUNT, 11),
            ("So sánh", None, 8),
            ("Mục tiêu 2025", PERCENT, 11),
            ("Đánh giá", None, 14),
            ("Thay đổi so với kỳ trước (điểm %)", "0.00", 14),
            ("Số đơn vị đạt / có số liệu", None, 34),
            ("Phạm vi số liệu", None, 34),
            ("Nguồn số liệu", None, 40),
        ],
        rows,
        freeze=False,
    )


def _levels_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.create_sheet("Theo cấp")
    names = data.unit_names()
    rows = [
        [
            LEVEL_NAMES[f.unit_level],
            f.unit_code,
            f.unit_name,
            names.get(f.parent_code or "", f.parent_code),
            f.indicator_code,
            data.indicator(f.indicator_code).short,
            f.numerator,
            f.denominator,
            f.qualitative_text if f.is_qualitative else _fraction(f.value),
            _fraction(f.target_value),
            MET_TEXT[f.target_met],
            f.gap_to_target,
            f.change_since_previous,
            f.rank_in_level,
            PILOT_LEVEL_NAMES.get(data.pilot_level(f.unit_code) or ""),
        ]
        for f in data.figures
    ]
    _table(
        sheet,
        1,
        [
            ("Cấp", None, 14),
            ("Mã đơn vị", None, 12),
            ("Đơn vị", None, 30),
            ("Trực thuộc", None, 24),
            ("Mã chỉ tiêu", None, 28),
            ("Chỉ tiêu", None, 40),
            ("Tử số", COUNT, 11),
            ("Mẫu số", COUNT, 11),
            ("Giá trị", PERCENT, 10),
            ("Mục tiêu", PERCENT, 10),
            ("Đạt mục tiêu", None, 12),
            ("Chênh lệch với mục tiêu (điểm %)", "0.00", 14),
            ("Thay đổi so với kỳ trước (điểm %)", "0.00", 14),
            ("Xếp hạng trong cấp", "0", 10),
            ("Chỉ đạo điểm (mục III.4)", None, 24),
        ],
        rows,
    )


def _awards_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.create_sheet("Khen thưởng")
    rows = [
        [
            c.award_name,
            c.grain_text,
            LEVEL_NAMES[c.unit_level],
            c.rank,
            c.unit_code,
            c.unit_name,
            c.parent_name,
            c.indicator_code,
            _fraction(c.value),
            c.numerator,
            c.denominator,
            _fraction(c.threshold),
            c.margin,
            f"{c.periods_eligible}/{c.periods_published}" if c.grain != "plan_period" else None,
            c.evaluated_text,
            c.basis_text,
            data.source_text(c.indicator_code),
            _local(data, c.last_loaded_at),
            f"Mục {c.plan_ref} Kế hoạch 86. {c.note} Hội đồng xác nhận: {c.board_condition}.",
        ]
        for c in data.awards
    ]
    _table(
        sheet,
        1,
        [
            ("Hình thức khen thưởng", None, 32),
            ("Loại danh sách", None, 30),
            ("Cấp", None, 12),
            ("Hạng", "0", 7),
            ("Mã đơn vị", None, 11),
            ("Đơn vị", None, 28),
            ("Trực thuộc", None, 24),
            ("Chỉ tiêu", None, 28),
            ("Tỷ lệ", PERCENT, 10),
            ("Hồ sơ xử lý và ký số", COUNT, 12),
            ("Tổng hồ sơ (trừ mật)", COUNT, 12),
            ("Ngưỡng", PERCENT, 9),
            ("Vượt ngưỡng (điểm %)", "0.00", 11),
            ("Số kỳ đạt ngưỡng / kỳ đã công bố", None, 14),
            ("Kỳ đánh giá", None, 14),
            ("Cách tính", None, 40),
            ("Nguồn số liệu", None, 40),
            ("Số liệu cập nhật lúc", WHEN, 17),
            ("Ghi chú", None, 60),
        ],
        rows,
    )


def _quality_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.create_sheet("Chất lượng dữ liệu")
    run = data.quality
    if run is None:
        sheet["A1"] = f"Chưa có lần kiểm tra chất lượng nào cho kỳ {data.period.id}."
        return
    meta = [
        ("Lần kiểm tra", run.quality_run_id),
        ("Bộ kiểm tra", run.suite),
        ("Bảng", run.table_name),
        ("Thời điểm", _local(data, run.started_at)),
        ("Kết quả", "Đạt" if run.success else "Không đạt"),
        ("Số kiểm tra", run.evaluated),
        ("Đạt", run.passed),
        ("Lỗi (chặn công bố)", run.failed_errors),
        ("Cảnh báo", run.failed_warnings),
        ("Lần kiểm tra cho phép công bố", data.based_on.gate_run_id),
    ]
    for r, (label, value) in enumerate(meta, start=1):
        sheet.cell(row=r, column=1, value=label).font = HEADER_FONT
        cell = sheet.cell(row=r, column=2, value=_plain(value))
        if isinstance(value, datetime):
            cell.number_format = WHEN
        cell.alignment = Alignment(horizontal="left")
    rows = [
        [
            "Lỗi" if f.severity == "error" else "Cảnh báo",
            f.check,
            f.expectation,
            f.unexpected_count,
            "; ".join(f.failing_rows[:20]),
        ]
        for f in run.failures
    ]
    _table(
        sheet,
        len(meta) + 2,
        [
            ("Mức", None, 28),
            ("Kiểm tra", None, 60),
            ("Quy tắc", None, 40),
            ("Số dòng lỗi", COUNT, 12),
            ("Ví dụ", None, 80),
        ],
        rows,
        freeze=False,
    )


STATUS_NAMES = {
    "on_time": "Đúng hạn",
    "late": "Muộn",
    "missing": "Chưa gửi",
    "time_not_recorded": "Không rõ thời điểm gửi",
}


def _compliance_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.create_sheet("Tuân thủ báo cáo")
    yes_no = {True: "Có", False: "Không", None: ""}
    rows = [
        [
            LEVEL_NAMES[c.unit_level],
            c.unit_code,
            c.unit_name,
            yes_no[c.submitted],
            c.indicators_applicable,
            c.indicators_reported,
            _fraction(c.completeness),
            c.deadline,
            _local(data, c.submitted_at),
            STATUS_NAMES[c.status],
        ]
        for c in data.compliance
    ]
    _table(
        sheet,
        1,
        [
            ("Cấp", None, 14),
            ("Mã đơn vị", None, 11),
            ("Đơn vị", None, 32),
            ("Đã gửi báo cáo", None, 10),
            ("Số chỉ tiêu áp dụng", "0", 10),
            ("Số chỉ tiêu đã có số liệu", "0", 10),
            ("Mức đầy đủ", PERCENT, 10),
            ("Hạn gửi", DAY, 11),
            ("Đơn vị gửi lúc", WHEN, 17),
            ("Tình trạng", None, 14),
        ],
        rows,
    )


def _pilots_sheet(book: Workbook, data: ReportData) -> None:
    """The pilot registry (Plan 86 III.4), one row per pilot and figure of the period."""
    sheet = book.create_sheet("Chỉ đạo điểm")
    rows = []
    for pilot in data.pilots:
        head = [
            PILOT_LEVEL_NAMES[pilot.pilot_level],
            pilot.registered_by_code,
            pilot.registered_by_name,
            pilot.unit_code,
            pilot.pilot_name,
            pilot.registered_on,
        ]
        figures = data.pilot_results(pilot)
        for f in figures:
            rows.append(
                [
                    *head,
                    f.indicator_code,
                    data.indicator(f.indicator_code).short,
                    f.qualitative_text if f.is_qualitative else _fraction(f.value),
                    _fraction(f.target_value),
                    MET_TEXT[f.target_met],
                    pilot.source_note,
                ]
            )
        if not figures:
            rows.append([*head, None, None, None, None, None, pilot.source_note])
    _table(
        sheet,
        1,
        [
            ("Cấp chỉ đạo điểm", None, 30),
            ("Mã đơn vị đăng ký", None, 12),
            ("Đơn vị đăng ký", None, 28),
            ("Mã đơn vị", None, 11),
            ("Đơn vị chỉ đạo điểm", None, 34),
            ("Ngày đăng ký", DAY, 12),
            ("Mã chỉ tiêu", None, 28),
            ("Chỉ tiêu", None, 36),
            ("Giá trị", PERCENT, 10),
            ("Mục tiêu", PERCENT, 10),
            ("Đạt mục tiêu", None, 12),
            ("Nguồn danh sách", None, 60),
        ],
        rows,
    )


def _bar_chart(sheet: Worksheet, chart: Bars, top: int) -> int:
    """District values and the target as columns of data, drawn as columns plus a target line."""
    rows = [[label, _fraction(value), _fraction(chart.target)] for label, value, _ in chart.categories]
    sheet.cell(row=top, column=1, value=chart.title).font = HEADER_FONT
    end = _table(sheet, top + 1, [("Huyện", None, 28), ("Giá trị", PERCENT, 10), ("Mục tiêu", PERCENT, 10)],
                 rows, freeze=False)  # fmt: skip
    bars = BarChart()
    bars.type = "col"
    bars.title = chart.title
    bars.y_axis.title = chart.x_label
    bars.x_axis.title = chart.y_label
    bars.y_axis.number_format = "0%"
    bars.y_axis.scaling.min, bars.y_axis.scaling.max = 0, 1
    bars.add_data(
        Reference(sheet, min_col=2, min_row=top + 1, max_row=top + 1 + len(rows)), titles_from_data=True
    )
    bars.set_categories(Reference(sheet, min_col=1, min_row=top + 2, max_row=top + 1 + len(rows)))
    if chart.target is not None:
        target = LineChart()
        target.add_data(
            Reference(sheet, min_col=3, min_row=top + 1, max_row=top + 1 + len(rows)), titles_from_data=True
        )
        target.series[0].graphicalProperties = GraphicalProperties(
            ln=LineProperties(solidFill="B00020", prstDash="dash", w=25400)
        )
        bars += target
    bars.width, bars.height = 24, 10
    sheet.add_chart(bars, f"E{top}")
    return max(end, top + 21) + 1


def _line_chart(sheet: Worksheet, chart: Lines, top: int) -> int:
    sheet.cell(row=top, column=1, value=chart.title).font = HEADER_FONT
    headers = [("Kỳ", None, 28)] + [(name, PERCENT, 12) for name, _ in chart.series]
    rows = [
        [period, *(_fraction(values[i]) for _, values in chart.series)]
        for i, period in enumerate(chart.x_values)
    ]
    end = _table(sheet, top + 1, headers, rows, freeze=False)
    lines = LineChart()
    lines.title = chart.title
    lines.y_axis.title = chart.y_label
    lines.x_axis.title = chart.x_label
    lines.y_axis.number_format = "0%"
    lines.y_axis.scaling.min, lines.y_axis.scaling.max = 0, 1
    if rows:
        lines.add_data(
            Reference(
                sheet, min_col=2, max_col=1 + len(chart.series), min_row=top + 1, max_row=top + 1 + len(rows)
            ),
            titles_from_data=True,
        )
        lines.set_categories(Reference(sheet, min_col=1, min_row=top + 2, max_row=top + 1 + len(rows)))
        for series in lines.series:
            series.marker.symbol = "circle"
    lines.width, lines.height = 24, 10
    sheet.add_chart(lines, f"E{top}")
    return max(end, top + 21) + 1


def _histogram(sheet: Worksheet, chart: Histogram, top: int) -> int:
    sheet.cell(row=top, column=1, value=chart.title).font = HEADER_FONT
    bins = chart.bins
    end = _table(sheet, top + 1, [("Khoảng tỷ lệ (%)", None, 28), ("Số xã", "0", 10)], bins, freeze=False)
    markers = "; ".join(label for _, label in chart.markers)
    if markers:
        sheet.cell(row=end, column=1, value=f"Mốc so sánh: {markers}")
    histogram = BarChart()
    histogram.type = "col"
    histogram.gapWidth = 5
    histogram.title = chart.title
    histogram.x_axis.title = chart.x_label
    histogram.y_axis.title = chart.y_label
    histogram.add_data(
        Reference(sheet, min_col=2, min_row=top + 1, max_row=top + 1 + len(bins)), titles_from_data=True
    )
    histogram.set_categories(Reference(sheet, min_col=1, min_row=top + 2, max_row=top + 1 + len(bins)))
    histogram.legend = None
    histogram.width, histogram.height = 24, 10
    sheet.add_chart(histogram, f"E{top}")
    return max(end + 1, top + 21) + 1


def _charts_sheet(book: Workbook, data: ReportData) -> None:
    sheet = book.create_sheet("Biểu đồ")
    top = 1
    if data.structure != BEFORE_2025:
        sheet.cell(row=top, column=1, value="Từ 01/7/2025 không còn cấp huyện: không có biểu đồ theo huyện.")
        top += 2
    for _, chart in report_charts(data):
        if isinstance(chart, Bars):
            top = _bar_chart(sheet, chart, top)
        elif isinstance(chart, Lines):
            top = _line_chart(sheet, chart, top)
        else:
            top = _histogram(sheet, chart, top)


def build(data: ReportData) -> Workbook:
    """The workbook: summary, figures per level, charts, award candidates, quality, compliance, pilots."""
    book = Workbook()
    _summary_sheet(book, data)
    _levels_sheet(book, data)
    _charts_sheet(book, data)
    _awards_sheet(book, data)
    _quality_sheet(book, data)
    _compliance_sheet(book, data)
    _pilots_sheet(book, data)
    book.properties.title = f"Báo cáo kết quả chuyển đổi số {data.period_name}"
    book.properties.creator = "dxw"
    book.properties.language = "vi-VN"
    return book
