"""Airflow's own backfill enumerates semiannual_marts runs one per half-year (dry run)."""

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from dxw.orchestration.timetables import HalfYearTimetable

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def airflow(*args: str) -> str:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    result = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_backfill_dry_run_lists_every_half_year_once():
    from dxw.orchestration.dagrun import ensure_metadata_db

    ensure_metadata_db()  # a fresh machine's metadata database may not be migrated yet
    airflow("dags", "reserialize")
    out = airflow(
        "backfill", "create", "--dag-id", "semiannual_marts",
        "--from-date", "2023-01-01", "--to-date", "2025-12-31", "--dry-run",
    )  # fmt: skip
    logical_dates = [
        datetime.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00:00", out)
    ]
    timetable = HalfYearTimetable()
    # Each run's logical date is the start of its half-year's Decree 09 window (00:00 in Hà Nội).
    assert [timetable.period_of_interval(d) for d in logical_dates] == [
        "2023S2", "2024S1", "2024S2", "2025S1", "2025S2", "2026S1",
    ]  # fmt: skip
