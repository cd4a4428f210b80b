"""100 randomized fault runs against the simulator: no observation lost or duplicated.

Each run pulls one source dataset for one half-year through the real ingestion path (HTTP
connector, COPY loader, raw gate) while the simulator answers some requests with a random mix
of timeouts, 429s, 500s, truncated answers and duplicated pages. A run either lands (or finds
unchanged) exactly what the source holds, or fails and lands nothing. At the end every loaded
batch is reconciled with the simulator's own truth.
"""

import random
from dataclasses import replace

import pytest
from psycopg import sql

from dxw.intake.ingest import FEEDS, ingest
from dxw.periods import Period, parse
from dxw.settings import get_settings
from dxw.simulator import dhis2_data, dms_data, portal_data
from dxw.sources.contract import SourceError

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

RUNS = 100
PERIODS = ("2024S2", "2025S1")
FAULTS = ("timeout", "429", "500", "truncate", "duplicate-page")
# dataset -> (key column, value column, the simulator's truth for a period)
TRUTH = {
    # The portal lands one row per agency and calendar month of the half-year.
    "portal_dvc_progress": (
        "department_code || '/' || request_month",
        "total_received",
        lambda p: {
            f"{r['departmentCode']}/{m}": r["totalReceived"]
            for m in range(p.first_month, p.last_month + 1)
            for r in portal_data.rows("dvc-progress-tree", Period(p.year, "month", m))
        },
    ),
    "dms_work_dossiers": (
        "org_code",
        "signed_online",
        lambda p: {r["orgCode"]: r["signedOnline"] for r in dms_data.work_dossier_rows(p)},
    ),
    "dhis2_data_values": (
        "data_element || '/' || org_unit",
        "value::bigint",
        lambda p: {f"{v['dataElement']}/{v['orgUnit']}": int(v["value"]) for v in dhis2_data.data_values(p)},
    ),
}


def batch_rows(conn, dataset, key, value, batch_id):
    query = sql.SQL("select {key}, {value} from {table} where batch_id = %s").format(
        key=sql.SQL(key), value=sql.SQL(value), table=sql.Identifier("raw", dataset)
    )
    return conn.execute(query, (batch_id,)).fetchall()


def test_randomized_faults_never_lose_or_duplicate_an_observation(conn, empty_warehouse, simulator):
    settings = replace(get_settings(), http_timeout_read=0.5, http_retries=3)
    simulator.httpd.timeout_seconds = 0.8
    rng = random.Random(20251125)
    outcomes = {"landed": 0, "unchanged": 0, "failed": 0}
    try:
        for _ in range(RUNS):
            dataset, period = rng.choice(sorted(TRUTH)), rng.choice(PERIODS)
            simulator.clear_faults()
            for fault in rng.choices(FAULTS, k=rng.randint(0, 3)):
                simulator.inject(fault)
            try:
                result = ingest(dataset, period, simulator.url, settings)
            except SourceError:
                outcomes["failed"] += 1
                continue
            outcomes["landed" if result.status == "loaded" else result.status] += 1
    finally:
        simulator.clear_faults()
        simulator.httpd.timeout_seconds = 3.0
    # The mix really exercised both outcomes.
    assert outcomes["failed"] > 5
    assert outcomes["landed"] + outcomes["unchanged"] > 30

    batches = conn.execute(
        "select batch_id, dataset, period_id, status, row_count from raw.load_batch order by batch_id"
    ).fetchall()
    assert {status for *_, status, _ in batches} <= {"loaded", "unchanged", "failed"}
    for batch_id, dataset, period_id, status, row_count in batches:
        key, value, truth_of = TRUTH[dataset]
        rows = batch_rows(conn, dataset, key, value, batch_id)
        if status != "loaded":
            assert rows == [], f"batch {batch_id} ({status}) left rows behind"
            continue
        truth = truth_of(parse(period_id))
        assert len(rows) == row_count == len(truth), f"batch {batch_id}: {len(rows)} rows, truth {len(truth)}"
        assert dict(rows) == truth, f"batch {batch_id} differs from the source"
    # Each dataset and half-year that ever landed was landed once: later clean runs found it unchanged.
    loaded = [(d, p) for _, d, p, status, _ in batches if status == "loaded"]
    assert len(loaded) == len(set(loaded))
    assert set(FEEDS) >= {d for d, _ in loaded}
