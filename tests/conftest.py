"""Test setup: a warehouse database of the tests' own on the configured server, reached on demand.

In one pytest process the embedded PostgreSQL (or the server of ``DXW_DATABASE_URL``) is shared
with the demo, but tests work in databases ``<name>_test`` / ``<name>_test_airflow`` so they
never touch the demo's data; each pytest-xdist worker (``make test`` runs two) has a home, and
so an embedded server, of its own (below). Importing this module starts nothing: it only sets
variables (the tests' database name, Airflow's home and folders, which Airflow reads when first
imported). The server is
started, and the databases created, by the session fixture ``urls``, which every test marked
``integration`` gets; the other tests (periods, the upload reader, ...) run without PostgreSQL.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from dxw.orchestration import airflow_env
from dxw.settings import get_settings
from dxw.warehouse import database

# Under `pytest -n N` (pytest-xdist: `make test` runs two workers) each worker is a session of its
# own with a DXW_HOME of its own, so its own embedded PostgreSQL (roles are the server's, and tests
# alter them), Airflow home, GX Data Docs, Cosmos cache and dbt logs. A child process (a test's
# own pytest, `dxw`) inherits the worker's variables and keeps them.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER and os.environ.get("DXW_TEST_WORKER") != WORKER:
    os.environ["DXW_TEST_WORKER"] = WORKER
    if get_settings().database_url:
        # A configured server is shared: `make test` runs one worker against it.
        raise pytest.UsageError(
            "pytest -n needs the embedded PostgreSQL: unset DXW_DATABASE_URL or leave out -n"
        )
    # By slot: a worker xdist starts in place of one that died (gw2 for gw0) finds its home and
    # its server, rather than leaving that server running beside a new one.
    _count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    _slot = f"gw{int(WORKER[2:]) % _count}" if WORKER[2:].isdigit() else WORKER
    os.environ["DXW_HOME"] = str(get_settings().home / "test-workers" / _slot)
    get_settings.cache_clear()
# The `dbt` commands tests run write their output (run_results.json, catalog.json, ...) to the
# home's own folder, never to the project's target/: the DAG files read the project's manifest,
# which another worker's `dbt build` would be rewriting as they parse. dxw's own builds name a
# target folder of their own.
os.environ["DBT_TARGET_PATH"] = str(get_settings().home / "dbt-target")
_configured = get_settings()
# Named once: an xdist worker (or a test's own pytest) inherits the name its parent process gave.
if os.environ.get("DXW_TEST_DATABASE_NAMED") != "1":
    os.environ["DXW_TEST_DATABASE_NAMED"] = "1"
    if _configured.database_url:
        _name = database.database_name(_configured.database_url)
        os.environ["DXW_DATABASE_URL"] = database._with_database(_configured.database_url, f"{_name}_test")
    else:
        os.environ["DXW_DATABASE_NAME"] = f"{_configured.database_name}_test"
# BI and loader logins need passwords (the embedded server checks them): tests log in with these.
os.environ.setdefault("DXW_BI_PASSWORD", "dxw-test-bi-password")
os.environ.setdefault("DXW_LOADER_PASSWORD", "dxw-test-loader-password")
# Uploads dropped by tests (and by the demo they run) go to a folder of their own.
os.environ["DXW_UPLOAD_DIR"] = tempfile.mkdtemp(prefix="dxw-test-uploads-")
get_settings.cache_clear()
os.environ.update(airflow_env.settings_environment(get_settings()))
get_settings.cache_clear()
# The settings of the session, taken now: the server is started by whichever test first needs it,
# and that test may have pointed the settings elsewhere for itself (a copy of the project).
SESSION_SETTINGS = get_settings()
# When this session began: what earlier sessions' builds proved is not carried (reset_warehouse).
SESSION_STARTED = datetime.now(UTC)

_urls: database.DatabaseUrls | None = None


def server_urls() -> database.DatabaseUrls:
    """Start (or find) the server, create the tests' databases and point Airflow at them; once."""
    global _urls
    if _urls is None:
        # A test that pointed the settings at a copy of the project keeps it, while Airflow's
        # folders (its plugins: the timetable) are the session's for every later test.
        own = {name: os.environ.get(name) for name in ("DXW_PROJECT_DIR", "DXW_HOME")}
        _urls = airflow_env.apply(SESSION_SETTINGS)
        for name, value in own.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        airflow_settings = sys.modules.get("airflow.settings")
        if airflow_settings is not None:
            # Test modules import Airflow at collection, before the server is known: its engine
            # was made for the default URL. Its configuration reads the variables at each call.
            airflow_settings.configure_vars()
            airflow_settings.reconfigure_orm()
    return _urls


def __getattr__(name: str):
    # `from tests.conftest import URLS` in a test starts the server when no fixture has yet.
    if name == "URLS":
        return server_urls()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


WAREHOUSE_SCHEMAS = (
    "raw",
    "reference",
    "staging",
    "intermediate",
    "core",
    "marts_build",
    "marts",
    "marts_audit",
    "marts_security",
)


# dbt's unit tests check the code, not the data: tests/dbt/test_dbt_build.py builds with them (a
# failing one fails its build), as do the DAGs' builds, once per code; the other tests' direct
# `dbt build`s, which check what the data becomes, leave them out.
WITHOUT_UNIT_TESTS = ("--exclude", "test_type:unit")


def dbt_target() -> Path:
    """Where the `dbt` commands tests run write run_results.json, catalog.json and the rest."""
    return Path(os.environ["DBT_TARGET_PATH"])


def reset_warehouse(keep_unit_test_runs: bool = True) -> None:
    """Drop every schema dxw writes: the next step starts from an empty warehouse.

    Unless ``keep_unit_test_runs`` is false, what the builds so far proved of the code survives:
    which code (``marts_audit.dbt_build.code``) passed dbt's unit tests in a clean build of a
    DAG's group. A unit test's result depends on the code alone, so, as after any clean build in
    a deployment, the next build of that group and code does not run them again
    (``dxw.transform.dbt_build.unit_tests_passed``); the session's first build of each group and
    code runs them (rows of earlier sessions, left in the test database, are not kept), and a
    failing unit test fails that build and leaves no such record. The rows kept have no inputs
    and no project signature: no build is skipped for them, and no build counts them as the last
    clean build of the warehouse.
    """
    from dxw.transform.dbt_build import BUILD_LOG_DDL

    with psycopg.connect(server_urls().warehouse, autocommit=True) as conn:
        passed = []
        if keep_unit_test_runs and conn.execute("select to_regclass('marts_audit.dbt_build')").fetchone()[0]:
            passed = conn.execute(
                "select distinct dag_id, group_id, code from marts_audit.dbt_build "
                "where unit_tests and status = 'clean' and finished_at >= %s",
                (SESSION_STARTED,),
            ).fetchall()
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')
        if passed:
            conn.execute(BUILD_LOG_DDL)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "insert into marts_audit.dbt_build (dag_id, group_id, code, unit_tests, status, "
                    "project_signature, selection, finished_at, nodes) "
                    "values (%s, %s, %s, true, 'clean', '', '{}', clock_timestamp(), 0)",
                    passed,
                )


@pytest.fixture(scope="session")
def urls() -> database.DatabaseUrls:
    return server_urls()


@pytest.fixture(autouse=True)
def _server_for_integration_tests(request) -> None:
    if request.node.get_closest_marker("integration"):
        request.getfixturevalue("urls")


@pytest.fixture
def conn(urls) -> Iterator[psycopg.Connection]:
    with psycopg.connect(urls.warehouse, autocommit=True) as connection:
        yield connection


@pytest.fixture
def empty_warehouse(urls) -> None:
    reset_warehouse()


@pytest.fixture(scope="session")
def simulator():
    from dxw.simulator import start_in_thread

    with start_in_thread() as server:
        yield server


# pytest-xdist hands the files out in collection order (`make test` turns its reordering by test
# count off): the longest files first, so that none is left running alone at the end. Measured
# with `--durations` on 2026-12-03 (serial seconds, setup and calls): the deployment 245, the
# incremental builds 190, the transform build 97, the randomized faults 68, the demo 52, the
# build skips 90, the e2e pipeline 55, the annual run 43, the report 41.
LONGEST_FILES = (
    "tests/deployment/test_deployment.py",
    "tests/dbt/test_incremental.py",
    "tests/e2e/test_transform_build.py",
    "tests/dbt/test_build_skip.py",
    "tests/reliability/test_randomized_faults.py",
    "tests/e2e/test_pipeline.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_annual.py",
    "tests/e2e/test_report.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FILES.index(path) if path in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)  # stable: each file's tests keep their order


DAG_PARSE_REPORT: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    # A worker's embedded server lives in the worker's home: stopped with its session, so that
    # none is left running (the project's own server stays up for the demo, as `dxw db stop` leaves it).
    worker = hasattr(session.config, "workerinput")  # an xdist worker, not a test's own pytest
    if worker and _urls is not None and SESSION_SETTINGS.uses_embedded_database:
        from dxw.warehouse import embedded_pg

        embedded_pg.stop(SESSION_SETTINGS)


def pytest_terminal_summary(terminalreporter) -> None:
    if DAG_PARSE_REPORT:
        terminalreporter.section("DAG file parse times (no database, no network)")
        for line in DAG_PARSE_REPORT:
            terminalreporter.write_line(line)
