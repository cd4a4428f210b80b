"""Run only by tests/test_conftest.py, in a pytest of its own with ``-n 2``: each test writes which
worker ran it and where that worker's warehouse and dbt output are (not collected by ``make test``:
the file name does not start with ``test_``)."""

import json
import os

import psycopg
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("case", range(6))
def test_where_this_worker_works(case, urls):
    with psycopg.connect(urls.warehouse) as conn:
        data_dir = conn.execute("show data_directory").fetchone()[0]
        database = conn.execute("select current_database()").fetchone()[0]
        port = conn.info.port
    record = {
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
        "home": os.environ["DXW_HOME"],
        "dbt_target": os.environ.get("DBT_TARGET_PATH"),
        "data_dir": data_dir,
        "database": database,
        "port": port,
    }
    with open(os.environ["DXW_PROBE_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
