"""InboxTrigger: the asset watcher that starts the upload DAG when a unit's file lands in the inbox."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

from airflow.sdk.module_loading import import_string

from dxw.orchestration.inbox import INBOX_ASSET_NAME, InboxTrigger, inbox_asset
from dxw.settings import get_settings

POLL = 0.02  # seconds between listings; a quiet spell of QUIET seconds is many listings
QUIET = 0.3
ARRIVED = 1_751_328_000.0  # 2025-07-01 00:00 UTC: the district's own time, kept by its copy


def _write(path: Path, content: bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


class Watch:
    """The trigger's run() consumed in the background; ``events()`` is what it fired since last asked."""

    def __init__(self, inbox: Path):
        self.trigger = InboxTrigger(inbox=str(inbox), poll_interval=POLL)
        self.queue: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self) -> Watch:
        # run() imports the folder code first (about a second): imported already, so that each
        # quiet spell below is listings, not that import.
        import dxw.intake.upload_folder  # noqa: F401

        async def consume():
            async for event in self.trigger.run():
                await self.queue.put(event.payload)

        self.task = asyncio.create_task(consume())
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()

    async def events(self) -> list[dict]:
        await asyncio.sleep(QUIET)
        assert not self.task.done() or self.task.cancelled(), self.task.exception()
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found


def test_a_file_renamed_into_the_inbox_fires_once_naming_it(tmp_path):
    inbox = tmp_path / "inbox"
    # Waiting before the watcher started (the triggerer was down): announced at the start.
    _write(inbox / "024" / "bao-cao-024-2025S1.xlsx", b"x" * 10, ARRIVED)

    async def scenario():
        async with Watch(inbox) as watch:
            assert await watch.events() == [
                {"file": "024/bao-cao-024-2025S1.xlsx", "mtime": ARRIVED, "size": 10}
            ]
            # Files still being written, and one outside the unit folders' depth: nothing fires.
            partial = _write(inbox / "025" / "bao-cao-025-2025S1.xlsx.part", b"y" * 7, ARRIVED + 60)
            _write(inbox / "025" / ".~lock.bao-cao.xlsx", b"z")
            _write(inbox / "025" / "bao-cao.tmp", b"z")
            _write(inbox / "025" / "nested" / "deep.xlsx", b"z")
            assert await watch.events() == []
            # Renamed in (rename keeps the time and size): one event naming it; the old file is quiet.
            partial.rename(inbox / "025" / "bao-cao-025-2025S1.xlsx")
            assert await watch.events() == [
                {"file": "025/bao-cao-025-2025S1.xlsx", "mtime": ARRIVED + 60, "size": 7}
            ]
            assert await watch.events() == []
            # A resubmission under the same name (new time and size) fires again.
            _write(inbox / "024" / "bao-cao-024-2025S1.xlsx", b"x" * 12, ARRIVED + 120)
            assert await watch.events() == [
                {"file": "024/bao-cao-024-2025S1.xlsx", "mtime": ARRIVED + 120, "size": 12}
            ]
            # Taken out by the loading task, then the same file dropped again: it fires again.
            (inbox / "024" / "bao-cao-024-2025S1.xlsx").unlink()
            assert await watch.events() == []
            _write(inbox / "024" / "bao-cao-024-2025S1.xlsx", b"x" * 12, ARRIVED + 120)
            assert await watch.events() == [
                {"file": "024/bao-cao-024-2025S1.xlsx", "mtime": ARRIVED + 120, "size": 12}
            ]

    asyncio.run(scenario())


def test_an_inbox_that_does_not_exist_yet_is_watched_until_it_does(tmp_path):
    inbox = tmp_path / "uploads" / "inbox"

    async def scenario():
        async with Watch(inbox) as watch:
            assert await watch.events() == []
            assert not inbox.exists()  # the watcher only reads
            _write(inbox / "bao-cao.csv", b"abc", ARRIVED)
            assert await watch.events() == [{"file": "bao-cao.csv", "mtime": ARRIVED, "size": 3}]

    asyncio.run(scenario())


def test_the_triggerer_rebuilds_the_same_trigger_from_its_serialized_form(tmp_path):
    settings = dataclasses.replace(get_settings(), upload_dir=tmp_path / "uploads")
    asset = inbox_asset(settings)
    assert asset.name == INBOX_ASSET_NAME
    [watcher] = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert (classpath, kwargs) == (
        "dxw.orchestration.inbox.InboxTrigger",
        {"inbox": str(tmp_path / "uploads" / "inbox"), "poll_interval": 1.0},
    )
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
