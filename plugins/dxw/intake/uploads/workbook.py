"""Reading an upload (.xlsx or .csv) into rows of raw cells, without judging their content.

How a table is found and read:

* the file first passes :func:`dxw.intake.uploads.safety.check_file`;
* every worksheet is read; its header row is the first row among the top 30 whose cells name
  ``Mã chỉ tiêu`` and at least one of ``Tử số``, ``Mẫu số``, ``Giá trị``. Header names are
  compared accent-, case-, NFC/NFD- and space-insensitively, with any ``(...)`` part dropped, so
  ``Ma don vi``, ``Mã ĐV``, ``Tử số (người/hồ sơ)`` and ``Tỷ lệ (%)`` are all recognised. A sheet
  without such a row is listed in ``ignored_sheets``;
* merged cells are filled from their top-left cell, so a unit code merged down over several rows
  applies to each row (and a two-row header whose first row is merged down is recognised);
* above the header, ``Kỳ báo cáo: 2025S1`` (or ``6 tháng đầu năm 2025``) gives the sheet's period
  and ``Đơn vị: 024 - ...`` its unit, in the same cell after a colon or in the next cell;
* below the header, blank rows are skipped, as are a column-numbering row (``(1) (2) (3)``) right
  under the header and rows with neither an indicator code nor any number (section titles,
  signatures, notes);
* formulas are never evaluated: the workbook is opened with ``data_only=False`` and a formula cell
  reaches the caller as its ``=...`` text, for validation to refuse. A numeric cell formatted as a
  percentage is read as the clerk sees it (0.855 shown as ``85,5%`` becomes 85.5);
* CSV encodings (:func:`decode_csv`): UTF-8 with or without BOM, UTF-16 LE or BE with BOM, and the
  legacy code pages Excel writes for "CSV (Comma delimited)": Windows-1258 (Vietnamese Windows;
  its tone marks are combining characters, so the text is NFC-normalised after decoding) and,
  where cp1258 cannot have written the text, Windows-1252. A file whose encoding cannot be
  determined (UTF-16 without BOM, UTF-8 text mixed with other bytes, bytes no code page
  defines) is refused with code ``bad_encoding``; the delimiter (``,``, ``;`` or tab) is the one
  under which a header row is recognised. A field may be as long as the file (the row check
  refuses a cell over Excel's 32 767 characters, nothing is cut).

Row numbers are 1-based as Excel shows them (for CSV, the record number).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from dxw import periods
from dxw.intake.uploads.cells import cell_text, fold
from dxw.intake.uploads.safety import MAX_BYTES, FileKind, UploadError, check_file

FIELDS = (
    "unit_code",
    "unit_name",
    "indicator_code",
    "indicator_name",
    "period",
    "numerator",
    "denominator",
    "value",
    "comment",
)
FIELD_LABELS_VI = {
    "unit_code": "Mã đơn vị",
    "unit_name": "Tên đơn vị",
    "indicator_code": "Mã chỉ tiêu",
    "indicator_name": "Tên chỉ tiêu",
    "period": "Kỳ báo cáo",
    "numerator": "Tử số",
    "denominator": "Mẫu số",
    "value": "Giá trị (%)",
    "comment": "Ghi chú",
}
NUMBER_FIELDS = ("numerator", "denominator", "value")
# Folded forms (see cells.fold), compared after dropping "(...)" parts and trailing punctuation.
HEADER_ALIASES: dict[str, frozenset[str]] = {
    "unit_code": frozenset({"ma don vi", "ma dv", "ma dvhc", "ma don vi bao cao", "unit code", "unit_code"}),
    "unit_name": frozenset({"ten don vi", "ten dv", "don vi", "don vi bao cao", "unit name", "unit_name"}),
    "indicator_code": frozenset(
        {"ma chi tieu", "ma ct", "ma so chi tieu", "indicator code", "indicator_code", "indicator"}
    ),
    "indicator_name": frozenset({"ten chi tieu", "chi tieu", "noi dung chi tieu", "indicator name"}),
    "period": frozenset({"ky bao cao", "ky bc", "ky", "period", "period_id"}),
    "numerator": frozenset({"tu so", "numerator"}),
    "denominator": frozenset({"mau so", "denominator"}),
    "value": frozenset({"gia tri", "ty le", "ti le", "value"}),
    "comment": frozenset({"ghi chu", "note", "notes", "comment"}),
}
_PERIOD_LABELS = frozenset({"ky bao cao", "ky bc", "ky"})
_UNIT_LABELS = frozenset({"don vi", "ma don vi", "don vi bao cao", "ten don vi"})
HEADER_SCAN_ROWS = 30
MAX_ROWS = 5000
# Formatting a whole row can push max_column to 16384; real forms fit well within this.
MAX_COLUMNS = 60
_NUMBERING_CELL = re.compile(r"\(?[0-9A-Za-z]{1,2}\)?")
_UNIT_CODE = re.compile(r"(?<![\w.])([0-9][0-9A-Za-z]*(?:\.[0-9A-Za-z]+)*)")
_PERIOD_ID = re.compile(r"(?<![0-9])([0-9]{4}[SsQq][0-9])(?![0-9])")
_PERIOD_HALF = re.compile(r"6 thang (dau|cuoi) nam ([0-9]{4})")
_PERIOD_PLAIN = re.compile(r"(?<![0-9/.\-])([0-9]{6}|[0-9]{4})(?![0-9/.\-])")
_CSV_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class SheetTable:
    name: str
    header_row: int
    headers: tuple[str, ...]  # header cells as text, column A first
    columns: dict[str, int]  # field -> 0-based column index
    period: str | None  # the sheet's "Kỳ báo cáo" metadata: a period id when recognisable
    unit_code: str | None  # the sheet's "Đơn vị" metadata


@dataclass(frozen=True)
class UploadRow:
    sheet: str
    row_no: int
    values: dict[str, object]  # field -> raw cell value; formulas as their "=..." text
    columns: dict[str, str]  # field -> column letter, for messages such as "ô F12"
    cells: tuple[str, ...]  # the whole row as text, column A first

    def text(self, field: str) -> str:
        """The cell of ``field`` as clean text ('' when blank or absent)."""
        return cell_text(self.values.get(field))


@dataclass(frozen=True)
class ParsedUpload:
    file_name: str
    kind: FileKind
    tables: tuple[SheetTable, ...]
    rows: tuple[UploadRow, ...]
    ignored_sheets: tuple[str, ...]

    def table(self, sheet: str) -> SheetTable:
        """The table read from ``sheet``; KeyError when no table was read from it."""
        for table in self.tables:
            if table.name == sheet:
                return table
        raise KeyError(sheet)

    @property
    def period_id(self) -> str | None:
        """The period written above the table (first sheet that has one): an id, or the text if unreadable."""
        return next((table.period for table in self.tables if table.period), None)


@dataclass
class _Grid:
    name: str
    rows: list[list[object]]
    blank: list[bool]  # the row was blank before merged cells were filled in


def read_upload(path: str | Path, *, max_bytes: int = MAX_BYTES) -> ParsedUpload:
    """Read every recognisable table of an upload; raise :class:`UploadError` when there is none."""
    path = Path(path)
    kind = check_file(path, max_bytes)
    grids = _xlsx_grids(path) if kind == "xlsx" else [_csv_grid(path)]
    tables: list[SheetTable] = []
    rows: list[UploadRow] = []
    ignored: list[str] = []
    for grid in grids:
        found = _find_header(grid.rows)
        if found is None:
            ignored.append(grid.name)
            continue
        header_index, columns = found
        period, unit_code = _metadata(grid.rows[:header_index])
        headers = tuple(cell_text(v) for v in grid.rows[header_index])
        tables.append(SheetTable(grid.name, header_index + 1, _trim(headers), columns, period, unit_code))
        rows.extend(_data_rows(grid, header_index, columns, len(tables[-1].headers)))
    if not tables:
        raise UploadError(
            f"Không tìm thấy bảng số liệu trong tệp '{path.name}': cần một dòng tiêu đề có các cột "
            "'Mã đơn vị', 'Mã chỉ tiêu', 'Tử số', 'Mẫu số', 'Giá trị (%)'. "
            "Hãy dùng mẫu báo cáo được cung cấp.",
            "no_table",
        )
    return ParsedUpload(path.name, kind, tuple(tables), tuple(rows), tuple(ignored))


def header_field(text: object) -> str | None:
    """The field a header cell names (``'Tử số (người)'`` -> ``'numerator'``), or None."""
    key = re.sub(r"\([^)]*\)", " ", fold(text))
    key = " ".join(key.strip(" :*.#").split())
    return next((name for name, aliases in HEADER_ALIASES.items() if key in aliases), None)


def _trim(cells: Sequence[str]) -> tuple[str, ...]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return tuple(cells[:end])


def _find_header(rows: list[list[object]]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        for column, value in enumerate(row):
            field = header_field(value) if isinstance(value, str) else None
            if field and field not in columns:
                columns[field] = column
        if "indicator_code" in columns and any(field in columns for field in NUMBER_FIELDS):
            return index, columns
    return None


def _metadata(rows: list[list[object]]) -> tuple[str | None, str | None]:
    """The period and unit code written above the header ("Kỳ báo cáo: 2025S1", "Đơn vị: 024 - ...")."""
    period: str | None = None
    unit_code: str | None = None
    for row in rows:
        texts = [cell_text(v) for v in row]
        for column, text in enumerate(texts):
            label, colon, rest = text.partition(":")
            label = fold(label).strip(" *")
            if not colon and label not in _PERIOD_LABELS | _UNIT_LABELS:
                continue
            value = rest.strip() or next((t for t in texts[column + 1 :] if t), "")
            if label in _PERIOD_LABELS and period is None and value:
                period = find_period(value)
            elif label in _UNIT_LABELS and unit_code is None:
                match = _UNIT_CODE.search(value)
                unit_code = match.group(1) if match else None
    return period, unit_code


def find_period(text: str) -> str:
    """The period id written in ``text`` (``'6 tháng đầu năm 2025'`` -> ``'2025S1'``), else ``text``."""
    for candidate in _period_candidates(text):
        try:
            return periods.parse(candidate).id
        except periods.PeriodError:
            continue
    return text


def _period_candidates(text: str) -> list[str]:
    found = [match.group(1) for match in _PERIOD_ID.finditer(text)]
    found += [f"{year}S{1 if half == 'dau' else 2}" for half, year in _PERIOD_HALF.findall(fold(text))]
    found += [match.group(1) for match in _PERIOD_PLAIN.finditer(text)]
    return found


def _is_numbering_row(row: list[object]) -> bool:
    texts = [cell_text(v) for v in row if cell_text(v)]
    return len(texts) >= 3 and all(_NUMBERING_CELL.fullmatch(t) for t in texts)


def _data_rows(grid: _Grid, header_index: int, columns: dict[str, int], width: int) -> list[UploadRow]:
    letters = {field: get_column_letter(column + 1) for field, column in columns.items()}
    out: list[UploadRow] = []
    for index in range(header_index + 1, len(grid.rows)):
        row = grid.rows[index]
        if grid.blank[index] or (index <= header_index + 2 and _is_numbering_row(row)):
            continue
        values = {field: row[column] if column < len(row) else None for field, column in columns.items()}
        if not any(cell_text(values.get(f)) for f in ("indicator_code", *NUMBER_FIELDS)):
            continue
        texts = [cell_text(v) for v in row]
        cells = tuple(texts[:width]) + _trim(texts[width:])
        out.append(UploadRow(grid.name, index + 1, values, letters, cells))
    return out


def _xlsx_grids(path: Path) -> list[_Grid]:
    try:
        workbook = openpyxl.load_workbook(path, data_only=False, keep_vba=False, keep_links=False)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        TypeError,
        OSError,
        ParseError,
    ) as exc:
        raise UploadError(
            f"Không mở được tệp Excel '{path.name}' ({exc}); hãy mở lại bằng Excel và lưu thành .xlsx.",
            "unreadable",
        ) from exc
    try:
        grids = [_sheet_grid(sheet) for sheet in workbook.worksheets]
        grids += [_Grid(sheet.title, [], []) for sheet in workbook.chartsheets]
    finally:
        workbook.close()
    return grids


def _check_row_count(name: str, count: int) -> None:
    if count > MAX_ROWS:
        raise UploadError(
            f"Trang tính '{name}' có {count} dòng, vượt giới hạn {MAX_ROWS} dòng của một báo cáo.",
            "too_many_rows",
        )


def _sheet_grid(sheet: Worksheet) -> _Grid:
    width = min(sheet.max_column, MAX_COLUMNS)
    head = _read_cells(sheet, 1, min(sheet.max_row, HEADER_SCAN_ROWS), width)
    # A sheet without a table is not read past the header scan: it may be a large annex.
    rows = head
    if _find_header(head):
        _check_row_count(sheet.title, sheet.max_row)
        rows = head + _read_cells(sheet, HEADER_SCAN_ROWS + 1, sheet.max_row, width)
    blank = [all(not cell_text(v) for v in row) for row in rows]
    for merged in sheet.merged_cells.ranges:
        top, left = merged.min_row - 1, merged.min_col - 1
        if top >= len(rows) or left >= width:
            continue
        value = rows[top][left]
        for r in range(top, min(merged.max_row, len(rows))):
            for c in range(left, min(merged.max_col, width)):
                rows[r][c] = value
    return _Grid(sheet.title, rows, blank)


def _read_cells(sheet: Worksheet, first: int, last: int, width: int) -> list[list[object]]:
    if last < first or width < 1:
        return []
    return [
        [_cell_value(cell) for cell in row]
        for row in sheet.iter_rows(min_row=first, max_row=last, max_col=width)
    ]


def _cell_value(cell: Cell) -> object:
    value = cell.value
    if isinstance(value, ArrayFormula | DataTableFormula):
        text = getattr(value, "text", None) or ""
        return text if text.startswith("=") else f"={text}"
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        return Decimal(repr(value)) * 100
    return value


def _csv_grid(path: Path) -> _Grid:
    text, _ = decode_csv(path.read_bytes(), path.name)
    # The csv module refuses fields over 128 KiB by default: a long note is read and its row is
    # refused with the limit named (validate.MAX_CELL_CHARS), never an opaque parse error.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_BYTES))
    best: list[list[object]] | None = None
    best_fields = 0
    for delimiter in _CSV_DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise UploadError(f"Tệp CSV '{path.name}' bị lỗi định dạng: {exc}.", "unreadable") from exc
        rows: list[list[object]] = [
            [value if value.strip() else None for value in record] for record in records
        ]
        found = _find_header(rows)
        if found and len(found[1]) > best_fields:
            best, best_fields = rows, len(found[1])
    rows = best if best is not None else []
    _check_row_count(path.name, len(rows))
    return _Grid(path.name, rows, [all(v is None for v in row) for row in rows])


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_BOM_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16"}
_SAVE_AS_UTF8 = "hãy mở tệp bằng Excel và lưu lại với kiểu 'CSV UTF-8 (Comma delimited) (*.csv)'"


def _vietnamese_letters() -> frozenset[str]:
    """Every letter of the Vietnamese alphabet, both cases, as single NFC characters."""
    tones = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
    letters = {"đ"} | {
        unicodedata.normalize("NFC", vowel + tone) for vowel in "aăâeêioôơuưy" for tone in tones
    }
    return frozenset(letters | {letter.upper() for letter in letters})


_VIETNAMESE_LETTERS = _vietnamese_letters()


def _foreign_letters(text: str) -> int:
    """How many letters of ``text`` are neither ASCII nor Vietnamese, loose tone marks included."""
    return sum(
        1
        for ch in text
        if not ch.isascii() and ch not in _VIETNAMESE_LETTERS and unicodedata.category(ch)[0] in "LM"
    )


# When a file is not valid UTF-8, its valid UTF-8 sequences tell a mixed file (UTF-8 text with
# legacy bytes) from a legacy one only if the legacy code page cannot have written them. Any valid
# pair can: cp1258 writes Â Ă Ê Ô Ơ Ư Đ and the grave, hook and tilde tone marks as 0xC2-0xDF,
# and … “ ” – — NBSP ° as 0x80-0xBF, so "đủ…" holds D2 85 (U+0485) and "MÊ”" holds CA 94 (U+0294).
# Only a sequence that decodes to a Vietnamese letter beyond ASCII, a Vietnamese tone mark or a
# typographic mark of U+2000-U+206F (“ ” … – — as Word and Excel write them) counts as evidence:
# UTF-8 Vietnamese text has one per accented letter, while cp1258 Vietnamese text makes one only
# through a pairing its spelling never produces (Ă, always followed by a tone mark or a final
# consonant, before a symbol such as NBSP or a quote; a grave tone mark before € ƒ ‰ £; á before
# º or » and another symbol; â before €; Ä Å Æ, which Vietnamese lacks). One such accident is
# tolerated; two or more sequences mean the file mixes encodings and it is refused.
_VIETNAMESE_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_MIXING_EVIDENCE = 2


def _utf8_vietnamese(data: bytes) -> int:
    """How many valid UTF-8 sequences in ``data`` spell a Vietnamese letter, tone mark or “ ” … –."""
    count = 0
    for match in _UTF8_SEQUENCE.finditer(data):
        try:
            ch = match.group().decode("utf-8")
        except UnicodeDecodeError:  # the pattern admits overlong forms and surrogates
            continue
        # A multi-byte sequence is never ASCII, so the plain vowels of _VIETNAMESE_LETTERS never match.
        if ch in _VIETNAMESE_LETTERS or ch in _VIETNAMESE_TONE_MARKS or "\u2000" <= ch <= "\u206f":
            count += 1
    return count


def decode_csv(data: bytes, name: str) -> tuple[str, str]:
    """The text of a CSV file (NFC) and the encoding it was read with; UploadError when undecidable."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # the BOM says which byte order
    elif b"\x00" in data:
        raise _encoding_error(
            name,
            "tệp có ký tự NUL, có thể là UTF-16 nhưng không có dấu BOM nên không xác định được thứ tự byte",
        )
    else:
        encoding = "utf-8"
    try:
        return unicodedata.normalize("NFC", data.decode(encoding)), encoding
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise _encoding_error(
                name, f"tệp có dấu BOM của {_BOM_NAMES[encoding]} nhưng có byte sai ở vị trí {exc.start}"
            ) from None
        if _utf8_vietnamese(data) >= _MIXING_EVIDENCE:
            raise _encoding_error(
                name,
                f"tệp có cả ký tự UTF-8 và byte không hợp lệ trong UTF-8 (vị trí {exc.start}): "
                "có thể đã trộn hai bảng mã",
            ) from None
    # The two code pages differ in 14 bytes (cp1258's tone marks and ă ơ ư đ, cp1252's ì ò Ð Þ...):
    # the reading with fewer letters foreign to Vietnamese wins, cp1258 on a tie.
    readings = []
    for legacy in ("cp1258", "cp1252"):
        try:
            text = unicodedata.normalize("NFC", data.decode(legacy))
        except UnicodeDecodeError:
            continue
        readings.append((_foreign_letters(text), text, legacy))
    if readings:
        _, text, legacy = min(readings, key=lambda reading: reading[0])
        return text, legacy
    raise _encoding_error(
        name, "tệp không phải UTF-8 và có byte không thuộc bảng mã Windows-1258 (tiếng Việt) hay Windows-1252"
    )


def _encoding_error(name: str, problem: str) -> UploadError:
    return UploadError(
        f"Không xác định được bảng mã (encoding) của tệp '{name}': {problem}; {_SAVE_AS_UTF8}.",
        "bad_encoding",
    )
