"""The COPY loader: all or nothing, idempotent, every attempt recorded."""

import pytest

from dxw.landing import copy

pytestmark = pytest.mark.integration

DATASET = copy.Dataset("test_source", "test_counts", {"unitCode": str, "totalCount": int, "ratio": float})
RECORDS = [
    {"unitCode": "024", "totalCount": 10, "ratio": 0.5},
    {"unitCode": "026", "totalCount": 7, "ratio": 1.0},
]


def raw_rows(conn):
    return conn.execute(
        "select unit_code, total_count, ratio, payload->>'unitCode' from raw.test_counts order by 1"
    ).fetchall()


def ledger(conn):
    return conn.execute("select status, row_count from raw.load_batch order by batch_id").fetchall()


def test_same_delivery_twice_lands_once(conn, empty_warehouse):
    first = copy.land(conn, DATASET, "2025S1", RECORDS)
    second = copy.land(conn, DATASET, "2025S1", list(reversed(RECORDS)))
    assert (first.status, first.rows) == ("loaded", 2)
    assert (second.status, second.rows) == ("unchanged", 0)
    assert raw_rows(conn) == [("024", 10, 0.5, "024"), ("026", 7, 1.0, "026")]
    assert ledger(conn) == [("loaded", 2), ("unchanged", 0)]


def test_changed_delivery_lands_a_new_batch(conn, empty_warehouse):
    copy.land(conn, DATASET, "2025S1", RECORDS)
    corrected = [{**RECORDS[0], "totalCount": 11}, RECORDS[1]]
    result = copy.land(conn, DATASET, "2025S1", corrected)
    assert result.status == "loaded"
    assert conn.execute("select count(distinct batch_id), count(*) from raw.test_counts").fetchone() == (2, 4)


def test_failed_batch_leaves_no_rows_and_is_recorded(conn, empty_warehouse):
    copy.land(conn, DATASET, "2025S1", RECORDS)
    broken = [*RECORDS, {"unitCode": "027", "totalCount": "many", "ratio": 0.1}]
    with pytest.raises(copy.LoadError, match="2025S2"):
        copy.land(conn, DATASET, "2025S2", broken)
    assert conn.execute("select count(*) from raw.test_counts where period_id = '2025S2'").fetchone() == (0,)
    status, error = conn.execute(
        "select status, error from raw.load_batch where period_id = '2025S2'"
    ).fetchone()
    assert status == "failed"
    assert "many" in error
