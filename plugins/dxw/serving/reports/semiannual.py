"""The semi-annual report of a half-year (Plan 86/KH-UBND, section VI.4-6), in Vietnamese:
:func:`write_report` reads the published marts (:mod:`dxw.serving.reports.queries`) and writes the HTML
page (:mod:`dxw.serving.reports.html`) and the workbook (:mod:`dxw.serving.reports.workbook`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from dxw.serving.reports import html, workbook
from dxw.serving.reports.model import SOURCE_NAMES, ReportFiles, structure_of
from dxw.serving.reports.queries import load
from dxw.settings import Settings

# SOURCE_NAMES (defined with the other labels in model) stays importable from here.
__all__ = ["SOURCE_NAMES", "write_report"]

log = logging.getLogger(__name__)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder: a reader never sees half a report."""
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_report(
    period_id: str, out_dir: Path | str, settings: Settings | None = None, structure: str | None = None
) -> ReportFiles:
    """Write the half-year's report as ``bao-cao-<period>.html`` and ``.xlsx`` into ``out_dir``
    (``bao-cao-<period>-<structure>.*`` when another structure than the period's own is asked)."""
    data = load(period_id, settings, structure=structure)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bao-cao-{data.period.id}"
    if data.structure != structure_of(data.period):
        stem += f"-{data.structure}"
    files = ReportFiles(out / f"{stem}.html", out / f"{stem}.xlsx")
    page = html.render(data)
    _write_atomically(files.html, lambda path: path.write_text(page, encoding="utf-8"))
    book = workbook.build(data)
    _write_atomically(files.xlsx, lambda path: book.save(path))
    log.info(
        "report %s: %d figures, %d award candidates -> %s, %s",
        data.period.id,
        len(data.figures),
        len(data.awards),
        files.html,
        files.xlsx,
    )
    return files
