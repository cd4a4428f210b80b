"""The report sent back to a reporting unit, and its one-paragraph Vietnamese summary.

The report lists each rejected row (``Trang tính``, ``Dòng``, ``Lý do từ chối``, ``Mã lỗi``, then the
row's original cells), then, when there are any, the rows that answered "no data" (sheet
``Không có số liệu``: submitted, not measured, not rejected) and the accepted rows with a warning
(sheet ``Cảnh báo``: landed all the same), and a summary with the counts: a last sheet ``Tóm tắt``
in xlsx, trailing rows in CSV. CSV is UTF-8 with a BOM so Excel shows Vietnamese correctly.

A cell longer than Excel's 32 767 characters (its row was refused for it) is written back as its
first 1 000 characters and a note saying how long it was: never cut without a word.

Original cells are written back as inert text: a cell that held ``=HYPERLINK(...)`` or
``=cmd|...`` must not turn into a live formula in the report the clerk opens. In xlsx such a cell
is stored as a string with Excel's quote prefix; in CSV it gets a leading apostrophe (OWASP advice),
as does a cell starting with a tab or a carriage return. Every CSV a unit or an engineer gets is
written by :func:`write_csv_rows`, quoted by the ``csv`` writer: a file named ``=HYPERLINK(1),x.csv``
stays one plain cell.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dxw.errors import InputError
from dxw.intake.uploads.cells import is_formula
from dxw.intake.uploads.validate import MAX_CELL_CHARS, NO_DATA_VI, REASONS_VI, WARNINGS_VI, UploadValidation

REPORT_HEADERS = ("Trang tính", "Dòng", "Lý do từ chối", "Mã lỗi")
REJECTED_SHEET = "Dòng bị từ chối"
NO_DATA_SHEET = NO_DATA_VI
NO_DATA_HEADERS = ("Trang tính", "Dòng", "Mã đơn vị", "Mã chỉ tiêu", "Tình trạng")
WARNING_SHEET = "Cảnh báo"
WARNING_HEADERS = ("Trang tính", "Dòng", "Mã đơn vị", "Mã chỉ tiêu", "Cảnh báo", "Mã cảnh báo")
SUMMARY_SHEET = "Tóm tắt"
# How much of a cell longer than Excel allows the report shows (the row was refused for it).
SHOWN_CHARS = 1000


def write_rejections(path: str | Path, validation: UploadValidation) -> Path:
    """Write the rejection report as .xlsx or .csv, chosen by the extension of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        _write_xlsx(path, validation)
    elif suffix == ".csv":
        _write_csv(path, validation)
    else:
        raise InputError(f"rejection report must be .xlsx or .csv, not {path.name!r}")
    return path


def summary_vi(validation: UploadValidation) -> str:
    """One paragraph such as "Đã nhận 12 dòng, từ chối 3 dòng: 2 dòng tử số lớn hơn mẫu số, ..."."""
    accepted, rejected = len(validation.accepted), len(validation.rejected)
    text = f"Đã nhận {accepted} dòng"
    if not accepted and not rejected and not validation.no_data:
        text = "Tệp không có dòng số liệu nào: hãy nhập tử số, mẫu số hoặc giá trị cho từng chỉ tiêu"
    elif rejected:
        counts = Counter(r.reason_code for r in validation.rejected)
        reasons = ", ".join(f"{n} dòng {REASONS_VI.get(code, code)}" for code, n in counts.most_common())
        text += f", từ chối {rejected} dòng: {reasons}"
    else:
        text += ", không có dòng nào bị từ chối"
    if validation.no_data:
        codes = ", ".join(f"{n.unit_code}/{n.indicator_code}" for n in validation.no_data)
        text += (
            f"; {len(validation.no_data)} dòng {NO_DATA_VI.lower()} ({codes}): đơn vị đã báo cáo, "
            "các chỉ tiêu này được ghi là chưa đo được trong kỳ"
        )
    if validation.warnings:
        counts = Counter(w.code for w in validation.warnings)
        reasons = ", ".join(f"{n} dòng {WARNINGS_VI.get(code, code)}" for code, n in counts.most_common())
        text += f"; {len(validation.warnings)} cảnh báo: {reasons}"
    text += f" (tệp '{validation.file_name}', kỳ {validation.period_id})."
    if validation.ignored_sheets:
        names = ", ".join(f"'{name}'" for name in validation.ignored_sheets)
        text += f" Bỏ qua trang tính {names} vì không có bảng số liệu."
    if rejected:
        text += " Hãy sửa các dòng bị từ chối theo lý do ghi trong báo cáo rồi nộp lại tệp."
    if validation.warnings:
        text += " Hãy kiểm tra lại các dòng có cảnh báo; số liệu của các dòng này vẫn được ghi nhận."
    return text


def _summary_rows(validation: UploadValidation) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("Tệp", validation.file_name),
        ("Kỳ báo cáo", validation.period_id),
        ("Đơn vị nộp", validation.unit_code or ""),
        ("Số dòng được nhận", len(validation.accepted)),
        ("Số dòng bị từ chối", len(validation.rejected)),
        ("Số dòng không có số liệu", len(validation.no_data)),
        ("Số cảnh báo", len(validation.warnings)),
        ("Trang tính bỏ qua", ", ".join(validation.ignored_sheets)),
    ]
    counts = Counter(r.reason_code for r in validation.rejected)
    rows += [(f"Lý do: {REASONS_VI.get(code, code)}", n) for code, n in counts.most_common()]
    rows.append(("Tóm tắt", summary_vi(validation)))
    return rows


def _original_headers(validation: UploadValidation) -> list[str]:
    """The header of the original cells: the sheet's own if all rejected rows share it, else letters."""
    width = max((len(r.cells) for r in validation.rejected), default=0)
    layouts = {r.headers for r in validation.rejected}
    shared = list(layouts.pop()) if len(layouts) == 1 else []
    width = max(width, len(shared))
    return [
        shared[i] if i < len(shared) and shared[i] else f"Cột {get_column_letter(i + 1)}"
        for i in range(width)
    ]


def _rejected_rows(validation: UploadValidation) -> list[list[object]]:
    return [
        [r.sheet, r.row_no, r.reason_vi, r.reason_code, *map(_fitting, r.cells)] for r in validation.rejected
    ]


def _fitting(text: str) -> str:
    """A cell too long for Excel, shortened with a word saying so (openpyxl would cut it silently)."""
    if len(text) <= MAX_CELL_CHARS:
        return text
    length, limit, shown = (f"{n:,}".replace(",", ".") for n in (len(text), MAX_CELL_CHARS, SHOWN_CHARS))
    return (
        f"{text[:SHOWN_CHARS]} … [ô gốc dài {length} ký tự, vượt giới hạn {limit} ký tự của một ô; "
        f"chỉ ghi lại {shown} ký tự đầu]"
    )


def _no_data_rows(validation: UploadValidation) -> list[list[object]]:
    return [[n.sheet, n.row_no, n.unit_code, n.indicator_code, NO_DATA_VI] for n in validation.no_data]


def _warning_rows(validation: UploadValidation) -> list[list[object]]:
    return [
        [w.sheet, w.row_no, w.unit_code, w.indicator_code, w.reason_vi, w.code] for w in validation.warnings
    ]


def _set(cell: Cell, value: object) -> None:
    cell.value = value
    if isinstance(value, str) and is_formula(value):
        # openpyxl turns any "=..." string into a formula; keep it a string Excel will not run.
        cell.data_type = "s"
        cell.quotePrefix = True


def _write_xlsx(path: Path, validation: UploadValidation) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = REJECTED_SHEET
    _write_table(sheet, [*REPORT_HEADERS, *_original_headers(validation)], _rejected_rows(validation))
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 8
    sheet.column_dimensions["C"].width = 60
    sheet.column_dimensions["D"].width = 24
    for row in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for title, headers, rows in (
        (NO_DATA_SHEET, NO_DATA_HEADERS, _no_data_rows(validation)),
        (WARNING_SHEET, WARNING_HEADERS, _warning_rows(validation)),
    ):
        if rows:
            extra = book.create_sheet(title)
            _write_table(extra, headers, rows)
            extra.column_dimensions["D"].width = 28
            extra.column_dimensions["E"].width = 80
    summary = book.create_sheet(SUMMARY_SHEET)
    _write_table(summary, ["Mục", "Nội dung"], [list(item) for item in _summary_rows(validation)])
    summary.column_dimensions["A"].width = 40
    summary.column_dimensions["B"].width = 100
    summary.cell(summary.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    book.save(path)


def _write_table(sheet: Worksheet, headers: Sequence[str], rows: list[list[object]]) -> None:
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(1, column)
        _set(cell, header)
        cell.font = Font(bold=True)
    for row_index, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            _set(sheet.cell(row_index, column), value)
    sheet.freeze_panes = "A2"


def _inert(value: object) -> object:
    """A cell a spreadsheet shows as text: formulas (``= + - @``) and tab/CR-led cells get a ``'``.

    A signed number (``-5``) and a "no data" dash stay as they are: Excel runs neither.
    """
    if isinstance(value, str) and (is_formula(value) or value.startswith(("\t", "\r"))):
        return f"'{value}"
    return value


def write_csv_rows(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """A CSV report: UTF-8 with a BOM (Excel shows Vietnamese), quoted, every cell inert."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([_inert(value) for value in row] for row in rows)
    return path


def write_refusal(path: Path, file_name: str, reason_vi: str) -> Path:
    """The one-line report telling a unit why its whole file was refused."""
    return write_csv_rows(path, [("Tệp", "Lý do từ chối"), (file_name, reason_vi)])


def _write_csv(path: Path, validation: UploadValidation) -> None:
    rows: list[Sequence[object]] = [
        (*REPORT_HEADERS, *_original_headers(validation)),
        *_rejected_rows(validation),
    ]
    for headers, extra in (
        (NO_DATA_HEADERS, _no_data_rows(validation)),
        (WARNING_HEADERS, _warning_rows(validation)),
    ):
        if extra:
            rows += [(), headers, *extra]
    rows += [(), *_summary_rows(validation)]
    write_csv_rows(path, rows)
