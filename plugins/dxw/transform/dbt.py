"""Running dbt on the warehouse: connection environment and the dbt command line.

``dbt_project/profiles.yml`` and ``dbt_project.yml`` read variables that only dxw sets, all
derived from its settings: the connection (``DXW_PG_*``) from the one warehouse URL
(``DXW_DATABASE_URL`` or the embedded server), the time zone from ``DXW_TIMEZONE``. They have no
defaults there: dbt run without dxw stops and names what is missing rather than guessing.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dxw.errors import RunError
from dxw.settings import Settings

log = logging.getLogger(__name__)

# dbt must not phone home from a government warehouse.
NO_TELEMETRY = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def connection_env(warehouse_url: str, settings: Settings) -> dict[str, str]:
    """What the dbt project reads from the environment, derived from ``warehouse_url`` and ``settings``."""
    parts = urlsplit(warehouse_url)
    return {
        "DXW_PG_HOST": parts.hostname or "127.0.0.1",
        "DXW_PG_PORT": str(parts.port or 5432),
        "DXW_PG_USER": unquote(parts.username or "postgres"),
        "DXW_PG_PASSWORD": unquote(parts.password or ""),
        "DXW_PG_DBNAME": parts.path.lstrip("/"),
        "DXW_DBT_THREADS": str(settings.dbt_threads),
        "DXW_TIMEZONE": settings.timezone,
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        "DBT_PROJECT_DIR": str(settings.dbt_project_dir),
        "DBT_LOG_PATH": str(settings.home / "dbt" / "logs"),
        **NO_TELEMETRY,
    }


def executable() -> str:
    """The dbt command of this environment."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run(args: list[str], warehouse_url: str, settings: Settings, check: bool = True) -> int:
    """Run ``dbt <args>`` in the project folder; output goes to this process's output."""
    env = {**os.environ, **connection_env(warehouse_url, settings)}
    command = [executable(), *args]
    log.info("dbt %s", " ".join(args))
    result = subprocess.run(command, cwd=settings.dbt_project_dir, env=env, check=False)
    if check and result.returncode != 0:
        raise RunError(f"`dbt {' '.join(args)}` failed with exit code {result.returncode}")
    return result.returncode


def manifest_path(settings: Settings) -> Path:
    return settings.dbt_project_dir / "target" / "manifest.json"
