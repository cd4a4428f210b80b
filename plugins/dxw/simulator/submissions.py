"""When the simulated units submit their half-year reports (Plan 86 VI.6): a documented schedule.

The warehouse assumes a report is due 5 days after the Decree 09 cut-off (14 June, 14
December; seed ``reporting_deadlines``). Every half-year, the simulated units keep to this:

- the districts in :data:`MISSING` send no form at all;
- the units in :data:`LATE` submit :data:`LATE_DAYS` days after the cut-off, past the deadline;
- every other department and district submits 1 to 4 days after the cut-off, between 08:00
  and 16:59 Hà Giang time (on time).

Departments submit through the reporting system (their data set's values carry the time as
``lastUpdated``), districts by dropping their form in the upload inbox (the file's arrival time).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from dxw.periods import Period
from dxw.settings import get_settings
from dxw.simulator.portal_data import _rng

LATE = frozenset({"02.SXD", "02.HND", "031"})
MISSING = frozenset({"035"})
LATE_DAYS = 9


def submitted_at(unit_code: str, period: Period) -> datetime | None:
    """When ``unit_code`` submits its report for ``period`` (local time), or None if it never does."""
    if unit_code in MISSING:
        return None
    cutoff = period.window("decree09")[1]
    rng = _rng(unit_code, "submission", period.id)
    days = LATE_DAYS if unit_code in LATE else rng.randint(1, 4)
    moment = time(rng.randint(8, 16), rng.randint(0, 59))
    return datetime.combine(cutoff + timedelta(days=days), moment, tzinfo=get_settings().zone)
