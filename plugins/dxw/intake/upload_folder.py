"""The landing folder for unit uploads: what is waiting, and what becomes of each file.

Layout under ``DXW_UPLOAD_DIR`` (default ``$DXW_HOME/uploads``)::

    inbox/<unit code>/<file>.xlsx   a unit's file (the folder names the submitting unit)
    inbox/<file>.xlsx               a file whose form says which unit sent it
    archive/<period>/<unit>/<UTC time>-<file>   every file processed, loaded or not
    outbox/<unit>/<file>.tu-choi.xlsx           the rejection report that goes back to the unit
    outbox/<unit>/<file>.bien-nhan.xlsx         or its receipt, when no row was rejected but some
                                                said "no data" or carry a warning

Files still being written (names starting with ``.`` or ending in ``.part`` / ``.tmp``) and
symbolic links are left alone. A file's modification time is its arrival, the moment the unit
submitted it (Plan 86 VI.6's on-time test): the intake that writes into the inbox (SFTP, the
web form, a copy that preserves times) stamps it, and nothing in dxw touches the file before
it is read; the time is recorded in the ledger with the batch, never replaced by the load time.
A file is moved out of the inbox only after its outcome is recorded, so a crash leaves it to be
processed again (landing is idempotent).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dxw.errors import InputError
from dxw.intake import imports
from dxw.intake.uploads import safe_filename
from dxw.settings import Settings, get_settings

log = logging.getLogger(__name__)

_IN_PROGRESS = (".part", ".tmp", ".crdownload")


def folders(settings: Settings | None = None) -> dict[str, Path]:
    """The inbox, archive and outbox, created when missing."""
    root = (settings or get_settings()).uploads_dir
    paths = {name: root / name for name in ("inbox", "archive", "outbox")}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return paths


def waiting(inbox: Path) -> dict[str, tuple[float, int]]:
    """The complete files in ``inbox``: relative path -> (modification time, size).

    Reads the folder only (never creates it): the inbox watcher scans it every second.
    """
    found = {}
    for path in inbox.rglob("*") if inbox.is_dir() else ():
        relative = path.relative_to(inbox)
        if len(relative.parts) > 2 or path.name.startswith(".") or path.name.lower().endswith(_IN_PROGRESS):
            continue
        try:
            if path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
        except FileNotFoundError:  # taken out of the inbox while the folder was read
            continue
        found[relative.as_posix()] = (stat.st_mtime, stat.st_size)
    return found


def pending(settings: Settings | None = None) -> list[str]:
    """Files waiting in the inbox (oldest first), as paths relative to it."""
    found = waiting(folders(settings)["inbox"])
    return sorted(found, key=lambda name: (found[name][0], name))


def process(relative: str, settings: Settings | None = None) -> dict[str, Any]:
    """Import one inbox file, archive it and leave the unit its report; the outcome as a dict."""
    settings = settings or get_settings()
    paths = folders(settings)
    inbox = paths["inbox"].resolve()
    path = (inbox / relative).resolve()
    if inbox not in path.parents or path.is_symlink():
        raise InputError(f"{relative!r} is not a file of the upload inbox")
    unit = safe_filename(path.parent.name) if path.parent != inbox else None
    outbox = paths["outbox"] / (unit or "unknown")
    arrived = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    outcome = imports.import_upload(
        path,
        unit_code=unit,
        report_dir=outbox,
        settings=settings,
        submitted_at=arrived,
        submitted_basis="inbox_arrival",
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    archived = (
        paths["archive"]
        / (outcome.period_id or "unknown")
        / (outcome.unit_code or unit or "unknown")
        / f"{stamp}-{outcome.file_name}"
    )
    archived.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, archived)
    log.info(
        "%s: %s (%d accepted, %d rejected)", relative, outcome.status, outcome.accepted, outcome.rejected
    )
    result = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(outcome).items()}
    return {**result, "archived": str(archived)}
