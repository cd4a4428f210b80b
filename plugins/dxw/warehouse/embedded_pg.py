"""The embedded PostgreSQL used when no ``DXW_DATABASE_URL`` is configured.

The server binaries come from the ``pgserver`` wheel (PostgreSQL 16); dxw drives them itself so
that the server listens on 127.0.0.1 at a port remembered between runs (TCP, not a socket:
Great Expectations and Airflow both accept a plain ``host:port`` URL). The server is started
on demand, reused by later commands and stopped by ``dxw db stop``.

Authentication: every login needs a password (scram-sha-256) except the superuser dxw itself
connects as, from 127.0.0.1 (:data:`PG_HBA`). So a password given to ``dxw_bi`` or a scoped
login is checked on the default install too. The owner's trust is what keeps the embedded
default password-free for dxw, Airflow, dbt and GX; it means that anyone who can open a TCP
connection on this machine can be the superuser: the embedded server is for one person's laptop
or a single-user host, and a shared server is configured with ``DXW_DATABASE_URL``.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dxw.errors import WarehouseError
from dxw.settings import Settings

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
# initdb and postgres refuse to run as root; as root we run them as this system user.
SYSTEM_USER = "pgserver"


# The whole pg_hba.conf of the embedded server. Only 127.0.0.1 is listened on and there is no
# unix socket; replication and every other address match no line, so they are refused.
PG_HBA = f"""\
# Written by dxw (dxw/embedded_pg.py) at every start; edits here are replaced.
# TYPE  DATABASE  USER  ADDRESS  METHOD
host    all       {SUPERUSER}  127.0.0.1/32  trust
host    all       all       127.0.0.1/32  scram-sha-256
"""


class EmbeddedServerError(WarehouseError):
    """The embedded PostgreSQL could not be initialised, started or stopped."""


@dataclass(frozen=True)
class EmbeddedServer:
    port: int
    data_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


def _install_dir() -> Path:
    # Located without importing pgserver: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the pgserver wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _bin(name: str) -> str:
    return str(_install_dir() / "bin" / name)


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
        return pwd.getpwnam(SYSTEM_USER)


def _run_as() -> dict:
    if os.geteuid() != 0:
        return {}
    entry = _system_user()
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _open_path_for(path: Path, mode: int) -> None:
    """Add read/traverse bits for group and others on ``path`` and every parent folder."""
    for folder in [path, *path.parents]:
        folder.chmod(folder.stat().st_mode | mode)


def _prepare_for_system_user(root: Path) -> None:
    """As root, let the system user reach the binaries and own the server folder."""
    if os.geteuid() != 0:
        return
    entry = _system_user()
    _open_path_for(root.parent, 0o055)
    install = _install_dir()
    for path in [install, *install.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o055 if path.is_dir() or os.access(path, os.X_OK) else 0o044))
    _open_path_for(install.parent, 0o055)
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL's own listener does: connections of the previous run lingering in
        # TIME_WAIT must not move a restarted server to another port under its clients.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pg_ctl(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_bin("pg_ctl"), "-D", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
        **_run_as(),
    )


def _require_passwords(data_dir: Path) -> bool:
    """Write :data:`PG_HBA` over the data directory's pg_hba.conf; True when it changed.

    Data directories of earlier releases were initialised with ``--auth=trust`` for everyone:
    they get the same file at their next start. Written in place, so the file keeps the owner
    and mode the server reads it with.
    """
    hba = data_dir / "pg_hba.conf"
    if hba.read_text() == PG_HBA:
        return False
    with hba.open("r+") as handle:
        handle.write(PG_HBA)
        handle.truncate()
    return True


def _running_port(data_dir: Path) -> int | None:
    """Port of the server running on ``data_dir``, or None when it is not running."""
    if _pg_ctl(data_dir, "status", check=False).returncode != 0:
        return None
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    return int(lines[3])


def running(settings: Settings) -> EmbeddedServer | None:
    """The embedded server if it is running, without starting it."""
    data_dir = settings.embedded_pg_dir / "data"
    if not (data_dir / "PG_VERSION").exists():
        return None
    port = _running_port(data_dir)
    return EmbeddedServer(port, data_dir) if port else None


# Connections the server keeps for dxw's own roles beside the superuser's (PostgreSQL 16+).
RESERVED_CONNECTIONS = 10


def start(settings: Settings) -> EmbeddedServer:
    """Initialise (first time) and start the embedded server; reuse it when already running."""
    root = settings.embedded_pg_dir
    data_dir = root / "data"
    with _locked(root):
        if not (data_dir / "PG_VERSION").exists():
            log.info("initialising embedded PostgreSQL in %s", data_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
            _prepare_for_system_user(root)
            subprocess.run(
                [
                    _bin("initdb"),
                    "-D",
                    str(data_dir),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U",
                    SUPERUSER,
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
                **_run_as(),
            )
        changed = _require_passwords(data_dir)
        port = _running_port(data_dir)
        if port:
            if changed:
                # A server of an earlier release still trusting everyone: it re-reads the file.
                _pg_ctl(data_dir, "reload")
                log.info("embedded PostgreSQL now requires passwords (pg_hba.conf rewritten, reloaded)")
            return EmbeddedServer(port, data_dir)
        port_file = root / "port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        if not port or not _port_is_free(port):
            port = _free_port()
        port_file.write_text(str(port))
        _prepare_for_system_user(root)
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c max_connections=200 -c shared_buffers=256MB -c fsync=on "
            "-c password_encryption=scram-sha-256 "
            # Kept for members of pg_use_reserved_connections (dxw_owner and dxw_loader, given by
            # `dxw db grant`): BI logins at their connection limits cannot lock the loader out.
            f"-c reserved_connections={RESERVED_CONNECTIONS}"
        )
        started = time.monotonic()
        result = _pg_ctl(
            data_dir, "-w", "-t", "60", "-l", str(root / "server.log"), "-o", options, "start", check=False
        )
        if result.returncode != 0:
            tail = (root / "server.log").read_text()[-2000:] if (root / "server.log").exists() else ""
            raise EmbeddedServerError(
                f"embedded PostgreSQL did not start (pg_ctl exit {result.returncode}):\n"
                f"{result.stderr.strip()}\n{tail}"
            )
        log.info("embedded PostgreSQL started on 127.0.0.1:%s in %.1fs", port, time.monotonic() - started)
        return EmbeddedServer(port, data_dir)


def stop(settings: Settings) -> bool:
    """Stop the embedded server cleanly; returns False when it was not running."""
    root = settings.embedded_pg_dir
    data_dir = root / "data"
    if not (data_dir / "PG_VERSION").exists():
        return False
    with _locked(root):
        if _running_port(data_dir) is None:
            return False
        _pg_ctl(data_dir, "-w", "-t", "60", "-m", "fast", "stop")
        return True
