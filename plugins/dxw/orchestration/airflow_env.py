"""The environment Airflow runs in: home, metadata database and dags folder under dxw's settings.

Airflow reads its configuration when it is first imported, so :func:`apply` must run before
any ``import airflow`` in the process (the ``dxw`` CLI and the test suite call it first).
"""

from __future__ import annotations

import logging
import os

from dxw.settings import Settings, get_settings
from dxw.transform import dbt
from dxw.warehouse import database

log = logging.getLogger(__name__)

# Neither Airflow, Cosmos, dbt nor Great Expectations may phone home from a government warehouse.
NO_TELEMETRY = {
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "SCARF_ANALYTICS": "false",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "GX_ANALYTICS_ENABLED": "False",
    **dbt.NO_TELEMETRY,
}


def settings_environment(settings: Settings) -> dict[str, str]:
    """The variables that need no database: Airflow's home and folders, dxw's home, no telemetry.

    Airflow reads its home when first imported; these can be set before the server is known.
    """
    return {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.plugins_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.timezone,
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.airflow_home / "logs"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(settings.home / "cosmos"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "DXW_HOME": str(settings.home),
        "DXW_PROJECT_DIR": str(settings.project_dir),
        **NO_TELEMETRY,
    }


def environment(settings: Settings, urls: database.DatabaseUrls) -> dict[str, str]:
    """Variables that point Airflow (and the dbt/GX code its tasks run) at dxw's setup."""
    return {
        **settings_environment(settings),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": urls.sqlalchemy("airflow", driver="psycopg2"),
        # Airflow's async engine would default to asyncpg, which is not installed: psycopg 3 is.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": urls.sqlalchemy("airflow", driver="psycopg"),
        # Tasks reach the warehouse through dxw's own settings: keep them identical in workers.
        "DXW_DATABASE_URL": urls.warehouse,
    }


def _grant_roles(urls: database.DatabaseUrls, settings: Settings) -> None:
    """Set the roles up with the environment; a login that may not create roles only warns."""
    import psycopg

    from dxw.warehouse import roles

    try:
        with psycopg.connect(urls.warehouse, autocommit=True) as conn:
            roles.grant(conn, settings)
    except psycopg.errors.InsufficientPrivilege as exc:
        log.warning("could not set up the dxw roles (%s): ask an administrator to run `dxw db grant`", exc)


def apply(settings: Settings | None = None) -> database.DatabaseUrls:
    """Start/locate the databases and export Airflow's environment into this process."""
    settings = settings or get_settings()
    urls = database.resolve(settings)
    database.ensure_databases(urls)
    _grant_roles(urls, settings)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(environment(settings, urls))
    get_settings.cache_clear()
    return urls
