"""A loader killed with SIGKILL in the middle of COPY leaves nothing behind; the retry lands once."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from dxw.landing import copy

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROWS = 1_500_000
DATASET = copy.Dataset(
    "reliability", "crash_observations", {"unitCode": str, "indicatorCode": str, "numerator": int}
)
LOADER = textwrap.dedent(
    f"""
    import psycopg
    from dxw.landing import copy
    from tests.reliability.test_crash_during_copy import DATASET, records
    with psycopg.connect({{url!r}}, autocommit=True) as conn:
        copy.land(conn, DATASET, "2025S1", records({ROWS}))
    """
)


def records(count: int) -> list[dict]:
    return [
        {"unitCode": f"{i % 10000:05d}", "indicatorCode": f"I{i // 10000:03d}", "numerator": i}
        for i in range(count)
    ]


def copy_in_progress(conn) -> bool:
    return bool(
        conn.execute(
            "select count(*) from pg_stat_activity where query ilike 'copy %%crash_observations%%' "
            "and state = 'active' and client_port is not null and backend_type = 'client backend'"
        ).fetchone()[0]
    )


def test_sigkill_in_the_middle_of_copy_leaves_no_partial_batch(conn, urls, empty_warehouse):
    copy.ensure_tables(conn, [DATASET])
    loader = subprocess.Popen(
        [sys.executable, "-c", LOADER.format(url=urls.warehouse)],
        cwd=os.getcwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not copy_in_progress(conn):
        assert loader.poll() is None, loader.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the loader never started its COPY"
        time.sleep(0.02)
    time.sleep(0.3)  # well into the stream of rows
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL

    # The server notices the dead client and rolls its transaction back: no rows, no batch.
    deadline = time.monotonic() + 30
    while copy_in_progress(conn):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert conn.execute("select count(*) from raw.crash_observations").fetchone() == (0,)
    assert conn.execute(
        "select count(*) from raw.load_batch where dataset = 'crash_observations'"
    ).fetchone() == (0,)

    # The retry lands the whole batch exactly once.
    result = copy.land(conn, DATASET, "2025S1", records(ROWS))
    assert (result.status, result.rows) == ("loaded", ROWS)
    assert conn.execute(
        "select count(*), count(distinct numerator), sum(numerator) from raw.crash_observations"
    ).fetchone() == (ROWS, ROWS, ROWS * (ROWS - 1) // 2)
    assert conn.execute(
        "select status from raw.load_batch where dataset = 'crash_observations'"
    ).fetchall() == [("loaded",)]
