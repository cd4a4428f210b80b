"""The xlsx form a reporting unit fills in for one period.

Layout (what :func:`dxw.intake.uploads.workbook.read_upload` expects): a title, ``Đơn vị`` and ``Kỳ báo
cáo`` metadata lines, an instruction line, a blank row, then the header row and one pre-filled row
per upload indicator applicable to the unit. Code and period cells are text-formatted so Excel
keeps leading zeros; ``Tử số``/``Mẫu số`` accept whole numbers >= 0 only, and ``Giá trị`` of a
flag indicator only 0 or 1. The header row is frozen.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dxw import periods
from dxw.intake.uploads.catalogue import Catalogue, CatalogueError

TITLE = "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ - KẾ HOẠCH 86/KH-UBND"
SHEET_TITLE = "Báo cáo"
HEADERS = (
    "Mã đơn vị",
    "Tên đơn vị",
    "Mã chỉ tiêu",
    "Tên chỉ tiêu",
    "Kỳ báo cáo",
    "Tử số",
    "Mẫu số",
    "Giá trị (%)",
    "Ghi chú",
)
WIDTHS = (12, 28, 28, 70, 12, 12, 12, 12, 30)
HEADER_ROW = 6
INSTRUCTION = (
    "Hướng dẫn: nhập Tử số và Mẫu số là số nguyên không âm (gõ số trực tiếp, không dùng công thức); "
    "Giá trị (%) được tính tự động từ tử số và mẫu số, có thể để trống. Chỉ tiêu đạt/chưa đạt: "
    "nhập 1 (đạt) hoặc 0 (chưa đạt) vào cột Giá trị. Không sửa Mã đơn vị, Mã chỉ tiêu, Kỳ báo cáo."
)
_BOLD = Font(bold=True)
_GREY = PatternFill("solid", fgColor="D9D9D9")
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def write_template(path: str | Path, catalogue: Catalogue, unit_code: str, period_id: str) -> Path:
    """Write the upload form of ``unit_code`` for ``period_id``; raise CatalogueError if it has no rows."""
    period = periods.parse(period_id)
    unit = catalogue.require_unit(unit_code, period)
    indicators = catalogue.applicable(unit, period)
    if not indicators:
        raise CatalogueError(
            f"no upload indicator applies to {unit.code} ({unit.level} level) in {period.id}"
        )
    start, end = period.window("decree09")
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    last_column = get_column_letter(len(HEADERS))

    sheet["A1"] = TITLE
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.merge_cells(f"A1:{last_column}1")
    sheet["A2"] = f"Đơn vị: {unit.code} - {unit.name}"
    sheet["A3"] = (
        f"Kỳ báo cáo: {period.id} (số liệu từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}, "
        "theo Nghị định 09/2019/NĐ-CP)"
    )
    sheet["A4"] = INSTRUCTION
    sheet["A4"].font = Font(italic=True)
    sheet["A4"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.merge_cells(f"A4:{last_column}4")
    sheet.row_dimensions[4].height = 45

    for column, header in enumerate(HEADERS, start=1):
        cell = sheet.cell(HEADER_ROW, column, header)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for column, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width

    first = HEADER_ROW + 1
    for row, indicator in enumerate(indicators, start=first):
        name = indicator.name_vi + (" (1 = đạt, 0 = chưa đạt)" if indicator.is_flag else "")
        for column, value in enumerate((unit.code, unit.name, indicator.code, name, period.id), start=1):
            cell = sheet.cell(row, column, value)
            cell.number_format = "@"
        sheet.cell(row, 4).alignment = Alignment(wrap_text=True, vertical="top")
        for column in range(1, len(HEADERS) + 1):
            sheet.cell(row, column).border = _BORDER
        if indicator.is_flag:
            # Grey marks the cells a unit leaves empty: a flag has no numerator or denominator.
            sheet.cell(row, 6).fill = _GREY
            sheet.cell(row, 7).fill = _GREY
    last = first + len(indicators) - 1

    counts = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Số không hợp lệ",
        error="Tử số và mẫu số là số nguyên không âm.",
    )
    counts.add(f"F{first}:G{last}")
    percent = DataValidation(
        type="decimal",
        operator="between",
        formula1="0",
        formula2="100",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Giá trị không hợp lệ",
        error="Giá trị (%) nằm trong khoảng 0 đến 100.",
    )
    flag = DataValidation(
        type="whole",
        operator="between",
        formula1="0",
        formula2="1",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Giá trị không hợp lệ",
        error="Nhập 1 (đạt) hoặc 0 (chưa đạt).",
    )
    for row, indicator in enumerate(indicators, start=first):
        (flag if indicator.is_flag else percent).add(f"H{row}")
    for validation in (counts, percent, flag):
        if validation.sqref:
            sheet.add_data_validation(validation)

    sheet.freeze_panes = sheet.cell(first, 1)
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    path = Path(path)
    book.save(path)
    return path
