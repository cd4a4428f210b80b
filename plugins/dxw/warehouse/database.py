"""Where the warehouse and the Airflow metadata live, and connections to them.

``DXW_DATABASE_URL`` names any PostgreSQL warehouse database; without it the embedded server
is started on demand. The Airflow metadata database is a separate database on the same server
(``<warehouse>_airflow`` unless ``DXW_AIRFLOW_DATABASE_NAME`` says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from dxw.errors import WarehouseError
from dxw.secrets import mask_url
from dxw.settings import ConfigurationError, Settings, get_settings
from dxw.warehouse import embedded_pg

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_ENCODE_HINT = "characters such as @ : / ? # and spaces in a password must be percent-encoded (%40 ...)"


@dataclass(frozen=True)
class DatabaseUrls:
    warehouse: str
    airflow: str
    maintenance: str

    def sqlalchemy(self, which: str = "warehouse", driver: str = "psycopg") -> str:
        """The URL for SQLAlchemy (``postgresql+<driver>://``)."""
        url = getattr(self, which)
        return url.replace("postgresql://", f"postgresql+{driver}://", 1).replace(
            "postgres://", f"postgresql+{driver}://", 1
        )


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def check_url(url: str, variable: str = "DXW_DATABASE_URL") -> str:
    """``url`` if dxw can use it; else a :class:`ConfigurationError` saying what is wrong.

    The message shows the URL masked and never the part that failed to parse: with a password
    holding an unencoded ``@`` or ``/``, that part is a piece of the password.
    """
    shown = f"{variable} ({mask_url(url)})"
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise ConfigurationError(f"{shown} contains a space or a control character: {_ENCODE_HINT}")
    if "#" in url:
        # urlsplit and libpq read the rest as a fragment: a password or a database name cut short.
        raise ConfigurationError(f"{shown} holds a '#': {_ENCODE_HINT}")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" (IPv6): the parser's message may quote the URL
        raise ConfigurationError(f"{shown} is not a URL dxw can read: {_ENCODE_HINT}") from None
    if "@" in parts.netloc.rpartition("@")[0] or "@" in parts.path:
        # libpq ends the user-info at the first "@": the rest of the password would become the host.
        raise ConfigurationError(f"{shown} has more than one '@': {_ENCODE_HINT}")
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(f"{shown} is not a PostgreSQL URL: it must start with postgresql://")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigurationError(f"{shown}: the port is not a number from 1 to 65535; {_ENCODE_HINT}")
    if not database_name(url):
        raise ConfigurationError(
            f"{shown} names no database: end it with the database's name, e.g. postgresql://USER@HOST:5432/dxw"
        )
    return url


def resolve(settings: Settings | None = None) -> DatabaseUrls:
    """The URLs in use; starts the embedded server when it is the one configured."""
    settings = settings or get_settings()
    if settings.database_url:
        warehouse = check_url(settings.database_url).replace("postgresql+psycopg://", "postgresql://", 1)
    else:
        settings.writable_home()
        warehouse = embedded_pg.start(settings).url(settings.database_name)
    name = database_name(warehouse)
    airflow = _with_database(warehouse, settings.airflow_database_name or f"{name}_airflow")
    return DatabaseUrls(warehouse, airflow, _with_database(warehouse, "postgres"))


def _connect(url: str, **kwargs) -> psycopg.Connection:
    """A connection to ``url``; a :class:`WarehouseError` naming the server when it cannot be reached."""
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise WarehouseError(f"cannot connect to {mask_url(url)}: {reason}") from exc


def ensure_databases(urls: DatabaseUrls) -> list[str]:
    """Create the warehouse and Airflow databases when missing; returns the ones created."""
    created = []
    with _connect(urls.maintenance, autocommit=True) as conn:
        for url in (urls.warehouse, urls.airflow):
            name = database_name(url)
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def connect(settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    """A new psycopg connection to the warehouse."""
    return _connect(resolve(settings).warehouse, **kwargs)
