"""Reading one spreadsheet cell: numbers written the Vietnamese way, text keys and formulas.

Number rules (:func:`parse_number`):

* blank (None, empty or whitespace only) is *missing* and gives None;
* ``int`` and ``Decimal`` are taken as they are; ``float`` goes through ``repr`` so ``0.1`` stays
  exactly ``0.1``; NaN, infinity, booleans and dates are refused (Excel turns ``1.5`` typed in a
  Vietnamese locale into 1 May, so a date in a number column is a typing accident, not a number);
* text is NFC-normalised and trimmed. A "no data" answer is not a number (:func:`is_no_data`): the
  short marks clerks write for "nothing to report" (:data:`NO_DATA_MARKS`: ``không có``, ``không``,
  ``-``, en/em dashes, ``x``) and the explicit phrases (:data:`NO_DATA_PHRASES`: ``không có số
  liệu``, ``N/A``, ``#N/A``...), any case, with or without accents, NFC or NFD. A row whose figures
  all say so is a "no data" answer (see ``validate``); such a word beside a real figure in the same
  row is refused with code ``not_a_number``. None of them is ever read as zero (issue 14: a unit
  that wrote ``không có`` had landed a 0/0 that looked like a report). In a yes/no cell (đạt/chưa
  đạt) the marks ``không có``, ``không`` and dashes keep meaning "not achieved"
  (:func:`is_not_achieved`), which ``validate`` reads as 0;
* a trailing percent sign is dropped: ``85,5 %`` is 85.5 (percentage points);
* separators, Vietnamese convention first:

  - both ``.`` and ``,``: the last one is the decimal separator and the other groups thousands
    (``1.234,5`` and ``1,234.5`` are both 1234.5);
  - only commas: a single comma is a decimal comma (``85,5`` is 85.5 and ``1,234`` is 1.234);
    several commas group thousands (``1,234,567``);
  - only dots: several dots group thousands (``1.234.567``); a single dot followed by exactly three
    digits, after one to three digits not starting with 0, groups thousands (``1.234`` is 1234,
    ``85.500`` is 85500, but ``0.234`` is 0.234); any other single dot is a decimal point
    (``85.5``, ``1.23``, ``1234.567``);
  - spaces (also non-breaking and thin spaces) group thousands in groups of three (``1 234 567``);
  - irregular grouping (``1.23.456``, ``12,34,567``) is refused rather than guessed;

* a leading ``-`` or ``+`` followed by a number is a sign. Any other text starting with ``=``,
  ``+``, ``-`` or ``@`` is a formula or a spreadsheet-injection payload (``=cmd|' /C calc'!A0``):
  :func:`is_formula` flags it and :func:`parse_number` refuses it with code ``formula``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

# Folded short marks for "nothing to report" in a number cell: never a zero.
NO_DATA_MARKS = frozenset({"khong co", "khong", "-", "–", "—", "x"})
# Folded phrases saying that the figure is not known; Excel's #N/A is one of them.
NO_DATA_PHRASES = frozenset(
    {
        "khong co so lieu",
        "chua co so lieu",
        "khong co du lieu",
        "chua co du lieu",
        "khong so lieu",
        "khong ap dung",
        "n/a",
        "#n/a",
    }
)
# Folded answers meaning "not achieved" in a yes/no cell (``x`` is not one: it often ticks a box).
NOT_ACHIEVED_WORDS = frozenset({"khong co", "khong", "-", "–", "—"})
_FORMULA_PREFIXES = ("=", "+", "-", "@")
_SPACES = "\u0020\u00a0\u2009\u202f"
_SPACE_GROUPED = re.compile(rf"[0-9]{{1,3}}(?:[{_SPACES}][0-9]{{3}})+(?:[.,][0-9]+)?")
_PLAIN = re.compile(r"[0-9]+(?:[.,][0-9]+)*")


class CellError(ValueError):
    """A cell that cannot be read as the number it should hold; ``reason_vi`` is for the unit."""

    def __init__(self, reason_vi: str, code: str) -> None:
        super().__init__(reason_vi)
        self.reason_vi = reason_vi
        self.code = code


def clean_text(value: object) -> str:
    """``value`` as NFC text without invisible format characters and with single spaces."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def fold(value: object) -> str:
    """A comparison key: lower case, no accents (``đ`` -> ``d``), single spaces; NFC/NFD-insensitive."""
    text = unicodedata.normalize("NFD", clean_text(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("đ", "d").replace("Đ", "D").casefold()


def decimal_text(number: Decimal) -> str:
    """``Decimal('85.500')`` -> ``'85.5'``, never in exponent notation."""
    text = format(number.normalize(), "f")
    return "0" if text in {"-0", "+0"} else text


def cell_text(value: object) -> str:
    """A cell value as the text a clerk would recognise (for reports and messages)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and math.isfinite(value):
        return decimal_text(Decimal(repr(value)))
    if isinstance(value, Decimal) and value.is_finite():
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return clean_text(value)


def is_formula(value: object) -> bool:
    """True for a formula or a text that a spreadsheet would run as one (``=``, ``+``, ``-``, ``@``)."""
    if not isinstance(value, str):
        return False
    text = value.lstrip(f"{_SPACES}\t\r\n")
    if text.startswith("="):
        return True
    if not text.startswith(_FORMULA_PREFIXES[1:]):
        return False
    return fold(text) not in NO_DATA_MARKS and _number_text(text) is None


def _folded_answer(value: object) -> str | None:
    return fold(value).rstrip(".;:!") if isinstance(value, str) else None


def is_no_data(value: object) -> bool:
    """True for a "no data" mark or phrase (``không có``, ``-``, ``x``, ``N/A``...)."""
    folded = _folded_answer(value)
    return folded is not None and (folded in NO_DATA_MARKS or folded in NO_DATA_PHRASES)


def is_no_data_phrase(value: object) -> bool:
    """True for an explicit "no data" phrase (``không có số liệu``, ``N/A``), not a short mark."""
    return _folded_answer(value) in NO_DATA_PHRASES


def is_not_achieved(value: object) -> bool:
    """True for a yes/no answer meaning "not achieved" (``không``, ``không có``, ``-``)."""
    return _folded_answer(value) in NOT_ACHIEVED_WORDS


def parse_number(raw: object) -> Decimal | None:
    """A cell as a number, None when blank; raises :class:`CellError` with a Vietnamese reason."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise CellError(f"'{cell_text(raw)}' không phải là số", "not_a_number")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise CellError(f"'{raw}' không phải là số", "not_a_number")
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise CellError(f"'{raw}' không phải là số", "not_a_number")
        return raw
    if isinstance(raw, date | datetime | time):
        raise CellError(
            f"ô chứa ngày tháng ({cell_text(raw)}), không phải số; Excel có thể đã tự đổi số bạn gõ thành "
            "ngày, hãy định dạng ô là Số (Number) rồi nhập lại",
            "not_a_number",
        )
    text = clean_text(raw)
    if not text:
        return None
    if is_no_data(text):
        raise CellError(
            f"'{_shorten(text)}' chỉ dùng khi cả dòng không có số liệu: hãy ghi như vậy ở cả tử số và "
            "mẫu số (hoặc ở ô Giá trị của chỉ tiêu đạt/chưa đạt), hoặc nhập số (số 0 thì nhập 0)",
            "not_a_number",
        )
    if text.startswith("="):
        raise CellError(f"ô chứa công thức '{_shorten(text)}'; hãy nhập giá trị số", "formula")
    number = _number_text(text)
    if number is None:
        if text.startswith(_FORMULA_PREFIXES):
            raise CellError(f"ô chứa công thức '{_shorten(text)}'; hãy nhập giá trị số", "formula")
        raise CellError(f"'{_shorten(text)}' không phải là số (ví dụ đúng: 1234 hoặc 85,5)", "not_a_number")
    try:
        return Decimal(number)
    except InvalidOperation as exc:
        raise CellError(f"'{_shorten(text)}' không phải là số", "not_a_number") from exc


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number_text(text: str) -> str | None:
    """``text`` rewritten as a plain decimal literal (``-1234.5``), or None if it is not a number."""
    body = text.strip()
    if body.endswith("%"):
        body = body[:-1].rstrip()
    sign = ""
    if body[:1] in {"+", "-"}:
        sign, body = body[0], body[1:].lstrip()
    if any(space in body for space in _SPACES):
        if not _SPACE_GROUPED.fullmatch(body):
            return None
        body = "".join(ch for ch in body if ch not in _SPACES)
    if not _PLAIN.fullmatch(body):
        return None
    plain = _ungroup(body)
    return None if plain is None else sign + plain


def _grouped(text: str, separator: str) -> bool:
    return re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(separator)}[0-9]{{3}})+", text) is not None


def _ungroup(body: str) -> str | None:
    """Apply the separator rules of the module docstring to digits, dots and commas."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        cut = max(body.rfind("."), body.rfind(","))
        decimal_mark, group_mark = body[cut], "," if body[cut] == "." else "."
        whole, fraction = body[:cut], body[cut + 1 :]
        if decimal_mark in whole or not _grouped(whole, group_mark):
            return None
        return f"{whole.replace(group_mark, '')}.{fraction}"
    if commas == 1:
        return body.replace(",", ".")
    if commas > 1:
        return body.replace(",", "") if _grouped(body, ",") else None
    if dots > 1:
        return body.replace(".", "") if _grouped(body, ".") else None
    if dots == 1:
        whole, fraction = body.split(".")
        if len(fraction) == 3 and len(whole) <= 3 and not whole.startswith("0"):
            return whole + fraction
    return body
