"""docker-compose.yml cannot run here (no Docker engine): check that it is consistent instead."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from dxw.settings import get_settings

ROOT = get_settings().project_dir
AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-worker", "airflow-init",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(compose, service):
    return {k: str(v) for k, v in compose["services"][service].get("environment", {}).items()}


def _resolve(value: str) -> str:
    """${VAR:-default} -> default (what compose uses when the variable is unset)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_official_airflow_layout_plus_dxw_services(compose):
    services = set(compose["services"])
    assert services >= AIRFLOW_SERVICES | {"postgres", "redis", "warehouse", "simulator", "metabase"}


def test_long_running_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_dependencies_exist_and_wait_for_health(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency == "airflow-init" else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"
            if expected == "service_healthy":
                assert "healthcheck" in services[dependency]


def test_airflow_runs_celery_on_the_metadata_postgres_and_redis(compose):
    env = _env(compose, "airflow-scheduler")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"):
        url = urlsplit(env[key])
        assert (url.hostname, url.path) == ("postgres", "/airflow"), key
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].startswith(env["DXW_PROJECT_DIR"])
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"].startswith(env["DXW_PROJECT_DIR"])


def test_warehouse_settings_agree(compose):
    env = {k: _resolve(v) for k, v in _env(compose, "airflow-worker").items()}
    url = urlsplit(env["DXW_DATABASE_URL"])
    # dbt's profiles.yml reads DXW_PG_*: they must name the same database as DXW_DATABASE_URL.
    from_url = (url.hostname, str(url.port), url.username, url.password, url.path.lstrip("/"))
    keys = ("DXW_PG_HOST", "DXW_PG_PORT", "DXW_PG_USER", "DXW_PG_PASSWORD", "DXW_PG_DBNAME")
    assert from_url == tuple(env[key] for key in keys)
    warehouse = {k: _resolve(v) for k, v in _env(compose, "warehouse").items()}
    assert url.hostname == "warehouse"
    assert (warehouse["POSTGRES_USER"], warehouse["POSTGRES_PASSWORD"], warehouse["POSTGRES_DB"]) == (
        url.username, url.password, url.path.lstrip("/")
    )  # fmt: skip


@pytest.mark.parametrize("variable", ["DXW_PORTAL_URL", "DXW_DMS_URL", "DXW_REPORTING_URL"])
def test_source_urls_point_at_the_simulator_service(compose, variable):
    env = _env(compose, "airflow-worker")
    portal = urlsplit(env[variable])
    simulator = compose["services"]["simulator"]
    assert portal.hostname == "simulator"
    entry = simulator["entrypoint"]
    assert entry[:3] == ["dxw", "simulator", "serve"]
    assert entry[entry.index("--port") + 1] == str(portal.port)
    assert str(portal.port) in simulator["healthcheck"]["test"][-1]


def test_every_dxw_variable_is_a_real_setting(compose):
    known = set(re.findall(r'"(DXW_[A-Z_]+)"', (ROOT / "plugins/dxw/settings.py").read_text()))
    known |= set(re.findall(r'"(DXW_PG_[A-Z_]+)"', (ROOT / "plugins/dxw/dbt.py").read_text()))
    used = {
        key for service in compose["services"] for key in _env(compose, service) if key.startswith("DXW_")
    }
    assert used, "compose sets no DXW_ variable"
    assert used <= known, f"unknown settings in docker-compose.yml: {sorted(used - known)}"


def test_telemetry_is_off_everywhere(compose):
    env = _env(compose, "airflow-worker")
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "false"
    assert env["AIRFLOW__USAGE_DATA_COLLECTION__ENABLED"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert _env(compose, "metabase")["MB_ANON_TRACKING_ENABLED"] == "false"


def test_files_the_compose_file_mounts_or_builds_exist(compose):
    assert (ROOT / "Dockerfile").exists()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert "dxw manifest" in (ROOT / "Dockerfile").read_text()
    assert Path(ROOT / "deploy/warehouse-init.sql").read_text().count("create database metabase") == 1


def test_init_creates_the_roles_bi_tools_log_in_with(compose):
    init = compose["services"]["airflow-init"]["command"][-1]
    assert "dxw db grant" in init
    assert "DXW_BI_PASSWORD" in _env(compose, "airflow-init")
