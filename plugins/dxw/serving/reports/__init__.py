"""Reports for people: the semi-annual report (HTML and Excel) from the published marts.

``write_report`` (in :mod:`dxw.serving.reports.semiannual`) is the entry point; it is exposed here
lazily so that importing the formatting helpers below pulls in no database driver.
Numbers are written the Vietnamese way: ``.`` groups thousands, ``,`` marks decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "ReportError",
    "ReportFiles",
    "ReportNotPublished",
    "vn_change",
    "vn_number",
    "vn_percent",
    "write_report",
]


def vn_number(value: float | Decimal | int | None, digits: int = 0, missing: str = "-") -> str:
    """``1234.5`` -> ``1.234,5`` (``digits`` decimals, rounded half up)."""
    if value is None:
        return missing
    exponent = Decimal(1).scaleb(-digits)
    rounded = Decimal(str(value)).quantize(exponent, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    text = f"{rounded:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def vn_percent(value: float | Decimal | int | None, digits: int = 1, missing: str = "-") -> str:
    """``85.5`` -> ``85,5 %`` (the value is already in percent)."""
    return missing if value is None else f"{vn_number(value, digits)} %"


def vn_change(value: float | Decimal | int | None, digits: int = 2, missing: str = "") -> str:
    """A change in percentage points with its sign: ``6.86`` -> ``+6,86``."""
    if value is None:
        return missing
    text = vn_number(value, digits)
    return text if text.startswith("-") or set(text) <= {"0", ","} else f"+{text}"


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from dxw.serving.reports.semiannual import write_report

        return write_report
    if name in {"ReportFiles", "ReportError", "ReportNotPublished"}:
        from dxw.serving.reports import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
