"""Checking parsed upload rows against the catalogue: accepted observations and rejected rows.

A row is accepted whole or rejected whole, with the first problem found, in this order:

0. ``cell_too_long`` (see "Nothing is cut" below);
1. ``formula``: a mapped cell holds a formula, or text a spreadsheet would run as one (``=``, ``+``,
   ``-``, ``@`` prefixes on text that is not a number). Formulas are never evaluated;
2. the unit: ``missing_unit``; ``unknown_unit`` (no such code at all); ``unit_not_valid`` (the code
   exists but not on any day of the period's Decree 09 window, e.g. a district in 2026S1 or a 2025
   commune in 2025S1: the reason gives the unit's dates and, for a unit that ended, its successors
   from the 2025 succession, for a new one its predecessors; a unit that existed for part of the
   window is accepted); ``unit_not_allowed`` when an
   uploading unit is given and the row's unit is neither that unit nor below it in the parent chain.
   The unit comes from the row, else the ``Đơn vị`` line above the table, else the uploading unit.
   Excel drops leading zeros (``024`` typed as a number is 24), so a digits-only code that is not
   found is retried zero-padded to 2, 3 and 5 digits;
3. the period: ``bad_period`` (unreadable) or ``period_mismatch`` (the row's ``Kỳ báo cáo``, else
   the sheet's, differs from the period being uploaded);
4. the indicator: ``missing_indicator``, ``unknown_indicator``, ``indicator_not_uploadable`` (it
   comes from a system, not from units), ``indicator_not_applicable`` (not for the unit's level);
5. ``duplicate``: the same (unit, indicator) already appeared in the file; the first row wins
   (even if it is itself rejected for its numbers) and the reason names it;
6. the numbers: ``not_a_number``, ``negative``; for a flag indicator ``missing_value`` or
   ``value_out_of_range`` unless ``Giá trị`` is 1 (đạt) or 0 (chưa đạt); for a percent indicator
   ``missing_numbers`` (numerator and denominator are both required: the warehouse aggregates
   them), ``not_whole_number`` (they are counts), ``zero_denominator`` (0 with a numerator > 0),
   ``numerator_gt_denominator``, ``value_out_of_range`` (``Giá trị`` outside 0..100) and
   ``value_mismatch`` (``Giá trị`` more than 0.05 points from 100 * numerator / denominator);
7. the denominator against the unit registry, for the indicators whose denominator the registry
   knows (:data:`REGISTRY_DENOMINATORS`: the communes of a district for commune broadband):
   ``denominator_not_registry`` unless it equals the number of commune-level units under the unit
   on the last day of the Decree 09 window on which the unit exists.

"No data" answers (issue 14). A row that names a valid unit and indicator but whose figures say
the unit has no figure is a "no data" row (:class:`NoData`): neither an observation nor a
rejection; it lands with a no-data flag and no figures, the unit counts as having submitted and the
indicator as reported without a figure (not measured: never 0/0). For a ratio it is a "no data" row
when every figure cell that is filled holds a "no data" word (:func:`dxw.intake.uploads.cells.is_no_data`:
``không có``, ``không``, ``-``, ``x``, ``N/A``, ``không có số liệu``...). Such a word beside a real
figure in the same row is refused (``not_a_number``): ``không có`` households out of 12 000 is
not read as 0 %. For a yes/no indicator the cell is an answer, not a number: ``không``,
``không có`` and dashes are "not achieved" (0), as before, only an explicit phrase (``không có
số liệu``, ``N/A``...) makes the row "no data", and ``x`` (a ticked box? a cross?) is refused.
Digits ``0`` and ``0`` stay a report of 0/0 (accepted, no value).

Nothing is cut. ``cell_too_long``: a cell of the row longer than :data:`MAX_CELL_CHARS` (32 767
characters, Excel's own limit for a cell) rejects the row, with the column and the limit named;
it is checked first, before anything reads the cell.

Warnings never block. For the other ratio indicators an accepted denominator more than ``band``
(a fraction, setting ``DXW_UPLOAD_DENOMINATOR_BAND``, 0.20 by default) above or below the same
unit version's accepted denominator of the previous period (``previous``, read by ``dxw.intake.imports``)
gives a ``denominator_outside_band`` warning. No previous figure (or a previous 0) means no warning.

The accepted value is always the computed one (rounded to 4 decimals); 0/0 is accepted with no
value. A flag is stored as numerator = value, denominator = 1.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from openpyxl.utils import get_column_letter

from dxw import periods
from dxw.intake.uploads.catalogue import LEVELS_VI, SOURCES_VI, Catalogue, Indicator, UnitRef
from dxw.intake.uploads.cells import (
    CellError,
    clean_text,
    decimal_text,
    is_formula,
    is_no_data,
    is_no_data_phrase,
    is_not_achieved,
    parse_number,
)
from dxw.intake.uploads.safety import UploadError
from dxw.intake.uploads.workbook import (
    FIELD_LABELS_VI,
    FIELDS,
    NUMBER_FIELDS,
    ParsedUpload,
    UploadRow,
    find_period,
)

MISMATCH_TOLERANCE = Decimal("0.05")
# The default warning band: a district's households and adult population move by a few percent a
# year and its businesses by around a tenth, so a change of more than a fifth in one half-year is
# far more likely a typing slip (a digit dropped or doubled, another unit's figure) than real.
DENOMINATOR_BAND = Decimal("0.20")
# Ratio indicators whose denominator the unit registry knows: indicator -> the level it counts.
REGISTRY_DENOMINATORS = {"DIST_COMMUNE_BROADBAND": "commune"}
VALUE_PLACES = Decimal("0.0001")
# Excel's limit for the text of one cell ("Total number of characters that a cell can contain:
# 32,767", Excel specifications and limits); openpyxl silently cuts longer text when it writes.
MAX_CELL_CHARS = 32_767
# Short Vietnamese labels of the reason codes, for summaries ("2 dòng tử số lớn hơn mẫu số").
REASONS_VI = {
    "cell_too_long": "ô quá dài",
    "formula": "chứa công thức",
    "missing_unit": "thiếu mã đơn vị",
    "unknown_unit": "mã đơn vị không có trong danh mục",
    "unit_not_valid": "đơn vị không có hiệu lực trong kỳ",
    "unit_not_allowed": "báo cáo thay đơn vị khác",
    "bad_period": "kỳ báo cáo không đúng định dạng",
    "period_mismatch": "sai kỳ báo cáo",
    "missing_indicator": "thiếu mã chỉ tiêu",
    "unknown_indicator": "mã chỉ tiêu không có trong danh mục",
    "indicator_not_uploadable": "chỉ tiêu được lấy tự động, không nộp qua tệp",
    "indicator_not_applicable": "chỉ tiêu không áp dụng cho cấp của đơn vị",
    "duplicate": "trùng dòng",
    "not_a_number": "ô số không phải là số",
    "negative": "số âm",
    "missing_numbers": "thiếu tử số hoặc mẫu số",
    "missing_value": "thiếu giá trị đạt/chưa đạt",
    "not_whole_number": "tử số hoặc mẫu số không phải số nguyên",
    "zero_denominator": "mẫu số bằng 0",
    "numerator_gt_denominator": "tử số lớn hơn mẫu số",
    "value_out_of_range": "giá trị ngoài khoảng cho phép",
    "value_mismatch": "giá trị không khớp tử số/mẫu số",
    "denominator_not_registry": "mẫu số khác danh mục đơn vị hành chính",
}
WARNINGS_VI = {"denominator_outside_band": "mẫu số thay đổi nhiều so với kỳ trước"}
NO_DATA_VI = "Không có số liệu"
LEVEL_MEMBERS_VI = {"commune": "xã, phường, thị trấn"}


@dataclass(frozen=True)
class Observation:
    unit_code: str
    indicator_code: str
    period_id: str
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None  # percent points, or 1/0 for a flag; None for 0/0
    comment: str | None
    sheet: str
    row_no: int


@dataclass(frozen=True)
class Rejection:
    sheet: str
    row_no: int
    cells: tuple[str, ...]  # the row as the unit wrote it, column A first
    reason_vi: str
    reason_code: str
    headers: tuple[str, ...] = ()  # the header cells of the row's sheet


@dataclass(frozen=True)
class NoData:
    """A row saying the unit has no figure for the indicator: submitted, but not measured."""

    sheet: str
    row_no: int
    unit_code: str
    indicator_code: str
    cells: tuple[str, ...]
    headers: tuple[str, ...] = ()
    comment: str | None = None  # the row's note, often why there is no figure


@dataclass(frozen=True)
class RowWarning:
    """An accepted row the unit should check; it is landed all the same."""

    sheet: str
    row_no: int
    unit_code: str
    indicator_code: str
    reason_vi: str
    code: str
    denominator: Decimal
    previous: Decimal
    previous_period_id: str


@dataclass(frozen=True)
class UploadValidation:
    file_name: str
    period_id: str
    unit_code: str | None
    accepted: list[Observation]
    rejected: list[Rejection]
    ignored_sheets: tuple[str, ...] = ()
    no_data: list[NoData] = dataclasses.field(default_factory=list)
    warnings: list[RowWarning] = dataclasses.field(default_factory=list)


class _RowRejected(Exception):
    def __init__(self, code: str, reason_vi: str) -> None:
        super().__init__(reason_vi)
        self.code = code
        self.reason_vi = reason_vi


def validate(
    parsed: ParsedUpload,
    catalogue: Catalogue,
    period_id: str,
    unit_code: str | None = None,
    previous: Mapping[tuple[str, date, str], Decimal] | None = None,
    band: Decimal = DENOMINATOR_BAND,
) -> UploadValidation:
    """Split ``parsed`` rows into accepted observations, "no data" rows and rejections for ``period_id``.

    ``unit_code`` is the uploading unit: rows may report for it and for the units under it.
    ``previous`` maps (unit code, unit valid_from, indicator) to the accepted denominator of the
    previous period, for the warning band of width ``band``.
    """
    period = periods.parse(period_id)
    reporter = None
    if unit_code:
        reporter = catalogue.unit(unit_code, period)
        if reporter is None:
            raise UploadError(
                f"Mã đơn vị nộp báo cáo '{unit_code}' không có trong danh mục đơn vị của kỳ {period.id}.",
                "unknown_uploader",
            )
    checker = _RowChecker(catalogue, period, reporter)
    accepted: list[Observation] = []
    rejected: list[Rejection] = []
    no_data: list[NoData] = []
    warnings: list[RowWarning] = []
    for row in parsed.rows:
        table = parsed.table(row.sheet)
        try:
            checked = checker.check(row, table.unit_code, table.period)
        except _RowRejected as exc:
            rejected.append(
                Rejection(row.sheet, row.row_no, row.cells, exc.reason_vi, exc.code, table.headers)
            )
            continue
        if isinstance(checked, NoData):
            no_data.append(replace(checked, headers=table.headers))
            continue
        observation, unit = checked
        accepted.append(observation)
        warning = _band_warning(observation, unit, period, previous or {}, band)
        if warning:
            warnings.append(warning)
    return UploadValidation(
        parsed.file_name, period.id, unit_code, accepted, rejected, parsed.ignored_sheets, no_data, warnings
    )


def _band_warning(
    observation: Observation,
    unit: UnitRef,
    period: periods.Period,
    previous: Mapping[tuple[str, date, str], Decimal],
    band: Decimal,
) -> RowWarning | None:
    """A warning when the denominator moved more than ``band`` from the previous period's."""
    if observation.denominator is None or observation.indicator_code in REGISTRY_DENOMINATORS:
        return None
    before = previous.get((unit.code, unit.valid_from, observation.indicator_code))
    if not before:
        return None
    change = (observation.denominator - before) / before
    if abs(change) <= band:
        return None
    percent = (change * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    limit = decimal_text(band * 100)
    earlier = period.previous().id
    reason = (
        f"Mẫu số ({_vn(observation.denominator)}) {'tăng' if change > 0 else 'giảm'} {_vn(abs(percent))}% "
        f"so với kỳ {earlier} ({_vn(before)}), vượt ngưỡng ±{limit}%: đề nghị đơn vị kiểm tra lại; "
        "số liệu vẫn được ghi nhận"
    )
    return RowWarning(
        observation.sheet,
        observation.row_no,
        observation.unit_code,
        observation.indicator_code,
        reason,
        "denominator_outside_band",
        observation.denominator,
        before,
        earlier,
    )


def _vn(number: Decimal) -> str:
    """A number as Vietnamese clerks write it: decimal comma, no grouping."""
    return decimal_text(number).replace(".", ",")


def _date_vn(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "nay"


class _RowChecker:
    def __init__(self, catalogue: Catalogue, period: periods.Period, reporter: UnitRef | None) -> None:
        self.catalogue = catalogue
        self.period = period
        self.reporter = reporter
        self.seen: dict[tuple[str, str], UploadRow] = {}

    def check(
        self, row: UploadRow, sheet_unit: str | None, sheet_period: str | None
    ) -> tuple[Observation, UnitRef] | NoData:
        _check_lengths(row)
        self._check_formulas(row)
        unit = self._unit(row, sheet_unit)
        self._check_period(row, sheet_period)
        indicator = self._indicator(row, unit)
        self._check_duplicate(row, unit, indicator)
        if _says_no_data(row, indicator):
            comment = clean_text(row.values.get("comment")) or None
            return NoData(row.sheet, row.row_no, unit.code, indicator.code, row.cells, comment=comment)
        numerator, denominator, value = self._numbers(row, indicator)
        self._check_registry(unit, indicator, denominator)
        observation = Observation(
            unit_code=unit.code,
            indicator_code=indicator.code,
            period_id=self.period.id,
            numerator=numerator,
            denominator=denominator,
            value=value,
            comment=clean_text(row.values.get("comment")) or None,
            sheet=row.sheet,
            row_no=row.row_no,
        )
        return observation, unit

    def _check_formulas(self, row: UploadRow) -> None:
        for field in FIELDS:
            raw = row.values.get(field)
            if not is_formula(raw):
                continue
            text = clean_text(raw)
            where = f"Ô {row.columns[field]}{row.row_no} ({FIELD_LABELS_VI[field]})"
            shown = text if len(text) <= 60 else text[:59] + "…"
            if text.startswith("="):
                advice = "hãy nhập giá trị số" if field in NUMBER_FIELDS else "hãy nhập trực tiếp nội dung"
                raise _RowRejected(
                    "formula", f"{where} chứa công thức '{shown}'; {advice}, không dùng công thức"
                )
            raise _RowRejected(
                "formula",
                f"{where} bắt đầu bằng '{text[0]}' nên bảng tính sẽ hiểu là công thức ('{shown}'); "
                "hãy xóa ký tự này ở đầu ô",
            )

    def _unit(self, row: UploadRow, sheet_unit: str | None) -> UnitRef:
        code = (row.text("unit_code") or sheet_unit or (self.reporter.code if self.reporter else "")).upper()
        if not code:
            raise _RowRejected("missing_unit", "Thiếu mã đơn vị")
        candidates = _code_candidates(code)
        unit = next((u for c in candidates if (u := self.catalogue.unit(c, self.period))), None)
        if unit is None:
            versions = next((v for c in candidates if (v := self.catalogue.unit_versions(c))), ())
            if versions:
                raise _RowRejected("unit_not_valid", self._not_valid_reason(versions))
            raise _RowRejected(
                "unknown_unit",
                f"Mã đơn vị '{code}' không có trong danh mục đơn vị hành chính của kỳ {self.period.id}",
            )
        if self.reporter and not self.catalogue.may_report_for(self.reporter, unit, self.period):
            raise _RowRejected(
                "unit_not_allowed",
                f"Đơn vị '{self.reporter.code}' ({self.reporter.name}) không được báo cáo thay cho đơn vị "
                f"'{unit.code}' ({unit.name})",
            )
        return unit

    def _not_valid_reason(self, versions: tuple[UnitRef, ...]) -> str:
        """Why no version of a code exists in the period, and who reports instead."""
        start, end = self.period.window("decree09")
        window = f"kỳ {self.period.id} ({_date_vn(start)} - {_date_vn(end)})"
        later = [v for v in versions if v.valid_from > end]
        if later:
            unit = later[0]
            text = f"{unit.name} ({unit.code}) bắt đầu hoạt động từ {_date_vn(unit.valid_from)}, sau {window}"
            others = self.catalogue.predecessors(unit)
            if others:
                text += f"; số liệu của kỳ này báo cáo theo đơn vị cũ: {_names(others)}"
            return text
        # No version overlaps the window and none starts after it: the latest one has ended.
        unit = versions[-1]
        ended = unit.valid_to + timedelta(days=1)
        text = f"{unit.name} ({unit.code}) đã kết thúc hoạt động từ {_date_vn(ended)}, trước {window}"
        others = self.catalogue.successors(unit)
        if others:
            text += f"; số liệu từ ngày {_date_vn(ended)} báo cáo theo {_names(others)}"
        return text

    def _check_registry(self, unit: UnitRef, indicator: Indicator, denominator: Decimal | None) -> None:
        known = registry_denominator(self.catalogue, unit, indicator.code, self.period)
        if known is None or denominator is None or denominator == known:
            return
        level = LEVEL_MEMBERS_VI[REGISTRY_DENOMINATORS[indicator.code]]
        day = _registry_day(unit, self.period)
        raise _RowRejected(
            "denominator_not_registry",
            f"Mẫu số (số {level}) là {_vn(denominator)} nhưng {unit.name} có {known} {level} "
            f"theo danh mục đơn vị hành chính (ngày {_date_vn(day)})",
        )

    def _check_period(self, row: UploadRow, sheet_period: str | None) -> None:
        written = row.text("period")
        raw = written or sheet_period
        if not raw:
            return
        where = "của dòng" if written else "ghi ở đầu trang tính"
        try:
            found = periods.parse(find_period(raw))
        except periods.PeriodError:
            raise _RowRejected(
                "bad_period",
                f"Kỳ báo cáo '{raw}' {where} không đúng định dạng (ví dụ đúng: {self.period.id})",
            ) from None
        if found != self.period:
            raise _RowRejected(
                "period_mismatch", f"Kỳ báo cáo {where} ({found.id}) khác kỳ của tệp ({self.period.id})"
            )

    def _indicator(self, row: UploadRow, unit: UnitRef) -> Indicator:
        code = row.text("indicator_code").upper()
        if not code:
            raise _RowRejected("missing_indicator", "Thiếu mã chỉ tiêu")
        indicator = self.catalogue.indicator(code, self.period)
        if indicator is None and self.catalogue.indicator_versions(code):
            raise _RowRejected(
                "indicator_not_applicable",
                f"Chỉ tiêu '{code}' không thuộc danh mục chỉ tiêu áp dụng cho kỳ {self.period.id}",
            )
        if indicator is None:
            raise _RowRejected("unknown_indicator", f"Mã chỉ tiêu '{code}' không có trong danh mục chỉ tiêu")
        if not indicator.is_upload:
            source = SOURCES_VI.get(indicator.source, indicator.source)
            raise _RowRejected(
                "indicator_not_uploadable",
                f"Chỉ tiêu '{code}' được lấy tự động từ {source}; "
                "đơn vị không nộp chỉ tiêu này qua tệp báo cáo",
            )
        if indicator not in self.catalogue.applicable(unit, self.period):
            level = LEVELS_VI.get(unit.level, unit.level)
            raise _RowRejected("indicator_not_applicable", f"Chỉ tiêu '{code}' không áp dụng cho {level}")
        return indicator

    def _check_duplicate(self, row: UploadRow, unit: UnitRef, indicator: Indicator) -> None:
        first = self.seen.setdefault((unit.code, indicator.code), row)
        if first is row:
            return
        where = f"dòng {first.row_no}" + (
            f" của trang tính '{first.sheet}'" if first.sheet != row.sheet else ""
        )
        raise _RowRejected(
            "duplicate",
            f"Trùng với {where} (cùng đơn vị '{unit.code}' và chỉ tiêu '{indicator.code}'); "
            "chỉ dòng đầu tiên được nhận",
        )

    def _numbers(
        self, row: UploadRow, indicator: Indicator
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        numbers: dict[str, Decimal | None] = {}
        for field in NUMBER_FIELDS:
            label = FIELD_LABELS_VI[field]
            raw = row.values.get(field)
            if indicator.is_flag and is_not_achieved(raw):
                numbers[field] = Decimal(0)  # a yes/no answer: "không" is "chưa đạt"
                continue
            if indicator.is_flag and is_no_data(raw):
                raise _RowRejected(
                    "not_a_number",
                    f"{label}: '{clean_text(raw)}' không cho biết đạt hay chưa đạt: hãy nhập 1 (đạt), "
                    "0 (chưa đạt) hoặc 'không có số liệu'",
                )
            try:
                number = parse_number(raw)
            except CellError as exc:
                raise _RowRejected(exc.code, f"{label}: {exc.reason_vi}") from None
            if number is not None and number < 0:
                raise _RowRejected("negative", f"{label} ({_vn(number)}) là số âm")
            numbers[field] = number
        numerator, denominator, value = numbers["numerator"], numbers["denominator"], numbers["value"]
        if indicator.is_flag:
            return _flag(value)
        return _percent(numerator, denominator, value)


def registry_denominator(
    catalogue: Catalogue, unit: UnitRef, indicator_code: str, period: periods.Period
) -> int | None:
    """The denominator the unit registry fixes for ``indicator_code`` (None when it knows none).

    It counts the units of the indicator's level under ``unit`` on the last day of the period's
    Decree 09 window on which ``unit`` exists (a district in 2025S2: 30 June 2025).
    """
    level = REGISTRY_DENOMINATORS.get(indicator_code)
    if level is None:
        return None
    return len(catalogue.members(unit, level, _registry_day(unit, period)))


def _registry_day(unit: UnitRef, period: periods.Period) -> date:
    _, end = period.window("decree09")
    return min(end, unit.valid_to or end)


def _code_candidates(code: str) -> list[str]:
    """``code`` and, for digits Excel may have stripped of leading zeros, its 2-, 3- and 5-digit forms."""
    candidates = [code]
    if code.isdigit():
        candidates += [code.zfill(width) for width in (2, 3, 5) if code.zfill(width) != code]
    return candidates


def period_from_rows(parsed: ParsedUpload) -> str | None:
    """The period the rows' ``Kỳ báo cáo`` column gives, for a file without a ``Kỳ báo cáo:`` line.

    Every readable row period counts; the period of most rows is the file's (the others are then
    rejected as ``period_mismatch``); a tie is refused, None when no row names a period.
    """
    counts: Counter[str] = Counter()
    for row in parsed.rows:
        if row.text("period"):
            try:
                counts[periods.parse(find_period(row.text("period"))).id] += 1
            except periods.PeriodError:
                continue
    return _most_rows(counts, "kỳ báo cáo", "Kỳ báo cáo: 2025S1", "no_period")


def unit_from_rows(parsed: ParsedUpload, catalogue: Catalogue, period_id: str) -> str | None:
    """The uploading unit the rows' ``Mã đơn vị`` column gives, for a file without a ``Đơn vị:`` line.

    A single unit is the uploader; so is the one unit that may report for every other unit named
    (a district with its communes). Otherwise the unit of most rows is (the others are rejected
    as ``unit_not_allowed``); a tie is refused, None when no row names a known unit.
    """
    counts: Counter[str] = Counter()
    found: dict[str, UnitRef] = {}
    for row in parsed.rows:
        code = row.text("unit_code").upper()
        unit = next((u for c in _code_candidates(code) if (u := catalogue.unit(c, period_id))), None)
        if code and unit is not None:
            counts[unit.code] += 1
            found[unit.code] = unit
    for reporter in found.values():
        if len(found) > 1 and all(catalogue.may_report_for(reporter, u, period_id) for u in found.values()):
            return reporter.code
    return _most_rows(counts, "đơn vị", "Đơn vị: 024 - Thành phố Hà Giang", "unknown_uploader")


def _most_rows(counts: Counter[str], what: str, line: str, code: str) -> str | None:
    ranked = counts.most_common()
    if not ranked:
        return None
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        shown = ", ".join(f"{value}: {n} dòng" for value, n in ranked)
        raise UploadError(
            f"Tệp không có dòng '{line}' ở đầu biểu mẫu và các dòng ghi {what} khác nhau với số dòng "
            f"bằng nhau ({shown}): không xác định được {what} của tệp; hãy ghi '{line}' ở đầu biểu mẫu "
            "hoặc tách thành các tệp riêng",
            code,
        )
    return ranked[0][0]


def _names(units: list[UnitRef]) -> str:
    return " và ".join(f"{u.name} ({u.code})" for u in units)


def _says_no_data(row: UploadRow, indicator: Indicator) -> bool:
    """True for a "no data" row (rules in the module docstring)."""
    filled = [raw for f in NUMBER_FIELDS if clean_text(raw := row.values.get(f))]
    if not filled or not all(is_no_data(raw) for raw in filled):
        return False
    return not indicator.is_flag or any(is_no_data_phrase(raw) for raw in filled)


def _check_lengths(row: UploadRow) -> None:
    """Refuse a row with a cell longer than Excel's limit, rather than cut the cell anywhere."""
    for index, text in enumerate(row.cells):
        if len(text) > MAX_CELL_CHARS:
            raise _RowRejected(
                "cell_too_long",
                f"Ô {get_column_letter(index + 1)}{row.row_no} dài {_thousands(len(text))} ký tự, "
                f"vượt giới hạn {_thousands(MAX_CELL_CHARS)} ký tự của một ô; hãy rút gọn nội dung "
                "(ghi chú dài xin gửi thành văn bản kèm theo) rồi nộp lại",
            )


def _thousands(number: int) -> str:
    """32767 -> '32.767', as Vietnamese texts group thousands."""
    return f"{number:,}".replace(",", ".")


def _flag(value: Decimal | None) -> tuple[Decimal, Decimal, Decimal]:
    if value is None:
        raise _RowRejected(
            "missing_value", "Chỉ tiêu đạt/chưa đạt: hãy nhập 1 (đạt) hoặc 0 (chưa đạt) vào cột Giá trị"
        )
    if value not in (0, 1):
        raise _RowRejected(
            "value_out_of_range",
            f"Chỉ tiêu đạt/chưa đạt chỉ nhận 1 (đạt) hoặc 0 (chưa đạt), không nhận {_vn(value)}",
        )
    return Decimal(int(value)), Decimal(1), Decimal(int(value))


def _percent(
    numerator: Decimal | None, denominator: Decimal | None, value: Decimal | None
) -> tuple[Decimal, Decimal, Decimal | None]:
    if numerator is None or denominator is None:
        missing = " và ".join(
            label for label, number in (("tử số", numerator), ("mẫu số", denominator)) if number is None
        )
        raise _RowRejected("missing_numbers", f"Thiếu {missing}; chỉ tiêu tỷ lệ cần cả tử số và mẫu số")
    for label, number in (("Tử số", numerator), ("Mẫu số", denominator)):
        if number != number.to_integral_value():
            raise _RowRejected(
                "not_whole_number",
                f"{label} ({_vn(number)}) phải là số nguyên (số người, số hồ sơ...); "
                "nếu là số hàng nghìn hãy viết liền, ví dụ 1234",
            )
    if denominator == 0 and numerator > 0:
        raise _RowRejected("zero_denominator", f"Mẫu số bằng 0 nhưng tử số là {_vn(numerator)}")
    if numerator > denominator:
        raise _RowRejected(
            "numerator_gt_denominator", f"Tử số ({_vn(numerator)}) lớn hơn mẫu số ({_vn(denominator)})"
        )
    if value is not None and value > 100:
        raise _RowRejected(
            "value_out_of_range", f"Giá trị ({_vn(value)}) phải nằm trong khoảng 0 đến 100 (%)"
        )
    if denominator == 0:
        return numerator, denominator, None
    computed = numerator * 100 / denominator
    if value is not None and abs(value - computed) > MISMATCH_TOLERANCE:
        shown = _vn(computed.quantize(Decimal("0.01"), ROUND_HALF_UP))
        raise _RowRejected(
            "value_mismatch",
            f"Giá trị ({_vn(value)}%) không khớp với tử số/mẫu số "
            f"({_vn(numerator)}/{_vn(denominator)} = {shown}%)",
        )
    return numerator, denominator, computed.quantize(VALUE_PLACES, ROUND_HALF_UP)
