"""The simulated sources answer for any half-year up to the current one, as real sources do (issue 16).

Scheduled ingestion pulls the current and previous half-years by the clock: on 1 December 2026
that is 2026S1 and 2026S2, which the simulator once refused (HTTP 409), failing every scheduled run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import requests

from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import dhis2_data, dms_data, portal_data
from dxw.sources import dhis2, dms, portal

TODAY = date(2026, 12, 1)


@pytest.fixture
def on_2026_12_01(monkeypatch):
    monkeypatch.setattr(portal_data, "today", lambda: TODAY)


@pytest.fixture
def settings():
    return replace(get_settings(), http_timeout_read=5.0, http_retries=1)


@pytest.mark.parametrize("period_id", ["2026S1", "2026S2"])
def test_every_source_serves_the_half_years_a_scheduled_run_pulls(
    on_2026_12_01, settings, simulator, period_id
):
    period = parse(period_id)
    progress = portal.fetch(settings, simulator.url, portal.ENDPOINTS[0], period).records
    dossiers = dms.fetch(settings, simulator.url, period).records
    values = dhis2.fetch(settings, simulator.url, period).records
    # After the 1 July 2025 reorganisation the province reports its new bodies and communes: the
    # same units as in 2025S2's last months, every month of the half-year.
    december_2025 = portal_data.rows(portal.ENDPOINTS[0].name, parse("202512"))
    assert len(progress) == 6 * len(december_2025)
    assert {r["requestYear"] for r in progress} == {2026}
    new_units = {u.code for u in dms_data.dms_units(parse("2025S2")) if u.is_current}
    assert len(dossiers) == len(new_units) > 50
    assert all(r["dossiersTotal"] > 0 for r in dossiers)
    assert len(values) == len(dhis2_data.data_values(period)) > 0


def test_figures_of_a_new_half_year_are_the_same_on_every_pull(on_2026_12_01, settings, simulator):
    first = dms.fetch(settings, simulator.url, parse("2026S2")).records
    again = dms.fetch(settings, simulator.url, parse("2026S2")).records
    previous = dms.fetch(settings, simulator.url, parse("2026S1")).records
    assert first == again
    assert first != previous  # each half-year has figures of its own


def test_a_half_year_that_has_not_begun_has_no_figures_yet(on_2026_12_01, settings, simulator):
    # 2027S1's Decree 09 window opens on 15 December 2026; its months are in 2027.
    assert portal_data.holds(parse("2026S2"))
    assert not portal_data.holds(parse("2027S1"))
    assert portal_data.holds(parse("2027S1"), on=date(2026, 12, 15))
    future = parse("2027S1")
    answer = requests.get(
        f"{simulator.url}/api/dms/v1/work-dossier-stats", params={"period": "2027S1"}, timeout=5
    )
    assert answer.status_code == 200
    assert answer.json()["total"] == 0
    assert dhis2_data.data_values(future) == []
    body = {"timeType": "month", "year": 2027, "month": 1}
    answer = requests.post(f"{simulator.url}{_portal_path()}", json=body, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["data"]["totalElements"] == 0


def test_years_before_the_programme_are_refused(simulator):
    body = {"timeType": "month", "year": 2021, "month": 12}
    answer = requests.post(f"{simulator.url}{_portal_path()}", json=body, timeout=5)
    assert answer.status_code in (400, 409)
    assert "year must be an integer from 2022" in answer.text


def _portal_path() -> str:
    from dxw.simulator.server import PORTAL_PREFIX

    return PORTAL_PREFIX + portal.ENDPOINTS[0].name
