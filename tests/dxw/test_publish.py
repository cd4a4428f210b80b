"""Publishing swaps audited tables into `marts` atomically: readers never see a half-built state."""

import threading
import time

import psycopg
import pytest

from dxw import publish

pytestmark = pytest.mark.integration

ROWS = 20_000


def build(conn, value: int) -> None:
    conn.execute("create schema if not exists marts_build")
    conn.execute("drop table if exists marts_build.mart_probe")
    conn.execute(
        "create table marts_build.mart_probe as "
        "select g as id, %s::int as x from generate_series(1, %s) as g",
        (value, ROWS),
    )
    conn.execute("comment on table marts_build.mart_probe is 'One row per probe id.'")


def test_publish_copies_content_and_comments(conn, empty_warehouse):
    build(conn, 1)
    published = publish.publish(conn, run_id="t", period_id="2025S1")
    assert [(t.name, t.rows) for t in published] == [("mart_probe", ROWS)]
    assert publish.table_checksum(conn, "marts", "mart_probe") == publish.table_checksum(
        conn, "marts_build", "mart_probe"
    )
    comment = conn.execute("select obj_description('marts.mart_probe'::regclass, 'pg_class')").fetchone()[0]
    assert comment == "One row per probe id."
    assert conn.execute("select period_id from marts_audit.publish_log").fetchall() == [("2025S1",)]


def test_nothing_to_publish_is_an_error_and_changes_nothing(conn, empty_warehouse):
    build(conn, 1)
    publish.publish(conn)
    conn.execute("drop table marts_build.mart_probe")
    with pytest.raises(publish.PublishError, match="nothing to publish"):
        publish.publish(conn)
    assert conn.execute("select count(*) from marts.mart_probe").fetchone() == (ROWS,)


def test_concurrent_reader_sees_old_or_new_never_partial(conn, urls, empty_warehouse):
    build(conn, 1)
    publish.publish(conn)
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(urls.warehouse, autocommit=True) as reader_conn:
            while not stop.is_set():
                try:
                    seen.append(
                        reader_conn.execute("select count(*), sum(x) from marts.mart_probe").fetchone()
                    )
                except psycopg.Error as exc:  # any error is a visible half-published state
                    errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_no in range(12):
            build(conn, 2 if round_no % 2 == 0 else 1)
            publish.publish(conn)
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors[:3]
    assert len(seen) > 12, "the reader did not get to run during the publishes"
    assert set(seen) <= {(ROWS, ROWS), (ROWS, 2 * ROWS)}
    assert len(set(seen)) == 2, "the reader never saw a publish happen"
