"""The test setup itself: tests not marked ``integration`` need no PostgreSQL (issue 17, item 6)."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from dxw.settings import get_settings
from dxw.warehouse import embedded_pg

ROOT = Path(__file__).resolve().parent.parent
# Port 1 on the loopback: nothing listens there, so any connection is refused at once.
NO_SERVER = "postgresql://nobody@127.0.0.1:1/none"
PURE_TESTS = ("tests/dxw/test_periods.py", "tests/dxw/uploads/test_cells.py")


def test_pure_tests_run_with_no_server_reachable():
    # A pytest of its own, pointed at a server that does not exist: importing conftest, collecting
    # and running the period rules and the upload reader's cell parsing must not reach it.
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW__DATABASE__")},
        "DXW_DATABASE_URL": NO_SERVER,
    }
    env.pop("DXW_DATABASE_NAME", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PURE_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "error" not in summary, summary


def test_each_worker_of_pytest_n_has_a_server_of_its_own_stopped_with_it(tmp_path):
    # `make test` runs two pytest-xdist workers. A pytest of its own with `-n 2`, in a fresh
    # DXW_HOME (none of this session's variables): each worker must reach a PostgreSQL of its own
    # under <home>/test-workers/<worker> (tests alter the server's roles), write dbt's output to a
    # folder of its own, and stop its server when it ends.
    home = tmp_path / "home"
    out = tmp_path / "probe.jsonl"
    inherited = ("DXW_", "AIRFLOW_", "AIRFLOW__", "DBT_", "PYTEST_XDIST", "PYTEST_CURRENT_TEST")
    env = {name: value for name, value in os.environ.items() if not name.startswith(inherited)}
    env.update(DXW_HOME=str(home), DXW_PROBE_OUT=str(out))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "load",
             "tests/probes/workers.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        # Whether each server was stopped, seen before this test's own clean-up below stops any left.
        left_running = sorted(
            p.parent.parent.name for p in home.glob("test-workers/*/pg/data/postmaster.pid")
        )
    finally:
        for worker in home.glob("test-workers/*"):
            embedded_pg.stop(replace(get_settings(), home=worker))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # Stopped with its worker: PostgreSQL removes postmaster.pid at a clean shutdown.
    assert left_running == []
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 6
    by_worker = {record["worker"]: record for record in records}
    assert set(by_worker) == {"gw0", "gw1"}
    for worker, record in by_worker.items():
        own = (home / "test-workers" / worker).resolve()
        assert Path(record["home"]) == own
        assert Path(record["data_dir"]).resolve() == own / "pg" / "data"
        assert Path(record["dbt_target"]) == own / "dbt-target"
        assert record["database"] == "dxw_test"  # named once, not again by the worker
    assert by_worker["gw0"]["port"] != by_worker["gw1"]["port"]
