"""Concurrent runs are safe: identical deliveries land once, a DAG runs once at a time."""

import threading
import time

import pytest

from dxw.landing import copy
from dxw.orchestration import dagrun

pytestmark = pytest.mark.integration

PROBE = copy.Dataset(
    source="test", name="probe_deliveries", fields={"unit": str, "value": int}, key=("unit",)
)


def test_three_identical_deliveries_at_once_land_one_batch(conn, urls, empty_warehouse):
    import psycopg

    copy.land(conn, PROBE, "2025S1", [{"unit": "u1", "value": 1}])  # the delivery before the change
    changed = [{"unit": "u1", "value": 2}, {"unit": "u2", "value": 3}]
    barrier = threading.Barrier(3)
    results: list[copy.LoadResult] = []

    def deliver() -> None:
        with psycopg.connect(urls.warehouse, autocommit=True) as own:
            barrier.wait()
            result = copy.land(own, PROBE, "2025S1", changed, staged=True)
            if result.status == "staged":
                time.sleep(0.3)  # its raw gate runs (dxw.intake.ingest.audit_batch)
                copy.promote(own, result.batch_id)
            results.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status for r in results) == ["staged", "unchanged", "unchanged"]
    batches = conn.execute(
        "select status, row_count from raw.load_batch where dataset = %s order by batch_id", (PROBE.name,)
    ).fetchall()
    assert batches == [("loaded", 1), ("loaded", 2), ("unchanged", 0), ("unchanged", 0)]
    assert conn.execute("select count(*) from raw.probe_deliveries").fetchone() == (3,)


def test_a_second_run_of_the_same_dag_refuses_naming_the_first():
    import os

    started, release = threading.Event(), threading.Event()

    def first() -> None:
        with dagrun.run_lock("semiannual_marts"):
            started.set()
            release.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(30)
        with (
            pytest.raises(
                dagrun.RunInProgress,
                match=rf"another dxw run of semiannual_marts is running \(pid {os.getpid()}\)",
            ),
            dagrun.run_lock("semiannual_marts"),
        ):
            pass
        with dagrun.run_lock("transform_warehouse"):  # another DAG is not held up
            pass
    finally:
        release.set()
        thread.join(timeout=30)
    with dagrun.run_lock("semiannual_marts"):  # free again once the first run ended
        pass
