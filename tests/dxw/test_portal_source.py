"""The portal connector against the simulator over real HTTP, with the simulator's faults."""

import json
from dataclasses import replace

import pytest
import requests

from dxw.periods import parse
from dxw.settings import get_settings
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


def test_fetches_every_agency_of_every_month_across_pages(settings, sim):
    sim.clear_portal_requests()
    delivery = portal.fetch(settings, sim.url, PROGRESS, parse("2025S1"))
    records = delivery.records
    # 2025S1 is asked for as January..June 2025 (the portal has no half-year). The 193 communes
    # and 11 districts answer every month; the provincial bodies serving the public
    # (data/provincial_bodies.csv) are the 23 of 2024 in January and February, 18 from March
    # (8 merged away on 1 March 2025 by Decree 45/2025, 3 created: Nông nghiệp và Môi trường,
    # Dân tộc và Tôn giáo, the regional tax office), still 18 from April (the social-security
    # office became a regional one on 1 April): 27 distinct bodies over the half-year.
    per_month = [227, 227, 222, 222, 222, 222]
    assert [sum(r["requestMonth"] == m for r in records) for m in range(1, 7)] == per_month
    assert len(records) == sum(per_month) == 1342
    assert len({r["departmentCode"] for r in records}) == 193 + 11 + 27
    assert {(r["requestTimeType"], r["requestYear"]) for r in records} == {("month", 2025)}
    assert all(r["totalOnTime"] + r["totalOverdue"] == r["totalCompleted"] for r in records)
    # Pages of 50: 227 and 222 agencies are 5 pages each, 30 pages in all, every one a request
    # for a calendar month, never a half-year.
    bodies = sim.portal_requests
    assert [(b["month"], b["currentPage"]) for b in bodies] == [
        (m, p) for m in range(1, 7) for p in range(1, 6)
    ]
    assert all(b["timeType"] == "month" and b["year"] == 2025 and "half" not in b for b in bodies)
    # Every page is kept verbatim: its records are exactly the records delivered (without the
    # request's time fields, which landing adds).
    assert len(delivery.documents) == 30
    sent = [r for d in delivery.documents for r in json.loads(d.content)["data"]["content"]]
    assert sent == [{k: v for k, v in r.items() if not k.startswith("request")} for r in records]
    assert {d.media_type for d in delivery.documents} == {"application/json"}


def test_answers_are_deterministic(settings, sim):
    first = portal.fetch(settings, sim.url, ONLINE, parse("2024S2"))
    again = portal.fetch(settings, sim.url, ONLINE, parse("2024S2"))
    assert first == again
    later = portal.fetch(settings, sim.url, ONLINE, parse("2025S1"))
    assert first != later


def test_a_year_is_asked_for_as_its_twelve_months(settings, sim):
    sim.clear_portal_requests()
    records = portal.fetch(settings, sim.url, PROGRESS, parse("2024")).records
    assert sorted({b["month"] for b in sim.portal_requests}) == list(range(1, 13))
    assert {b["timeType"] for b in sim.portal_requests} == {"month"}
    # The same months as the two half-years' requests: a year's flows are the halves' sum.
    halves = [
        *portal.fetch(settings, sim.url, PROGRESS, parse("2024S1")).records,
        *portal.fetch(settings, sim.url, PROGRESS, parse("2024S2")).records,
    ]
    assert sorted(records, key=lambda r: (r["requestMonth"], r["departmentCode"])) == sorted(
        halves, key=lambda r: (r["requestMonth"], r["departmentCode"])
    )


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_transient_faults_are_retried(settings, sim, fault):
    sim.inject(fault, times=2)
    records = portal.fetch(settings, sim.url, PROGRESS, parse("2025S1")).records
    assert len(records) == 1342
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
    url = sim.url + "/api/v1/reporting/evaluation/dvc-progress-tree"
    # A quarter needs its number; a year outside 2022..2025 is not served.
    assert requests.post(url, json={"timeType": "quarter", "year": 2025}, timeout=5).status_code == 400
    assert (
        requests.post(url, json={"timeType": "month", "year": 2025, "month": 13}, timeout=5).status_code
        == 400
    )
    assert requests.post(url, json={"timeType": "year", "year": 2019}, timeout=5).status_code == 400
    assert requests.post(sim.url + "/nowhere", json={}, timeout=5).status_code == 404
    assert requests.get(sim.url + "/health", timeout=5).json() == {"status": "ok"}


def test_faults_can_be_queued_over_http_for_drills(settings, sim):
    answer = requests.post(sim.url + "/_simulator/faults", json={"fault": "500", "times": 2}, timeout=5)
    assert answer.json() == {"queued": "500", "times": 2}
    assert len(portal.fetch(settings, sim.url, PROGRESS, parse("2025S1")).records) == 1342
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
