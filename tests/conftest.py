"""Test setup: a warehouse database of the tests' own on the configured server.

The embedded PostgreSQL (or the server of ``DXW_DATABASE_URL``) is shared with the demo, but
tests work in databases ``<name>_test`` / ``<name>_test_airflow`` so they never touch the
demo's data. Airflow is configured here, before any test module imports it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import psycopg
import pytest

from dxw import airflow_env, database
from dxw.settings import get_settings

_configured = get_settings()
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
URLS = airflow_env.apply()

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


def reset_warehouse() -> None:
    """Drop every schema dxw writes: the next step starts from an empty warehouse."""
    with psycopg.connect(URLS.warehouse, autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def urls() -> database.DatabaseUrls:
    return URLS


@pytest.fixture
def conn(urls) -> Iterator[psycopg.Connection]:
    with psycopg.connect(urls.warehouse, autocommit=True) as connection:
        yield connection


@pytest.fixture
def empty_warehouse() -> None:
    reset_warehouse()


@pytest.fixture(scope="session")
def simulator():
    from dxw.simulator import start_in_thread

    with start_in_thread() as server:
        yield server


DAG_PARSE_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if DAG_PARSE_REPORT:
        terminalreporter.section("DAG file parse times (no database, no network)")
        for line in DAG_PARSE_REPORT:
            terminalreporter.write_line(line)
