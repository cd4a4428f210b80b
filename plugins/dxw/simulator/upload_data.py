"""Filled upload forms, as the reporting units would send them, for demos, drills and tests.

For a unit and half-year the form from ``dxw upload template`` is filled with deterministic
figures that move towards the plan's 2025 targets. Variants show what real files look like:
``messy`` writes the numbers as text the Vietnamese way (``12.345``, ``85,5 %``)
under an extra title row, ``with_errors`` adds a numerator above its denominator and an
indicator code that does not exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from openpyxl import load_workbook

from dxw.intake.uploads import load_catalogue, write_template
from dxw.intake.uploads.template import HEADER_ROW
from dxw.intake.uploads.validate import registry_denominator
from dxw.periods import Period, parse
from dxw.simulator import submissions
from dxw.simulator.portal_data import _rng, _step
from dxw.simulator.reorganisation import exists_at_cutoff
from dxw.units import legacy_units

# Numerator/denominator scale and where the share heads by 2025S2, per indicator (low, high).
_SCALE = {
    "DIST_HOUSEHOLD_BROADBAND": (9000, 40000),
    "DIST_COMMUNE_BROADBAND": (12, 25),
    "DIST_ECOMMERCE_PRODUCTS": (20, 120),
    "DIST_DIGITAL_BUSINESSES": (150, 900),
    "DIST_EPAYMENT_ACCOUNTS": (30000, 120000),
    "DEPT_DIGITAL_INSPECTIONS": (10, 80),
}


def figures(
    unit_code: str, indicator_code: str, period: Period, denominator: int | None = None
) -> tuple[int, int] | int:
    """(numerator, denominator) of a ratio indicator, or 0/1 for a flag.

    ``denominator`` is the one the unit registry fixes (a district's communes), when it does.
    """
    base = _rng(unit_code, "upload", indicator_code)
    rng = _rng(unit_code, "upload", indicator_code, period.id)
    if indicator_code not in _SCALE:
        return int(_step(period) > base.uniform(0.3, 1.1))
    # Drawn even when the registry fixes the denominator, so the share's draws stay the same.
    scaled = round(base.randint(*_SCALE[indicator_code]) * rng.uniform(0.97, 1.03))
    denominator = scaled if denominator is None else denominator
    start, goal = base.uniform(0.2, 0.5), base.uniform(0.6, 1.0)
    share = min(1.0, max(0.0, start + (goal - start) * _step(period) + rng.uniform(-0.03, 0.03)))
    return round(denominator * share), denominator


def _text(number: int) -> str:
    """12345 -> '12.345' (Vietnamese thousands separator); a zero stays '0' ("không có" is "no data")."""
    return f"{number:,}".replace(",", ".")


def write_filled(path: Path, unit_code: str, period_id: str, variant: str = "clean") -> Path:
    """A unit's filled form for a half-year (``clean``, ``messy`` or ``with_errors``)."""
    period = parse(period_id)
    catalogue = load_catalogue()
    unit = catalogue.require_unit(unit_code, period)
    write_template(path, catalogue, unit_code, period.id)
    book = load_workbook(path)
    sheet = book.active
    last = HEADER_ROW
    for row in range(HEADER_ROW + 1, sheet.max_row + 1):
        code = sheet.cell(row, 3).value
        if not code:
            continue
        last = row
        value = figures(unit_code, code, period, registry_denominator(catalogue, unit, code, period))
        if isinstance(value, tuple):
            numerator, denominator = value
            if variant == "messy":
                sheet.cell(row, 6).value = _text(numerator)
                sheet.cell(row, 7).value = _text(denominator)
                sheet.cell(row, 8).value = f"{100 * numerator / denominator:.1f} %".replace(".", ",")
            else:
                sheet.cell(row, 6).value = numerator
                sheet.cell(row, 7).value = denominator
        else:
            sheet.cell(row, 8).value = value
    if variant == "messy":
        sheet.insert_rows(1)
        sheet["A1"] = "UBND TỈNH HÀ GIANG - CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    if variant == "with_errors":
        first = HEADER_ROW + 1
        sheet.cell(first, 6).value = (sheet.cell(first, 7).value or 0) + 7
        for column, value in enumerate(
            (unit_code, "", "DIST_SMART_TOURISM", "Du lịch thông minh", period.id, 5, 10), 1
        ):
            sheet.cell(last + 1, column).value = value
    book.save(path)
    return path


def drop_uploads(inbox: Path, period_id: str) -> list[Path]:
    """Put the districts' forms for ``period_id`` in the inbox, as the districts would.

    One district writes its numbers the messy way and one makes two mistakes, so a run shows a
    clean load, a messy file read correctly and a rejection report. Each file arrives when the
    district submits (``simulator.submissions``: its modification time is the arrival); the
    districts that never submit have no file. A half-year whose cut-off falls after the districts
    ceased (1 July 2025) has no district form.
    """
    period = parse(period_id)
    districts = sorted(
        u.code for u in legacy_units() if u.level == "district" and exists_at_cutoff(u, period)
    )
    written = []
    for number, code in enumerate(districts):
        sent = submissions.submitted_at(code, period)
        if sent is None:
            continue
        variant = "messy" if number == 1 else ("with_errors" if number == 2 else "clean")
        folder = inbox / code
        folder.mkdir(parents=True, exist_ok=True)
        path = write_filled(folder / f"bao-cao-{code}-{period.id}.xlsx", code, period.id, variant)
        os.utime(path, (sent.timestamp(), sent.timestamp()))
        written.append(path)
    return written
