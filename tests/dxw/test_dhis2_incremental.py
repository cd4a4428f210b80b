"""Incremental pulls from the reporting system: only what changed since the last successful pull
(DHIS2's ``lastUpdated``), deletions included (``includeDeleted=true``), through a real HTTP
simulator that accepts DHIS2's write API; what the source deleted is gone downstream."""

import json

import pytest
import requests

from dxw.intake.ingest import ensure_raw_tables, ingest
from dxw.settings import get_settings
from dxw.simulator import start_in_thread
from dxw.simulator.dhis2_data import data_set_uid
from dxw.transform import dbt

pytestmark = pytest.mark.integration

DATASET = "dhis2_data_values"


@pytest.fixture
def sim():
    # A simulator of the test's own: what it deletes must not leak into other tests' sources.
    with start_in_thread() as server:
        yield server


def ledger(conn, batch_id):
    return conn.execute(
        "select status, row_count, details from raw.load_batch where batch_id = %s", (batch_id,)
    ).fetchone()


def pulled(conn, batch_id) -> tuple[str, list[dict]]:
    """The request and the data values the reporting system answered, as kept verbatim."""
    (name, content), *_ = conn.execute(
        "select name, content from raw.source_document where batch_id = %s order by document_no", (batch_id,)
    ).fetchall()
    return name, json.loads(bytes(content))["dataValues"]


def test_a_value_deleted_in_the_source_is_gone_after_the_next_pull(conn, empty_warehouse, sim):
    # First pull: no watermark yet, the whole half-year. 26 bodies at the 2025S1 cut-off x 4
    # values + the pilot district's 2 (as in test_dhis2_source).
    first = ingest(DATASET, "2025S1", sim.url)
    assert (first.status, first.rows) == ("loaded", 106)
    *_, details = ledger(conn, first.batch_id)
    request, values = pulled(conn, first.batch_id)
    assert "includeDeleted=true" in request
    assert "lastUpdated" not in request
    assert (details["pull"], details["since"]) == ("full", None)
    # The watermark is the latest lastUpdated the source sent (all written alike: local time).
    assert details["watermark"] == max(v["lastUpdated"] for v in values)
    watermark = details["watermark"]

    # Nothing changed: nothing lands, the pull is recorded, the watermark is kept.
    second = ingest(DATASET, "2025S1", sim.url)
    assert (second.status, second.rows) == ("unchanged", 0)
    *_, details = ledger(conn, second.batch_id)
    assert (details["pull"], details["since"], details["watermark"]) == ("changes", watermark, watermark)

    # A unit's value is deleted in DHIS2, through DHIS2's own API.
    victim = values[0]
    key = {"de": victim["dataElement"], "pe": "2025S1", "ou": victim["orgUnit"], "co": "HllvX50cXC0"}
    assert requests.delete(sim.url + "/api/dataValues", params=key, timeout=5).status_code == 204
    assert requests.delete(sim.url + "/api/dataValues", params=key, timeout=5).status_code == 409

    # The next pull asks for what changed after the watermark and gets the one deleted value.
    third = ingest(DATASET, "2025S1", sim.url)
    assert (third.status, third.rows) == ("loaded", 1)
    request, changed = pulled(conn, third.batch_id)
    assert "lastUpdated=" in request
    assert "includeDeleted=true" in request
    assert [(v["dataElement"], v["orgUnit"], v["value"], v["deleted"]) for v in changed] == [
        (victim["dataElement"], victim["orgUnit"], victim["value"], True)
    ]
    # Stamped when it happened, after everything pulled before; it is the new watermark.
    assert changed[0]["lastUpdated"] > watermark
    assert ledger(conn, third.batch_id)[2]["watermark"] == changed[0]["lastUpdated"]
    # And once more: nothing new, the new watermark is kept.
    fourth = ingest(DATASET, "2025S1", sim.url)
    assert (fourth.status, ledger(conn, fourth.batch_id)[2]["watermark"]) == (
        "unchanged",
        changed[0]["lastUpdated"],
    )

    # Downstream the value is gone: staging has 105 values, none for the deleted key, and the
    # indicator observation of that unit no longer counts the deleted number.
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS

    ensure_raw_tables()
    select = ["--select", "+fct_indicator_observation", "--indirect-selection", "cautious"]
    built = dbt.run(["build", *select, *WITHOUT_UNIT_TESTS], URLS.warehouse, get_settings(), False)
    assert built == 0
    staged = conn.execute(
        "select data_element_uid, source_unit_id from staging.stg_dhis2__data_values "
        "where period_id = '2025S1'"
    ).fetchall()
    assert len(staged) == 105
    assert (victim["dataElement"], victim["orgUnit"]) not in staged
    indicator, part = conn.execute(
        "select indicator_code, part from reference.dhis2_data_elements where data_element_uid = %s",
        (victim["dataElement"],),
    ).fetchone()
    observed = conn.execute(
        "select numerator, denominator, value from core.fct_indicator_observation "
        "where source_system = 'reporting_system' and source_unit_id = %s and indicator_code = %s "
        "and period_id = '2025S1'",
        (victim["orgUnit"], indicator),
    ).fetchone()
    # The other data element of the pair is still held, but a ratio needs both: the unit's
    # observation is gone, not left half there (a lone denominator would dilute the roll-ups).
    sibling = conn.execute(
        "select count(*) from staging.stg_dhis2__data_values where source_unit_id = %s "
        "and indicator_code = %s and period_id = '2025S1' and part <> %s",
        (victim["orgUnit"], indicator, part),
    ).fetchone()
    assert sibling == (1,)
    assert observed is None


def test_a_full_pull_stays_available_and_lands_the_whole_half_year(conn, empty_warehouse, sim):
    ingest(DATASET, "2025S1", sim.url)
    # A value changed through DHIS2's import (importStrategy UPDATE: the value is held -> updated).
    _, values = pulled(conn, conn.execute("select max(batch_id) from raw.load_batch").fetchone()[0])
    value = values[1]
    body = {"dataValues": [{**value, "value": str(int(value["value"]) + 1)}]}
    answer = requests.post(
        sim.url + "/api/dataValueSets", params={"importStrategy": "UPDATE"}, json=body, timeout=5
    ).json()
    assert answer["importCount"] == {"imported": 0, "updated": 1, "ignored": 0, "deleted": 0}

    full = ingest(DATASET, "2025S1", sim.url, full=True)
    # 106 values again, one of them changed: a new batch of all of them.
    assert (full.status, full.rows) == ("loaded", 106)
    *_, details = ledger(conn, full.batch_id)
    assert (details["pull"], details["since"]) == ("full", None)
    request, _ = pulled(conn, full.batch_id)
    assert "lastUpdated" not in request


def test_the_simulator_selects_by_last_updated_and_shows_deletions_only_when_asked(sim):
    query = {"dataSet": data_set_uid(), "period": "2025S1", "orgUnit": "q8LbEQyQDAl", "children": "true"}
    url = sim.url + "/api/dataValueSets.json"
    everything = requests.get(url, params=query, timeout=5).json()["dataValues"]
    assert len(everything) == 106
    # JSON export of a live value: no `deleted` field, followup a boolean (JsonDataValueSetWriter).
    assert all("deleted" not in v and v["followup"] is False and v["created"] for v in everything)
    latest = max(v["lastUpdated"] for v in everything)
    # lastUpdated is inclusive (DHIS2: lastupdated >= the parameter).
    at_latest = requests.get(url, params={**query, "lastUpdated": latest}, timeout=5).json()["dataValues"]
    assert at_latest
    assert all(v["lastUpdated"] == latest for v in at_latest)
    # A value deleted now: within the last day, it is exported only with includeDeleted.
    victim = everything[0]
    key = {"de": victim["dataElement"], "pe": "2025S1", "ou": victim["orgUnit"]}
    assert requests.delete(sim.url + "/api/dataValues", params=key, timeout=5).status_code == 204
    recent = {**query, "lastUpdatedDuration": "1d"}
    assert requests.get(url, params=recent, timeout=5).json()["dataValues"] == []
    (deleted,) = requests.get(url, params={**recent, "includeDeleted": "true"}, timeout=5).json()[
        "dataValues"
    ]
    assert (deleted["dataElement"], deleted["deleted"], deleted["created"]) == (
        victim["dataElement"],
        True,
        victim["created"],
    )
    assert len(requests.get(url, params=query, timeout=5).json()["dataValues"]) == 105
    # The CSV export writes the deletion in its `deleted` column.
    csv = requests.get(
        sim.url + "/api/dataValueSets.csv", params={**recent, "includeDeleted": "true"}, timeout=5
    ).text
    header, line = csv.strip().split("\n")
    assert header.endswith(",followup,deleted")
    assert line.endswith(",false,true")
    bad = requests.get(url, params={**query, "lastUpdatedDuration": "soon"}, timeout=5)
    assert bad.status_code == 409
