"""All configuration of dxw, read once from ``DXW_*`` environment variables.

Defaults work on a laptop: with no ``DXW_DATABASE_URL`` an embedded PostgreSQL (from the
``pgserver`` wheel) runs with its data under ``DXW_HOME``; Airflow's home and metadata
database sit beside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dxw.errors import ConfigurationError as ConfigurationError  # raised for a bad DXW_* value
from dxw.sources.registry import SOURCES

PROJECT_DIR_DEFAULT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_number(name: str, default: str, kind: Callable[[str], T]) -> T:
    """``name`` read as ``kind`` (int, float, Decimal); a :class:`ConfigurationError` naming it otherwise."""
    value = _env(name, default)
    try:
        return kind(value)
    except (ValueError, ArithmeticError):
        raise ConfigurationError(f"{name}={value!r} is not a number (default {default})") from None


# A source's API is shared with its users: more connections at once than this is a load test.
DHIS2_CONCURRENCY_MAX = 16


def _env_bounded(name: str, default: str, low: int, high: int) -> int:
    """``name`` as a whole number from ``low`` to ``high``; a :class:`ConfigurationError` otherwise."""
    value = _env_number(name, default, int)
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={value} is out of range: {low} to {high} (default {default})")
    return value


def _env_timezone(name: str, default: str) -> str:
    """``name`` as an IANA time zone name; a :class:`ConfigurationError` naming it otherwise."""
    value = _env(name, default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{name}={value!r} is not a time zone: use an IANA name, e.g. {default}"
        ) from None
    return value


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated variable as a tuple of its non-empty, stripped items."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :func:`get_settings`."""

    project_dir: Path
    home: Path
    database_url: str | None
    database_name: str
    airflow_database_name: str | None
    simulator_host: str
    simulator_port: int
    bi_password: str | None
    loader_password: str | None
    http_timeout_connect: float
    http_timeout_read: float
    http_retries: int
    portal_page_size: int
    timezone: str
    dbt_threads: int
    # Each registry source's base URL (dxw.sources.registry: its DXW_*_URL variable, else its
    # default); None: the bundled simulator serves it when dxw runs the pipeline in-process.
    source_urls: Mapping[str, str | None] = field(default_factory=dict, hash=False)
    # Alerts (dxw.orchestration.alerts): with neither a webhook nor recipients, failures are only logged.
    alert_webhook_url: str | None = None
    alert_email_to: tuple[str, ...] = ()
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "dxw@localhost"
    alert_timeout: float = 10.0
    publish_deadline_days: int = 15
    # Unit uploads (dxw.intake.imports): the landing folder the upload DAG watches, and the size limit.
    upload_dir: Path | None = None
    upload_max_bytes: int = 10 * 1024 * 1024
    # An upload's denominator further than this fraction from the unit's previous half-year is
    # accepted with a warning (dxw.intake.uploads.validate.DENOMINATOR_BAND says why 0.20).
    upload_denominator_band: Decimal = Decimal("0.20")
    # The reporting system's org units to pull the data set for, each with its children (one
    # request each, which keeps answers bounded); empty means the province's root org unit.
    reporting_org_units: tuple[str, ...] = ()
    # How many of those subtrees are pulled at once (each its own HTTP connection): a national pull
    # overlaps the source's answering with the parsing of the answers already in.
    dhis2_concurrency: int = 4
    # Serving (dxw.warehouse.locking, dxw.warehouse.roles): how long one attempt at a lock may queue
    # (readers queued behind it wait at most that long), and how long the pipeline retries before it gives up.
    lock_timeout_ms: int = 1000
    lock_wait_seconds: float = 300.0
    # BI logins' limits (dxw.warehouse.roles, set on dxw_bi and on every scoped login at `dxw db grant`).
    # Both timeouts stay well below DXW_LOCK_WAIT_SECONDS: a BI session left idle in a transaction
    # (or a runaway query) is ended by the server before the pipeline's bounded wait runs out, so
    # on a default install it can delay a run but never fail it.
    bi_statement_timeout_seconds: float = 120.0
    bi_idle_in_transaction_seconds: float = 60.0
    bi_temp_file_limit_mb: int = 1024
    bi_connection_limit: int = 20
    # The deployment (dxw.orchestration.deployment, `dxw airflow up`): where the api-server listens,
    # the Celery broker (a Redis dxw starts on 127.0.0.1 unless a URL is given), the worker's task
    # slots and the dbt pool that bounds how many Cosmos tasks run at once (each is a dbt process on a core).
    airflow_host: str = "127.0.0.1"
    airflow_port: int = 8080
    airflow_url: str | None = None
    airflow_admin_user: str = "admin"
    airflow_log_level: str = "INFO"
    celery_broker_url: str | None = None
    redis_port: int = 6390
    redis_server: str = "/usr/bin/redis-server"
    worker_concurrency: int = 4
    dbt_pool: str = "dbt"
    dbt_pool_slots: int = 2
    dbt_task_retries: int = 2
    dbt_task_retry_delay: float = 30.0

    def source_url(self, source: str) -> str | None:
        """The configured base URL of the registry source ``source`` (None: not configured)."""
        return self.source_urls.get(source)

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def dags_dir(self) -> Path:
        return self.project_dir / "dags"

    @property
    def plugins_dir(self) -> Path:
        return self.project_dir / "plugins"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    @property
    def embedded_pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def zone(self) -> ZoneInfo:
        """``timezone`` as a ``tzinfo``: the province's local time, of schedules and of source times."""
        return ZoneInfo(self.timezone)

    @property
    def gx_dir(self) -> Path:
        return self.home / "gx"

    @property
    def uploads_dir(self) -> Path:
        """``inbox/`` (files to load), ``archive/`` (loaded), ``outbox/`` (reports for the units)."""
        return self.upload_dir or self.home / "uploads"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    def writable_home(self) -> Path:
        """``home``, created if missing; a :class:`ConfigurationError` when it cannot be written.

        ``os.access`` rather than a test write: as root a mode without write bits does not stop
        writes, but a read-only file system or a path through a regular file still do.
        """
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"DXW_HOME={self.home} cannot be created ({exc.strerror or exc}): "
                "point DXW_HOME at a folder dxw may write"
            ) from exc
        if not os.access(self.home, os.W_OK | os.X_OK):
            raise ConfigurationError(
                f"DXW_HOME={self.home} is not writable by this user: point DXW_HOME at a folder dxw may write"
            )
        return self.home


@cache
def get_settings() -> Settings:
    """Settings from the environment (cached; call ``get_settings.cache_clear()`` in tests)."""
    project_dir = Path(_env("DXW_PROJECT_DIR", str(PROJECT_DIR_DEFAULT))).resolve()
    home = Path(_env("DXW_HOME", str(project_dir / ".dxw"))).resolve()
    return Settings(
        project_dir=project_dir,
        home=home,
        database_url=os.environ.get("DXW_DATABASE_URL", "").strip() or None,
        database_name=_env("DXW_DATABASE_NAME", "dxw"),
        airflow_database_name=os.environ.get("DXW_AIRFLOW_DATABASE_NAME", "").strip() or None,
        simulator_host=_env("DXW_SIMULATOR_HOST", "127.0.0.1"),
        simulator_port=_env_number("DXW_SIMULATOR_PORT", "0", int),
        source_urls={
            source.name: _env(source.url_variable, source.url_default or "") or None for source in SOURCES
        },
        bi_password=os.environ.get("DXW_BI_PASSWORD", "").strip() or None,
        loader_password=os.environ.get("DXW_LOADER_PASSWORD", "").strip() or None,
        http_timeout_connect=_env_number("DXW_HTTP_TIMEOUT_CONNECT", "5", float),
        http_timeout_read=_env_number("DXW_HTTP_TIMEOUT_READ", "30", float),
        http_retries=_env_number("DXW_HTTP_RETRIES", "4", int),
        portal_page_size=_env_number("DXW_PORTAL_PAGE_SIZE", "50", int),
        timezone=_env_timezone("DXW_TIMEZONE", "Asia/Ho_Chi_Minh"),
        dbt_threads=_env_number("DXW_DBT_THREADS", "2", int),
        alert_webhook_url=os.environ.get("DXW_ALERT_WEBHOOK_URL", "").strip() or None,
        alert_email_to=_env_list("DXW_ALERT_EMAIL_TO"),
        smtp_host=_env("DXW_SMTP_HOST", "localhost"),
        smtp_port=_env_number("DXW_SMTP_PORT", "25", int),
        smtp_from=_env("DXW_SMTP_FROM", "dxw@localhost"),
        alert_timeout=_env_number("DXW_ALERT_TIMEOUT", "10", float),
        publish_deadline_days=_env_number("DXW_PUBLISH_DEADLINE_DAYS", "15", int),
        upload_dir=Path(os.environ["DXW_UPLOAD_DIR"]).resolve() if os.environ.get("DXW_UPLOAD_DIR") else None,
        upload_max_bytes=_env_number("DXW_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024), int),
        upload_denominator_band=_env_number("DXW_UPLOAD_DENOMINATOR_BAND", "0.20", Decimal),
        reporting_org_units=_env_list("DXW_REPORTING_ORG_UNITS"),
        dhis2_concurrency=_env_bounded("DXW_DHIS2_CONCURRENCY", "4", 1, DHIS2_CONCURRENCY_MAX),
        lock_timeout_ms=_env_number("DXW_LOCK_TIMEOUT_MS", "1000", int),
        lock_wait_seconds=_env_number("DXW_LOCK_WAIT_SECONDS", "300", float),
        bi_statement_timeout_seconds=_env_number("DXW_BI_STATEMENT_TIMEOUT", "120", float),
        bi_idle_in_transaction_seconds=_env_number("DXW_BI_IDLE_IN_TRANSACTION_TIMEOUT", "60", float),
        bi_temp_file_limit_mb=_env_number("DXW_BI_TEMP_FILE_LIMIT_MB", "1024", int),
        bi_connection_limit=_env_number("DXW_BI_CONNECTION_LIMIT", "20", int),
        airflow_host=_env("DXW_AIRFLOW_HOST", "127.0.0.1"),
        airflow_port=_env_number("DXW_AIRFLOW_PORT", "8080", int),
        airflow_url=os.environ.get("DXW_AIRFLOW_URL", "").strip().rstrip("/") or None,
        airflow_admin_user=_env("DXW_AIRFLOW_ADMIN_USER", "admin"),
        airflow_log_level=_env("DXW_AIRFLOW_LOG_LEVEL", "INFO").upper(),
        celery_broker_url=os.environ.get("DXW_CELERY_BROKER_URL", "").strip() or None,
        redis_port=_env_number("DXW_REDIS_PORT", "6390", int),
        redis_server=_env("DXW_REDIS_SERVER", "/usr/bin/redis-server"),
        # Two task slots per core: most tasks wait on the network or PostgreSQL, dbt's are pooled.
        worker_concurrency=_env_number("DXW_WORKER_CONCURRENCY", str(2 * (os.cpu_count() or 1)), int),
        dbt_pool=_env("DXW_DBT_POOL", "dbt"),
        dbt_pool_slots=_env_number("DXW_DBT_POOL_SLOTS", "2", int),
        dbt_task_retries=_env_number("DXW_DBT_TASK_RETRIES", "2", int),
        dbt_task_retry_delay=_env_number("DXW_DBT_TASK_RETRY_DELAY", "30", float),
    )
