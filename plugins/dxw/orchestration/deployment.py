"""The real Airflow deployment on one machine: ``dxw airflow up`` / ``dxw airflow down``.

Starts, each as a process of its own (its own session, its output in ``$DXW_HOME/deployment/logs``):
a Redis broker on 127.0.0.1 (unless ``DXW_CELERY_BROKER_URL`` names one), the source simulator
(unless every source URL is configured), and Airflow's api-server, scheduler, dag-processor,
triggerer and one Celery worker, all on the embedded PostgreSQL (metadata database and Celery
result backend) or the server of ``DXW_DATABASE_URL``.

Every process gets the same configuration through its environment: the JWT secret and the API
secret key are generated once into ``$DXW_HOME/deployment/secrets.json``, so tasks' tokens verify
everywhere and the UI can read task logs. Nothing listens beyond 127.0.0.1 unless
``DXW_AIRFLOW_HOST`` says so: Airflow's log servers (which bind every interface) are not started;
the api-server reads task logs from the shared log folder.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dxw.errors import RunError
from dxw.orchestration import airflow_env
from dxw.settings import ConfigurationError, Settings, get_settings
from dxw.sources.registry import SOURCES
from dxw.warehouse import database

log = logging.getLogger(__name__)

# Start order; stopped in reverse (workers first, the broker last).
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker")
SIMULATOR_PORT_DEFAULT = 8765


class DeploymentError(RunError):
    """The deployment could not start; the message names the process and its log file."""


@dataclass(frozen=True)
class Deployment:
    """A running deployment: where its UI is and how to log in."""

    url: str
    admin_user: str
    admin_password: str
    broker_url: str
    simulator_url: str | None
    pids: dict[str, int]
    log_dir: Path
    secrets_file: Path


def state_dir(settings: Settings) -> Path:
    return settings.home / "deployment"


def _pid_file(settings: Settings) -> Path:
    return state_dir(settings) / "pids.json"


def _secrets(settings: Settings, create: bool = True) -> dict[str, str]:
    """The deployment's secrets, generated on first use and kept (0600) for every later start."""
    path = state_dir(settings) / "secrets.json"
    if path.exists():
        values = json.loads(path.read_text())
        if create and "fernet_key" not in values:  # kept by a release before the key was shared
            values["fernet_key"] = _fernet_key(settings)
            _write_secrets(path, values)
        return values
    if not create:
        raise DeploymentError(
            f"{path} is missing: copy it from the machine that runs `dxw airflow up` (every process of a "
            "deployment must share its secrets, or the api-server refuses the workers' tokens)"
        )
    values = {
        "jwt_secret": secrets.token_urlsafe(48),
        "api_secret_key": secrets.token_urlsafe(48),
        "admin_password": secrets.token_urlsafe(12),
        "fernet_key": _fernet_key(settings),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_secrets(path, values)
    return values


def _write_secrets(path: Path, values: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)


def _fernet_key(settings: Settings) -> str:
    """The key Airflow encrypts trigger arguments, connections and variables with.

    Given to every process in its environment. Left to ``airflow.cfg``, a triggerer once started
    with no key ("empty cryptography key") and died on the first watcher trigger the
    dag-processor had encrypted (``JSONDecodeError`` in ``Trigger._decrypt_kwargs``): the inbox
    was then watched by nobody. A home whose ``airflow.cfg`` has a key keeps it, so what was
    encrypted with it still reads.
    """
    config = configparser.ConfigParser(interpolation=None)
    config.read(settings.airflow_home / "airflow.cfg")
    existing = config.get("core", "fernet_key", fallback="").strip()
    if existing:
        return existing
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _passwords_file(settings: Settings, user: str, password: str) -> Path:
    """Airflow's simple auth manager keeps the passwords it finds in this file (it generates none)."""
    path = state_dir(settings) / "simple_auth_manager_passwords.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({user: password}, handle)
    return path


def url(settings: Settings) -> str:
    """The api-server's address for clients and workers (``DXW_AIRFLOW_URL`` on other machines)."""
    if settings.airflow_url:
        return settings.airflow_url
    # A server bound to every interface is still reached on the loopback.
    host = "127.0.0.1" if settings.airflow_host in ("0.0.0.0", "::") else settings.airflow_host
    return f"http://{host}:{settings.airflow_port}"


def broker_url(settings: Settings) -> str:
    return settings.celery_broker_url or f"redis://127.0.0.1:{settings.redis_port}/0"


def simulator_port(settings: Settings) -> int:
    return settings.simulator_port or SIMULATOR_PORT_DEFAULT


def needs_simulator(settings: Settings) -> bool:
    return any(settings.source_url(source.name) is None for source in SOURCES)


def environment(
    settings: Settings, urls: database.DatabaseUrls, secret_values: dict[str, str]
) -> dict[str, str]:
    """The environment of every Airflow process of the deployment (workers elsewhere need the same)."""
    base = url(settings)
    env = {
        **airflow_env.environment(settings, urls),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url(settings),
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + urls.sqlalchemy("airflow", driver="psycopg2"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret_values["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": secret_values["api_secret_key"],
        "AIRFLOW__API__HOST": settings.airflow_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
            _passwords_file(settings, settings.airflow_admin_user, secret_values["admin_password"])
        ),
        # Task logs at INFO: at WARNING every successful task's log file is empty.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": settings.airflow_log_level,
        "PYTHONUNBUFFERED": "1",
    }
    if "fernet_key" in secret_values:  # secrets.json of a worker elsewhere from an older release
        env["AIRFLOW__CORE__FERNET_KEY"] = secret_values["fernet_key"]
    if needs_simulator(settings):
        simulator = f"http://127.0.0.1:{simulator_port(settings)}"
        for source in SOURCES:
            env[source.url_variable] = settings.source_url(source.name) or simulator
    return env


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a process of ours from one that reused its pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _running(settings: Settings) -> dict[str, dict]:
    """The deployment's processes that are still alive, by name."""
    path = _pid_file(settings)
    if not path.exists():
        return {}
    recorded = json.loads(path.read_text())
    return {name: entry for name, entry in recorded.items() if _start_time(entry["pid"]) == entry["started"]}


def _spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path, pids: dict[str, dict],
           settings: Settings) -> subprocess.Popen:  # fmt: skip
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=settings.project_dir,
        )  # fmt: skip
    pids[name] = {"pid": process.pid, "started": _start_time(process.pid)}
    _pid_file(settings).write_text(json.dumps(pids))
    log.info("started %s (pid %s)", name, process.pid)
    return process


def _wait_port(
    host: str, port: int, process: subprocess.Popen, name: str, log_file: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeploymentError(f"{name} exited with code {process.returncode}: see {log_file}")
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise DeploymentError(f"{name} did not listen on {host}:{port} within {timeout:.0f} s: see {log_file}")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _redis_argv(settings: Settings) -> list[str]:
    server = shutil.which(settings.redis_server) or settings.redis_server
    if not Path(server).is_file():
        raise ConfigurationError(
            f"DXW_REDIS_SERVER={settings.redis_server} does not exist: run `make redis-server` (Debian's "
            "redis-server), point DXW_REDIS_SERVER at a redis-server binary, or set DXW_CELERY_BROKER_URL"
        )
    data = settings.home / "redis"
    data.mkdir(parents=True, exist_ok=True)
    # The broker's queue survives a restart (append-only file); nothing listens beyond 127.0.0.1.
    return [server, "--bind", "127.0.0.1", "--port", str(settings.redis_port), "--dir", str(data),
            "--appendonly", "yes", "--save", "", "--protected-mode", "yes", "--daemonize", "no"]  # fmt: skip


def _create_pool(settings: Settings) -> None:
    """The pool the Cosmos tasks run in (dxw.transform.dbt_tasks); its size is DXW_DBT_POOL_SLOTS."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(
        settings.dbt_pool,
        settings.dbt_pool_slots,
        "dbt nodes running at once (DXW_DBT_POOL_SLOTS); each is a dbt process on a core",
        include_deferred=False,
    )


def _wait_healthy(url: str, processes: dict[str, subprocess.Popen], log_dir: Path, timeout: float) -> None:
    """Until the api-server reports the scheduler, dag-processor and triggerer healthy."""
    import requests

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                log_file = log_dir / f"{name}.log"
                raise DeploymentError(f"{name} exited with code {process.returncode}: see {log_file}")
        try:
            health = requests.get(f"{url}/api/v2/monitor/health", timeout=5).json()
            last = health
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if all((health.get(part) or {}).get("status") == "healthy" for part in parts):
                return
        except (requests.RequestException, ValueError) as exc:
            last = exc
        time.sleep(1)
    raise DeploymentError(f"the deployment was not healthy within {timeout:.0f} s ({last}): see {log_dir}")


def start(settings: Settings | None = None, timeout: float = 180.0) -> Deployment:
    """Start every process of the deployment and wait until it is healthy (else stop what it started)."""
    settings = settings or get_settings()
    settings.writable_home()
    if _running(settings):
        raise DeploymentError(
            f"a deployment is already running from {settings.home} ({', '.join(_running(settings))}): "
            "`dxw airflow down` stops it"
        )
    urls = airflow_env.apply(settings)
    settings = get_settings()
    from dxw.orchestration import dagrun

    dagrun.ensure_metadata_db()
    _create_pool(settings)

    values = _secrets(settings)
    env = {**os.environ, **environment(settings, urls, values)}
    log_dir = state_dir(settings) / "logs"
    bin_dir = Path(sys.executable).parent
    airflow = str(bin_dir / "airflow")
    pids: dict[str, dict] = {}
    processes: dict[str, subprocess.Popen] = {}
    try:
        if settings.celery_broker_url is None:
            if not _port_free("127.0.0.1", settings.redis_port):
                raise DeploymentError(
                    f"127.0.0.1:{settings.redis_port} is taken: set DXW_REDIS_PORT to a free port "
                    "(or DXW_CELERY_BROKER_URL to a Redis of your own)"
                )
            redis = _spawn("redis", _redis_argv(settings), env, log_dir, pids, settings)
            _wait_port("127.0.0.1", settings.redis_port, redis, "redis", log_dir / "redis.log", 30)
        simulator_url = None
        if needs_simulator(settings):
            port = simulator_port(settings)
            simulator = _spawn(
                "simulator", [sys.executable, "-m", "dxw.cli", "simulator", "serve", "--port", str(port)],
                env, log_dir, pids, settings,
            )  # fmt: skip
            _wait_port("127.0.0.1", port, simulator, "simulator", log_dir / "simulator.log", 30)
            simulator_url = f"http://127.0.0.1:{port}"
        if not _port_free(settings.airflow_host, settings.airflow_port):
            raise DeploymentError(
                f"{settings.airflow_host}:{settings.airflow_port} is taken: set DXW_AIRFLOW_PORT to another"
            )
        argv = {
            "api-server": [airflow, "api-server", "--host", settings.airflow_host,
                           "--port", str(settings.airflow_port)],
            "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
            "dag-processor": [airflow, "dag-processor"],
            "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
            "celery-worker": [airflow, "celery", "worker", "--skip-serve-logs",
                              "--concurrency", str(settings.worker_concurrency)],
        }  # fmt: skip
        for name in AIRFLOW_COMPONENTS:
            processes[name] = _spawn(name, argv[name], env, log_dir, pids, settings)
        _wait_healthy(url(settings), processes, log_dir, timeout)
    except BaseException:
        stop(settings)
        raise
    return Deployment(
        url=url(settings),
        admin_user=settings.airflow_admin_user,
        admin_password=values["admin_password"],
        broker_url=broker_url(settings),
        simulator_url=simulator_url,
        pids={name: entry["pid"] for name, entry in pids.items()},
        log_dir=log_dir,
        secrets_file=state_dir(settings) / "secrets.json",
    )


def stop(settings: Settings | None = None, timeout: float = 60.0) -> list[str]:
    """Stop the deployment's processes (workers first, broker last); returns the names stopped."""
    settings = settings or get_settings()
    running = _running(settings)
    order = [name for name in reversed(("redis", "simulator", *AIRFLOW_COMPONENTS)) if name in running]
    for name in order:
        # Each process leads its own session: its group holds the children it forked (task runners).
        try:
            os.killpg(running[name]["pid"], signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _start_time(running[name]["pid"]) == running[name]["started"]:
            _reap(running[name]["pid"])
            time.sleep(0.2)
        if _start_time(running[name]["pid"]) == running[name]["started"]:
            log.warning("%s did not stop within %.0f s: killing it", name, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running[name]["pid"], signal.SIGKILL)
            _reap(running[name]["pid"])
    _pid_file(settings).unlink(missing_ok=True)
    return order


def _reap(pid: int) -> None:
    """Collect a child of this process that exited (else it stays a zombie and looks alive)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def api(settings: Settings | None = None):
    """A REST client of the running deployment, logged in as its admin."""
    from dxw.orchestration.airflow_api import AirflowApi

    settings = settings or get_settings()
    if "api-server" not in _running(settings) and not settings.airflow_url:
        raise DeploymentError(f"no deployment is running from {settings.home}: `make airflow` starts it")
    password = _secrets(settings, create=False)["admin_password"]
    return AirflowApi(url(settings), settings.airflow_admin_user, password)


def worker(settings: Settings | None = None) -> None:
    """Become a Celery worker of a deployment started on another machine (does not return)."""
    settings = settings or get_settings()
    if settings.celery_broker_url is None or settings.uses_embedded_database or not settings.airflow_url:
        raise DeploymentError(
            "a worker on another machine needs what every machine of the deployment reaches: set "
            "DXW_CELERY_BROKER_URL (the broker), DXW_DATABASE_URL (warehouse and metadata database) and "
            "DXW_AIRFLOW_URL (the api-server), as on the machine that runs `dxw airflow up`"
        )
    values = _secrets(settings, create=False)
    urls = airflow_env.apply(settings)
    settings = get_settings()
    env = {**os.environ, **environment(settings, urls, values)}
    airflow = str(Path(sys.executable).parent / "airflow")
    # Its log server (port 8793, every interface) lets the api-server read the task logs it writes.
    argv = [airflow, "celery", "worker", "--concurrency", str(settings.worker_concurrency)]
    os.execve(airflow, argv, env)


def status(settings: Settings | None = None) -> dict[str, int]:
    """The deployment's live processes by name."""
    return {name: entry["pid"] for name, entry in _running(settings or get_settings()).items()}
