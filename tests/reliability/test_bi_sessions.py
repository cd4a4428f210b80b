"""BI sessions cannot stall the pipeline: bounded lock waits, a swap in one lock order, BI limits.

A BI tool (or an Excel connection) leaves a transaction open on a mart: its ACCESS SHARE lock
stays until it ends. These tests hold such a session open while the role set-up, a landing and
a publish run, and read every mart in one transaction while publishes swap them.
"""

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from dxw import publish
from dxw.landing import copy
from dxw.settings import get_settings
from dxw.warehouse import locking, roles
from tests.dxw.test_roles import as_role

pytestmark = pytest.mark.integration

MARTS = ("mart_a", "mart_b", "mart_c", "mart_d")
PROBE = copy.Dataset(
    source="test", name="probe_bi_sessions", fields={"unit": str, "value": int}, key=("unit",)
)


def build(conn, value: int) -> None:
    """Every mart of the build holds 100 rows of ``value``: a consistent set has one value."""
    conn.execute("create schema if not exists marts_build")
    for name in MARTS:
        conn.execute(f"drop table if exists marts_build.{name}")
        conn.execute(
            f"create table marts_build.{name} as "
            # A unit version on every row: row security refuses to publish a mart without one.
            f"select g as id, {value}::int as x, 'before_2025'::text as unit_structure, "
            f"lpad(g::text, 5, '0') as unit_code from generate_series(1, 100) as g"
        )


@pytest.fixture
def published(conn, empty_warehouse):
    roles.grant(conn, get_settings())
    build(conn, 1)
    publish.publish(conn)
    return conn


@pytest.fixture
def idle_bi(published, urls):
    """A BI login that read a mart and left its transaction open (idle in transaction)."""
    with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
        assert bi.execute("select count(*) from marts.mart_a").fetchone() == (100,)
        yield bi
        bi.rollback()


def quick(**changes):
    return dataclasses.replace(get_settings(), **changes)


def test_grant_and_landing_do_not_wait_for_an_idle_bi_transaction(idle_bi, conn, monkeypatch):
    # No wait allowed at all: a lock the idle session holds would fail these at once.
    monkeypatch.setenv("DXW_LOCK_TIMEOUT_MS", "50")
    monkeypatch.setenv("DXW_LOCK_WAIT_SECONDS", "0")
    get_settings.cache_clear()
    try:
        lines = roles.grant(conn, get_settings())
        copy.land(conn, PROBE, "2025S1", [{"unit": "u1", "value": 1}])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    # Everything was in place: no DDL, no lock.
    assert lines[-1] == "nothing to change: everything was in place"
    assert idle_bi.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_publish_behind_an_idle_bi_transaction_fails_clearly_and_blocks_no_reader(idle_bi, conn, urls):
    before = {name: publish.table_checksum(conn, "marts", name) for name in MARTS}
    bi_pid = idle_bi.info.backend_pid
    build(conn, 2)
    latencies: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(as_role(urls.warehouse, roles.BI), autocommit=True) as other:
            while not stop.is_set():
                started = time.monotonic()
                other.execute("select count(*) from marts.mart_a").fetchone()
                latencies.append(time.monotonic() - started)
                time.sleep(0.01)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with pytest.raises(locking.LockWaitTimeout) as raised:
            publish.publish(conn, settings=quick(lock_timeout_ms=200, lock_wait_seconds=3))
    finally:
        stop.set()
        thread.join(timeout=30)
    message = str(raised.value)
    assert f"pid {bi_pid} (dxw_bi, idle in transaction" in message
    assert "nothing was changed" in message
    # Other readers queue behind each attempt at most one lock timeout (200 ms), never for the
    # whole wait (3 s); half the wait leaves room for a loaded machine.
    assert latencies
    assert max(latencies) < 1.5, max(latencies)
    # The previous marts stand, and the staging tables are gone.
    assert {name: publish.table_checksum(conn, "marts", name) for name in MARTS} == before
    left = conn.execute("select count(*) from pg_tables where tablename like '%publishing'").fetchone()[0]
    assert left == 0
    # Once the BI transaction ends, the publish goes through.
    idle_bi.rollback()
    publish.publish(conn, settings=quick(lock_timeout_ms=200, lock_wait_seconds=2))
    assert conn.execute("select sum(x) from marts.mart_a").fetchone() == (200,)


def test_a_reader_of_every_mart_never_deadlocks_with_publishes(published, conn, urls):
    seen: list[set[int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
            round_no = 0
            while not stop.is_set():
                # Against the publish's order half the time: the worst case for a deadlock.
                order = MARTS if round_no % 2 else tuple(reversed(MARTS))
                round_no += 1
                try:
                    values = set()
                    for name in order:
                        values |= {x for (x,) in bi.execute(f"select distinct x from marts.{name}")}
                        time.sleep(0.005)
                    bi.commit()
                    seen.append(values)
                except psycopg.Error as exc:
                    errors.append(exc)
                    bi.rollback()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_no in range(8):
            build(conn, 2 + round_no)
            publish.publish(conn)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert len(seen) > 8
    # Every read transaction saw one publish: all four marts with the same value.
    assert all(len(values) == 1 for values in seen), [v for v in seen if len(v) != 1][:3]
    assert conn.execute("select sum(x) from marts.mart_d").fetchone() == (900,)


def test_concurrent_grants_on_a_fresh_warehouse_all_succeed(conn, empty_warehouse, urls):
    # Roles are the server's, shared with other databases: "fresh" strips what grant sets on them.
    for role in (roles.BI, *roles.scoped_logins(conn)):
        conn.execute(f'alter role "{role}" reset all')
        conn.execute(f'alter role "{role}" connection limit -1')
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def grant() -> None:
        try:
            with psycopg.connect(urls.warehouse, autocommit=True) as own:
                barrier.wait()
                roles.grant(own, get_settings())
        except BaseException as exc:  # noqa: BLE001 - every failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=grant) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert roles.grant(conn, get_settings())[-1] == "nothing to change: everything was in place"


def test_bi_logins_carry_the_limits(published, conn, urls):
    settings = get_settings()
    with psycopg.connect(as_role(urls.warehouse, roles.BI)) as bi:
        shown = dict(
            bi.execute(
                "select name, setting from pg_settings where name in "
                "('statement_timeout', 'idle_in_transaction_session_timeout', 'temp_file_limit')"
            ).fetchall()
        )
        # pg_settings shows timeouts in ms and the temp-file limit in kB.
        assert shown == {
            "statement_timeout": str(round(settings.bi_statement_timeout_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(round(settings.bi_idle_in_transaction_seconds * 1000)),
            "temp_file_limit": str(settings.bi_temp_file_limit_mb * 1024),
        }
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("create temp table scratch (x int)")
    # The defaults keep the pipeline's wait longer than anything a BI session may hold a lock for.
    assert settings.lock_wait_seconds > settings.bi_statement_timeout_seconds
    assert settings.lock_wait_seconds > settings.bi_idle_in_transaction_seconds


def test_the_bi_connection_limit_refuses_bi_but_not_the_loader(published, conn, urls):
    roles.grant(conn, quick(bi_connection_limit=2))
    try:
        with (
            psycopg.connect(as_role(urls.warehouse, roles.BI)),
            psycopg.connect(as_role(urls.warehouse, roles.BI)),
        ):
            with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
                psycopg.connect(as_role(urls.warehouse, roles.BI))
            with psycopg.connect(as_role(urls.warehouse, roles.LOADER)) as loader:
                assert loader.execute("select 1").fetchone() == (1,)
    finally:
        roles.grant(conn, get_settings())


def test_a_real_dxw_run_goes_through_while_a_bi_transaction_sits_idle_on_a_mart(idle_bi, conn):
    # What the attack found: `dxw run ingest_...` hung at its start on the role set-up's
    # `alter table ... enable row level security` behind one idle BI transaction. The real CLI, in a
    # process of its own (its own role set-up, Airflow run, landing), with a wait of 5 s: had it
    # to wait for the idle session, it would fail naming it instead of succeeding.
    env = {**os.environ, "DXW_LOCK_WAIT_SECONDS": "5", "DXW_LOCK_TIMEOUT_MS": "200"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dxw"), "run", "ingest_document_management", "--period", "2025S1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ingest_document_management: success" in result.stdout
    landed = conn.execute(
        "select count(*) from raw.load_batch where dataset = 'dms_work_dossiers' and period_id = '2025S1'"
    ).fetchone()[0]
    assert landed >= 1
    # The BI session was never disturbed: still in its transaction.
    assert idle_bi.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
