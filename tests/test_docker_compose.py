"""docker-compose.yml cannot run here (no Docker engine): check that it is consistent instead."""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from dxw.settings import get_settings
from dxw.sources.registry import SOURCES

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


def _required(value: str) -> str | None:
    """The variable of a ``${VAR:?message}`` value (compose refuses to start without it)."""
    match = re.fullmatch(r"\$\{([A-Z_]+):\?[^}]+\}", value)
    return match.group(1) if match else None


def _named_volumes(compose, service) -> dict[str, str]:
    """``{mount point: volume}`` of a service's named volumes (not the checkout's bind mounts)."""
    mounts = {}
    for volume in compose["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def _init_script(compose) -> str:
    command = compose["services"]["airflow-init"]["command"]
    assert command[:2] == ["bash", "-c"], "airflow-init runs a bash script through the image's entrypoint"
    return command[2]


def _dockerfile_runs() -> list[str]:
    """The Dockerfile's RUN instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line[4:] for line in text.splitlines() if line.startswith("RUN ")]


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
    # dbt's connection is derived from DXW_DATABASE_URL by dxw in each dbt task: never set apart.
    assert not [key for key in env if key.startswith("DXW_PG_")]
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
    # Settings reads its own variables and the URL variable of every source of the registry.
    known = set(re.findall(r'"(DXW_[A-Z_]+)"', (ROOT / "plugins/dxw/settings.py").read_text()))
    known |= {source.url_variable for source in SOURCES}
    used = {
        key for service in compose["services"] for key in _env(compose, service) if key.startswith("DXW_")
    }
    assert used, "compose sets no DXW_ variable"
    assert used <= known, f"unknown settings in docker-compose.yml: {sorted(used - known)}"


def test_one_time_zone_for_airflow_and_dxw_defaulting_to_the_settings_one(compose, monkeypatch):
    env = _env(compose, "airflow-worker")
    assert env["DXW_TIMEZONE"] == env["AIRFLOW__CORE__DEFAULT_TIMEZONE"]
    assert env["DXW_TIMEZONE"].startswith("${DXW_TIMEZONE:-"), "set in .env, once"
    monkeypatch.delenv("DXW_TIMEZONE", raising=False)
    get_settings.cache_clear()
    try:
        assert _resolve(env["DXW_TIMEZONE"]) == get_settings().timezone
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


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
    assert Path(ROOT / "deploy/warehouse-init.sql").read_text().count("create database metabase") == 1


def test_init_creates_the_roles_bi_tools_log_in_with(compose):
    init = compose["services"]["airflow-init"]["command"][-1]
    assert "dxw db grant" in init
    assert "DXW_BI_PASSWORD" in _env(compose, "airflow-init")


# --- runs as shipped (issue 16) ---------------------------------------------------------------
SHARED_SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
}


def test_every_airflow_service_shares_the_secrets_and_the_configuration(compose):
    common = {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}
    for setting, variable in SHARED_SECRETS.items():
        # Required from .env: a default (or none, so that each container writes its own random
        # secret into its airflow.cfg) is how workers got "Invalid auth token".
        assert _required(common[setting]) == variable, setting
    for service in AIRFLOW_SERVICES:
        env = _env(compose, service)
        different = {k for k, v in common.items() if env.get(k) != v}
        assert not different, f"{service} does not have the common configuration: {sorted(different)}"
        assert compose["services"][service]["image"] == compose["x-airflow-common"]["image"], service
    url = urlsplit(common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    published = compose["services"]["airflow-apiserver"]["ports"][0].rsplit(":", 1)[-1]
    assert (url.hostname, str(url.port), url.path) == ("airflow-apiserver", published, "/execution/")


def test_new_env_writes_every_required_secret_once(tmp_path):
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert set(SHARED_SECRETS.values()) | {"AIRFLOW_ADMIN_PASSWORD"} <= required
    env_file = tmp_path / ".env"
    script = ROOT / "deploy/new-env.sh"
    first = subprocess.run(["sh", script, env_file], capture_output=True, text=True, check=True)
    lines = env_file.read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert required <= set(values), f"deploy/new-env.sh does not write {sorted(required - set(values))}"
    assert f"admin / {values['AIRFLOW_ADMIN_PASSWORD']}" in first.stdout
    assert env_file.stat().st_mode & 0o077 == 0, ".env is readable by other users"
    from cryptography.fernet import Fernet

    Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # raises on a malformed key
    secrets = [values[v] for v in required]
    assert len(set(secrets)) == len(secrets)
    assert min(map(len, secrets)) >= 24
    before = env_file.read_text()
    again = subprocess.run(["sh", script, env_file], capture_output=True, text=True, check=True)
    assert env_file.read_text() == before
    assert "kept" in again.stderr
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_airflow_services_keep_the_image_entrypoint(compose):
    for service in AIRFLOW_SERVICES:
        assert "entrypoint" not in compose["services"][service], f"{service} bypasses the image's entrypoint"
    assert not re.search(r"^\s*ENTRYPOINT", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert re.search(r"^FROM apache/airflow:", (ROOT / "Dockerfile").read_text(), re.MULTILINE)


def test_admin_login_is_the_documented_one(compose, tmp_path):
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager")
    assert common["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "${AIRFLOW_ADMIN_USER:-admin}:admin"
    init_env = _env(compose, "airflow-init")
    assert _required(init_env["AIRFLOW_ADMIN_PASSWORD"]) == "AIRFLOW_ADMIN_PASSWORD"
    assert init_env["AIRFLOW_ADMIN_USER"] == "${AIRFLOW_ADMIN_USER:-admin}"
    passwords = common["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    folder = str(Path(passwords).parent)
    # The init writes the file, the api-server reads it; the workers (task code) never see it.
    init, apiserver = (_named_volumes(compose, s).get(folder) for s in ("airflow-init", "airflow-apiserver"))
    assert init == apiserver == "airflow-auth"
    assert folder not in _named_volumes(compose, "airflow-worker")
    # Run the init's writer for real and read the file with Airflow's own simple auth manager.
    script = _init_script(compose)
    writer = re.search(r"^python -c '([^']+)' \\\n\s*> (\S+)$", script, re.MULTILINE)
    assert writer
    assert writer.group(2) == passwords
    target = tmp_path / "passwords.json"
    env = {**os.environ, "AIRFLOW_ADMIN_USER": "admin", "AIRFLOW_ADMIN_PASSWORD": 'p"w \\ é'}
    with target.open("w") as out:
        subprocess.run([sys.executable, "-c", writer.group(1)], env=env, stdout=out, check=True)
    reader = (
        "from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager as M;"
        "import json; print(json.dumps(M.get_passwords()))"
    )
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(target)
    read = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True, text=True, check=True)
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {"admin": 'p"w \\ é'}
    readme = (ROOT / "README.md").read_text()
    assert "sh deploy/new-env.sh" in readme
    assert "AIRFLOW_ADMIN_PASSWORD" in readme


def test_task_logs_are_shared_with_the_ui_at_info(compose):
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO"
    folder = common["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]
    volumes = {_named_volumes(compose, service).get(folder) for service in AIRFLOW_SERVICES}
    assert volumes == {"airflow-logs"}, "workers, triggerer and api-server must see the same log files"


def test_nothing_is_published_beyond_loopback(compose):
    """The log servers (8793, 8794), PostgreSQL and Redis stay on the compose network; the UI,
    Metabase and the warehouse are published on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise."""
    published = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            address, _host_port, container_port = _resolve(str(port)).split(":")
            assert address == "127.0.0.1", f"{name} publishes {port} beyond this machine"
            published[name] = int(container_port)
    assert published == {"airflow-apiserver": 8080, "warehouse": 5432, "metabase": 3000}
    env = compose["x-airflow-common"]["environment"]
    log_ports = {int(env.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 8793))}
    log_ports.add(int(env.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 8794)))
    assert not log_ports & set(published.values())


def test_volumes_belong_to_the_user_the_services_run_as(compose):
    services = compose["services"]
    for service in AIRFLOW_SERVICES - {"airflow-init"}:
        assert _resolve(services[service]["user"]) == "50000:0", service
    assert services["airflow-init"]["user"] == "0:0"
    script = _init_script(compose)
    chown = next(line for line in script.splitlines() if line.startswith("chown "))
    words = shlex.split(chown)
    assert words[:3] == ["chown", "-R", "${AIRFLOW_UID:-50000}:0"]
    writable = set().union(*(_named_volumes(compose, s) for s in AIRFLOW_SERVICES))
    assert writable <= set(words[3:]), f"not given to uid 50000: {sorted(writable - set(words[3:]))}"
    # After every step that writes as root (the manifest, dxw's home).
    lines = script.splitlines()
    assert lines.index(chown) > max(i for i, line in enumerate(lines) if line.startswith("dxw "))
    # New volumes start as a copy of the image's folder: created there, owned by airflow.
    mkdir = next(run for run in _dockerfile_runs() if run.startswith("mkdir -p "))
    assert writable <= set(shlex.split(mkdir.split("&&")[0])[2:])
    assert "chown -R airflow:root" in mkdir


def test_uploads_folder_exists_in_the_image_and_is_the_volume(compose):
    upload_dir = _env(compose, "airflow-worker")["DXW_UPLOAD_DIR"]
    assert _named_volumes(compose, "airflow-worker")[upload_dir] == "dxw-uploads"
    mkdir = next(run for run in _dockerfile_runs() if run.startswith("mkdir -p "))
    assert upload_dir in shlex.split(mkdir.split("&&")[0])


def test_manifest_is_built_at_start_from_the_mounted_project(compose):
    assert not any("dxw manifest" in run for run in _dockerfile_runs()), "manifest baked into the image"
    assert "dxw manifest" in _init_script(compose).splitlines()
    # Every Airflow service reads the manifest the init wrote: one volume on target/.
    target = "/opt/dxw/dbt_project/target"
    assert {_named_volumes(compose, s).get(target) for s in AIRFLOW_SERVICES} == {"dbt-target"}
    # ... built from the dbt project of this checkout, all of it (not the models alone).
    mounted = {
        volume.split(":")[0].removeprefix("./dbt_project/")
        for volume in compose["services"]["airflow-worker"]["volumes"]
        if volume.startswith("./dbt_project/")
    }
    project = {p.name for p in (ROOT / "dbt_project").iterdir()} - {"target", "logs", "dbt_packages"}
    assert mounted == project


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = {line.rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".venv", ".dxw", ".env", ".git", "dbt_project/target", "**/__pycache__"):
        assert entry in ignored, f".dockerignore does not exclude {entry}"


def test_image_installs_the_lock_file():
    runs = " ".join(_dockerfile_runs())
    assert "uv export --frozen --no-dev" in runs
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in runs
    assert "python deploy/check_lock.py /tmp/requirements.txt" in runs
    # Celery 5.7 breaks Airflow 3.3's scheduler: the lock pins the versions that work.
    locked = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    assert "apache-airflow-providers-celery" in locked
    assert (locked.get("celery"), locked.get("kombu")) == ("5.6.3", "5.6.2")


def test_check_lock_names_each_package_the_image_has_wrong(tmp_path):
    from importlib import metadata

    script = ROOT / "deploy/check_lock.py"
    yaml_version = metadata.version("pyyaml")
    good = f"pyyaml=={yaml_version}\n    # via dxw\nwinreg-only==1.0 ; sys_platform == 'win32'\n"
    (tmp_path / "good.txt").write_text(good)
    ok = subprocess.run([sys.executable, script, tmp_path / "good.txt"], capture_output=True, text=True)
    assert ok.returncode == 0
    assert "1 packages" in ok.stdout
    (tmp_path / "bad.txt").write_text("pyyaml==0.0.1\ndxw-missing-package==1.0\n")
    bad = subprocess.run([sys.executable, script, tmp_path / "bad.txt"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"pyyaml: {yaml_version} installed, uv.lock pins 0.0.1" in bad.stderr
    assert "dxw-missing-package: not installed" in bad.stderr


def test_init_creates_the_pool_the_dbt_tasks_run_in(compose):
    # A task whose pool does not exist is never scheduled: the init creates the one dxw.transform.dbt_tasks
    # names (DXW_DBT_POOL, default "dbt") with the slots every service is told (DXW_DBT_POOL_SLOTS).
    from dxw.settings import Settings

    default_pool = Settings.__dataclass_fields__["dbt_pool"].default
    command = next(line.strip() for line in _init_script(compose).splitlines() if "airflow pools set" in line)
    # ($$ is compose's escape: the shell in the container reads ${...}.)
    pool, slots = f'"$${{DXW_DBT_POOL:-{default_pool}}}"', '"$${DXW_DBT_POOL_SLOTS:-2}"'
    assert command.startswith(f"airflow pools set {pool} {slots}")
    configured = {_resolve(_env(compose, s).get("DXW_DBT_POOL_SLOTS", "")) for s in AIRFLOW_SERVICES}
    assert configured == {str(Settings.__dataclass_fields__["dbt_pool_slots"].default)}
    assert "dxw manifest" in _init_script(compose).split("airflow pools set")[0]
