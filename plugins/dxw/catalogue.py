"""The one Python reader of the reviewed catalogues, the dbt seeds (``dbt_project/seeds/*.csv``).

dbt loads the seeds into the warehouse; the Python readers (the upload forms and their checks, the
reporting-system connector, the simulator, the reports) read the same files through this module,
so a seed is parsed one way everywhere: UTF-8, its header naming the columns, every value a string
(an empty cell is ``""``). A versioned catalogue (``indicators.csv``, ``award_rules.csv``) is
narrowed to the version that judges a period with :func:`in_force`
(:mod:`dxw.catalogue_versions`, the rule of the dbt macro ``catalogue_version``).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from dxw import catalogue_versions, periods
from dxw.settings import get_settings


def seeds_dir(folder: Path | str | None = None) -> Path:
    """``folder``, or the seeds of the configured dbt project."""
    return Path(folder) if folder else get_settings().dbt_project_dir / "seeds"


def rows(name: str, folder: Path | str | None = None) -> list[dict[str, str]]:
    """The rows of seed ``name`` (``indicators``, ``units``, ...) as dictionaries by column."""
    with (seeds_dir(folder) / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def header(name: str, folder: Path | str | None = None) -> list[str]:
    """The columns of seed ``name``, in file order."""
    with (seeds_dir(folder) / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def in_force(
    name: str, key: str, period: str | periods.Period, folder: Path | str | None = None
) -> list[dict[str, str]]:
    """Of versioned seed ``name``, each ``key``'s version that judges ``period`` (valid at its
    cut-off), in the order the keys first appear."""
    return catalogue_versions.in_force(
        rows(name, folder),
        lambda row: row[key],
        lambda row: date.fromisoformat(row["valid_from"]) if row.get("valid_from") else None,
        catalogue_versions.cutoff(period),
    )
