"""The test setup itself: tests not marked ``integration`` need no PostgreSQL (issue 17, item 6)."""

import os
import subprocess
import sys
from pathlib import Path

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
