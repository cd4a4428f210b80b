"""The portal connector against the simulator over real HTTP, with the simulator's faults."""

import json
from dataclasses import replace

import pytest
import requests

from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import portal_data
from dxw.sources import portal

PROGRESS = portal.ENDPOINTS[0]
ONLINE = portal.ENDPOINTS[1]


@pytest.fixture
def settings():
    return replace(get_settings(), http_timeout_read=1.0, http_retries=3, portal_page_size=50)


@pytest.fixture
def sim(simulator):
    simulator.clear_faults()
    yield simulator
    simulator.clear_faults()


def test_fetches_every_agency_across_pages(settings, sim):
    delivery = portal.fetch(settings, sim.url, PROGRESS, parse("2025S1"))
    records = delivery.records
    # 193 communes, 11 districts and the 27 provincial bodies serving the public that existed in
    # 2025S1's window (15 Dec 2024 - 14 Jun 2025): the 23 of 2024, some merged on 1 March 2025
    # (Decree 45/2025), and 4 created in 2025: Nông nghiệp và Môi trường, Dân tộc và Tôn giáo, the
    # regional tax and social-security offices (data/provincial_bodies.csv).
    assert len(records) == len(portal_data.portal_units(parse("2025S1"))) == 193 + 11 + 27
    assert len({r["departmentCode"] for r in records}) == 231
    assert all(r["totalOnTime"] + r["totalOverdue"] == r["totalCompleted"] for r in records)
    # Every page is kept verbatim: its records are exactly the records delivered.
    assert len(delivery.documents) == 5
    assert [r for d in delivery.documents for r in json.loads(d.content)["data"]["content"]] == records
    assert {d.media_type for d in delivery.documents} == {"application/json"}


def test_answers_are_deterministic(settings, sim):
    first = portal.fetch(settings, sim.url, ONLINE, parse("2024S2"))
    again = portal.fetch(settings, sim.url, ONLINE, parse("2024S2"))
    assert first == again
    later = portal.fetch(settings, sim.url, ONLINE, parse("2025S1"))
    assert first != later


def test_year_is_the_sum_of_its_halves(settings, sim):
    def totals(period_id):
        return {
            r["departmentCode"]: r["totalReceived"]
            for r in portal.fetch(settings, sim.url, PROGRESS, parse(period_id)).records
        }

    year, h1, h2 = totals("2024"), totals("2024S1"), totals("2024S2")
    assert all(year[code] == h1[code] + h2[code] for code in year)


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_transient_faults_are_retried(settings, sim, fault):
    sim.inject(fault, times=2)
    records = portal.fetch(settings, sim.url, PROGRESS, parse("2025S1")).records
    assert len(records) == 231
    assert sim.faults_served == [fault, fault]


def test_persistent_server_errors_fail_loudly(settings, sim):
    sim.inject("500", times=10)
    with pytest.raises(portal.SourceError, match="500"):
        portal.fetch(settings, sim.url, PROGRESS, parse("2025S1"))


def test_renamed_field_breaks_the_contract_and_names_the_difference(settings, sim):
    sim.inject("rename:fullCount")
    with pytest.raises(portal.ContractError) as caught:
        portal.fetch(settings, sim.url, ONLINE, parse("2025S1"))
    message = str(caught.value)
    assert "missing fields ['fullCount']" in message
    assert "unexpected fields ['fullCountV2']" in message


def test_truncated_json_is_refused(settings, sim):
    sim.inject("truncate", times=10)
    with pytest.raises(portal.SourceError):
        portal.fetch(settings, sim.url, PROGRESS, parse("2025S1"))


def test_duplicated_page_is_refused(settings, sim):
    sim.inject("duplicate-page")  # page 1 served as page 1: harmless
    sim.inject("duplicate-page")  # page 2 answered with page 1's records
    with pytest.raises(portal.ContractError, match="appears twice"):
        portal.fetch(settings, sim.url, PROGRESS, parse("2025S1"))


def test_simulator_rejects_bad_requests(sim):
    url = sim.url + portal.PATH + PROGRESS.name
    assert requests.post(url, json={"timeType": "quarter", "year": 2025}, timeout=5).status_code == 400
    assert (
        requests.post(url, json={"timeType": "halfyear", "year": 2019, "half": 1}, timeout=5).status_code
        == 400
    )
    assert requests.post(sim.url + "/nowhere", json={}, timeout=5).status_code == 404
    assert requests.get(sim.url + "/health", timeout=5).json() == {"status": "ok"}


def test_faults_can_be_queued_over_http_for_drills(settings, sim):
    answer = requests.post(sim.url + "/_simulator/faults", json={"fault": "500", "times": 2}, timeout=5)
    assert answer.json() == {"queued": "500", "times": 2}
    assert len(portal.fetch(settings, sim.url, PROGRESS, parse("2025S1")).records) == 231
    assert sim.faults_served == ["500", "500"]
    refused = requests.post(sim.url + "/_simulator/faults", json={"fault": "gremlins"}, timeout=5)
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("spec", "queued"),
    [("429:2", ("429", 2)), ("500", ("500", 1)), ("rename:fullCount", ("rename:fullCount", 1)),
     ("rename:fullCount:3", ("rename:fullCount", 3))],
)  # fmt: skip
def test_serve_reads_fault_specs(spec, queued):
    from dxw.simulator.server import fault_spec

    assert fault_spec(spec) == queued
