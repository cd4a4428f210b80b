"""PostgreSQL restarted in the middle of a load: the load fails with a clear error, the retry lands once.

The restart is real (``pg_ctl stop -m fast`` then start) on a server of the test's own, so the
shared test server is not disturbed.
"""

import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import psycopg
import pytest

from dxw.landing import copy
from dxw.settings import get_settings
from dxw.warehouse import database, embedded_pg
from tests.reliability.test_crash_during_copy import DATASET, records

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ROWS = 2_000_000
LOADER = textwrap.dedent(
    f"""
    import psycopg
    from dxw.landing import copy
    from tests.reliability.test_crash_during_copy import DATASET, records
    with psycopg.connect({{url!r}}, autocommit=True) as conn:
        copy.land(conn, DATASET, "2025S1", records({ROWS}))
    """
)


@pytest.fixture
def own_server():
    """An embedded PostgreSQL of this test's own, removed afterwards."""
    base = get_settings()
    settings = replace(
        base, home=base.home / "reliability-restart", database_url=None, database_name="restart"
    )
    shutil.rmtree(settings.home, ignore_errors=True)
    embedded_pg.start(settings)
    urls = database.resolve(settings)
    database.ensure_databases(urls)
    yield settings, urls.warehouse
    embedded_pg.stop(settings)
    shutil.rmtree(settings.home, ignore_errors=True)


def copying(url: str) -> bool:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            return bool(
                conn.execute(
                    "select count(*) from pg_stat_activity where state = 'active' "
                    "and query ilike 'copy %%crash_observations%%'"
                ).fetchone()[0]
            )
    except psycopg.OperationalError:
        return False


def test_a_restart_during_copy_fails_the_load_clearly_and_the_retry_lands_once(own_server):
    settings, url = own_server
    with psycopg.connect(url, autocommit=True) as conn:
        copy.ensure_tables(conn, [DATASET])
    loader = subprocess.Popen(
        [sys.executable, "-c", LOADER.format(url=url)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not copying(url):
        assert loader.poll() is None, loader.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the loader never started its COPY"
        time.sleep(0.02)
    time.sleep(0.3)
    embedded_pg.stop(settings)  # pg_ctl stop -m fast: every session is terminated
    embedded_pg.start(settings)

    _, error = loader.communicate(timeout=120)
    assert loader.returncode != 0
    # The error names the dataset, the half-year and what happened to the connection.
    message = error[error.index("dxw.landing.copy.LoadError: ") :]
    assert message.startswith("dxw.landing.copy.LoadError: crash_observations 2025S1: batch not landed:")
    assert "terminat" in message or "server closed the connection" in message

    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.crash_observations").fetchone() == (0,)
        result = copy.land(conn, DATASET, "2025S1", records(ROWS))
        assert (result.status, result.rows) == ("loaded", ROWS)
        assert conn.execute(
            "select count(*), count(distinct numerator) from raw.crash_observations"
        ).fetchone() == (
            ROWS,
            ROWS,
        )
        statuses = [s for (s,) in conn.execute("select status from raw.load_batch order by batch_id")]
        assert statuses.count("loaded") == 1
        assert set(statuses) <= {"loaded", "failed"}
