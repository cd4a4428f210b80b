"""The upload inbox as an Airflow asset whose watcher fires when a unit's file arrives.

``InboxTrigger`` runs in Airflow's triggerer (an asset watcher, ``BaseEventTrigger``): every
``poll_interval`` seconds it lists the inbox and fires one event per complete file it has not
announced yet, or whose modification time or size changed (a unit's resubmission under the same
name). What counts as complete is ``dxw.intake.upload_folder.waiting``'s rule, the one the
loading task applies: files still being written (``.part``, ``.tmp``, dot-names) are not. Each
event becomes an asset event of ``unit_upload_inbox``, which starts ``ingest_unit_uploads``.

When the trigger starts (the DAG unpaused, the triggerer restarted) every file already waiting is
announced: a file that arrived while nobody watched is not left behind. A file that leaves the
inbox is forgotten, so the same name arriving again fires again. Import-cheap (DAG files use it):
the folder code is imported in the triggerer, when the trigger runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from dxw.settings import Settings

INBOX_ASSET_NAME = "unit_upload_inbox"


class InboxTrigger(BaseEventTrigger):
    """Fire for each complete file that arrives (or changes) in the upload inbox."""

    def __init__(self, inbox: str, poll_interval: float = 1.0) -> None:
        super().__init__()
        self.inbox = inbox
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "inbox": self.inbox,
            "poll_interval": self.poll_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from dxw.intake.upload_folder import waiting

        inbox = Path(self.inbox)
        announced: dict[str, tuple[float, int]] = {}
        self.log.info("watching %s every %.1f s", inbox, self.poll_interval)
        while True:
            # Listing a folder blocks: in a thread, so the triggerer's other triggers keep running.
            try:
                found = await asyncio.to_thread(waiting, inbox)
            except OSError as exc:  # a folder removed while listed, a network share gone: next time
                self.log.warning("could not list %s: %s", inbox, exc)
                await asyncio.sleep(self.poll_interval)
                continue
            for relative, (mtime, size) in sorted(found.items(), key=lambda item: item[1]):
                if announced.get(relative) != (mtime, size):
                    self.log.info("%s arrived (%d bytes)", relative, size)
                    yield TriggerEvent({"file": relative, "mtime": mtime, "size": size})
            announced = found
            await asyncio.sleep(self.poll_interval)


def inbox_asset(settings: Settings) -> Asset:
    """The upload inbox of ``settings``, watched by an ``InboxTrigger``."""
    trigger = InboxTrigger(inbox=str((settings.uploads_dir / "inbox").absolute()))
    return Asset(
        name=INBOX_ASSET_NAME,
        uri="dxw://uploads/inbox",
        group="inbox",
        watchers=[AssetWatcher(name=f"{INBOX_ASSET_NAME}_watcher", trigger=trigger)],
    )
