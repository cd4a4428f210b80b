"""The deployment's configuration and refusals, without starting it (tests/deployment runs it)."""

from __future__ import annotations

import base64
import json
import os

import pytest

from dxw.cli import main
from dxw.orchestration import deployment
from dxw.settings import get_settings
from dxw.warehouse import database

URLS = database.DatabaseUrls(
    "postgresql://postgres@127.0.0.1:5999/dxw",
    "postgresql://postgres@127.0.0.1:5999/dxw_airflow",
    "postgresql://postgres@127.0.0.1:5999/postgres",
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DXW_HOME", str(tmp_path))
    for name in ("DXW_CELERY_BROKER_URL", "DXW_AIRFLOW_URL", "DXW_AIRFLOW_HOST", "DXW_AIRFLOW_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_every_process_gets_the_same_secrets_and_celery_on_the_loopback(home):
    settings = get_settings()
    secrets = deployment._secrets(settings)
    env = deployment.environment(settings, URLS, secrets)
    # What makes the workers' task tokens verify at the api-server and lets the UI read logs.
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["jwt_secret"]
    assert env["AIRFLOW__API__SECRET_KEY"] == secrets["api_secret_key"]
    # One Fernet key for all (the dag-processor encrypts the watcher's arguments, the triggerer
    # decrypts them): 32 bytes, url-safe base64, as cryptography's Fernet requires.
    assert env["AIRFLOW__CORE__FERNET_KEY"] == secrets["fernet_key"]
    assert len(base64.urlsafe_b64decode(secrets["fernet_key"])) == 32
    assert len(secrets["jwt_secret"]) >= 48
    # Kept for the next start (the same secrets), readable by the owner only.
    path = home / "deployment" / "secrets.json"
    assert json.loads(path.read_text()) == secrets == deployment._secrets(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:{settings.redis_port}/0"
    # The result backend is the metadata database (SQLAlchemy's db+ form).
    assert (
        env["AIRFLOW__CELERY__RESULT_BACKEND"]
        == "db+postgresql+psycopg2://postgres@127.0.0.1:5999/dxw_airflow"
    )
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    # Task logs at INFO in the deployment (WARNING left every task's log file empty).
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO"
    # The simple auth manager reads the admin's password from a file only its owner reads.
    passwords = json.loads((home / "deployment" / "simple_auth_manager_passwords.json").read_text())
    assert passwords == {"admin": secrets["admin_password"]}


def test_workers_elsewhere_reach_the_api_server_by_its_url(home, monkeypatch):
    monkeypatch.setenv("DXW_AIRFLOW_HOST", "0.0.0.0")
    get_settings.cache_clear()
    assert deployment.url(get_settings()) == "http://127.0.0.1:8080"
    monkeypatch.setenv("DXW_AIRFLOW_URL", "http://main-host:8080/")
    get_settings.cache_clear()
    env = deployment.environment(get_settings(), URLS, deployment._secrets(get_settings()))
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://main-host:8080/execution/"


def test_a_worker_elsewhere_is_refused_without_shared_broker_and_database(home, capsys):
    assert main(["airflow", "worker"]) == 2
    out = capsys.readouterr().out
    assert "DXW_CELERY_BROKER_URL" in out
    assert "DXW_DATABASE_URL" in out


def test_a_worker_elsewhere_needs_the_deployments_secrets(home, monkeypatch):
    monkeypatch.setenv("DXW_CELERY_BROKER_URL", "redis://broker:6379/0")
    monkeypatch.setenv("DXW_DATABASE_URL", "postgresql://dxw:pw@db:5432/dxw")
    monkeypatch.setenv("DXW_AIRFLOW_URL", "http://main-host:8080")
    get_settings.cache_clear()
    with pytest.raises(deployment.DeploymentError, match=r"secrets\.json is missing: copy it"):
        deployment.worker(get_settings())
    assert not (home / "deployment" / "secrets.json").exists()  # never made up on a worker


def test_semiannual_marts_is_triggered_by_naming_its_half_year(home, capsys):
    # Checked before anything is asked of the deployment: a run without a period is refused.
    assert main(["airflow", "trigger", "semiannual_marts"]) == 2
    assert "--period" in capsys.readouterr().out


def test_trigger_without_a_deployment_says_how_to_start_one(home, capsys):
    assert main(["airflow", "trigger", "ingest_public_service_portal", "--period", "2025S1"]) == 1
    assert "make airflow" in capsys.readouterr().out


def test_down_without_a_deployment_stops_nothing(home, capsys):
    assert main(["airflow", "down"]) == 0
    assert "no deployment was running" in capsys.readouterr().out
    assert main(["airflow", "status"]) == 1


def test_in_process_runs_refuse_while_a_deployment_runs_from_the_same_home(home, capsys):
    # The deployment's scheduler shares the metadata database: it would take over a dag.test run.
    pids = home / "deployment" / "pids.json"
    pids.parent.mkdir(parents=True)
    ours = {"pid": os.getpid(), "started": deployment._start_time(os.getpid())}
    pids.write_text(json.dumps({"scheduler": ours}))
    assert main(["run", "transform_warehouse"]) == 2
    assert "dxw airflow trigger" in capsys.readouterr().err
    pids.write_text(json.dumps({"scheduler": {"pid": os.getpid(), "started": "0"}}))  # a reused pid
    assert deployment.status(get_settings()) == {}


def test_a_home_from_before_the_shared_fernet_key_keeps_its_key(home):
    # secrets.json as an older release wrote it, and the key Airflow put in airflow.cfg then:
    # values encrypted with it must still read, so that key is the one every process gets now.
    settings = get_settings()
    old = {"jwt_secret": "j" * 64, "api_secret_key": "a" * 64, "admin_password": "p" * 16}
    (home / "deployment").mkdir(parents=True, exist_ok=True)
    (home / "deployment" / "secrets.json").write_text(json.dumps(old))
    key = "vxf2_izVexZe5tsp6fy4OzP7B90UCf0YyISielZ42MA="  # a key as airflow.cfg holds one
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    (settings.airflow_home / "airflow.cfg").write_text(f"[core]\nfernet_key = {key}\n")
    secrets = deployment._secrets(settings)
    assert secrets == {**old, "fernet_key": key}
    assert deployment.environment(settings, URLS, secrets)["AIRFLOW__CORE__FERNET_KEY"] == key
    assert json.loads((home / "deployment" / "secrets.json").read_text()) == secrets
