"""Backups on NATS (share nothing): real workers, each in a home of its own, on a real nats-server;
``nba.ops.backup`` makes each back up the home it owns, and nothing else; a worker that does not
answer makes the backup incomplete, by name; one part restores into a new home."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from nbamcp.actor import Actor, open_context
from nbamcp.bus import connect_bus
from nbamcp.config import BackupConfig, BusConfig, Config, WorkersConfig
from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.launch import build_worker
from nbamcp.ops.backup import INDEX, list_backups, read_index, read_manifest
from nbamcp.ops.backup_command import backup_command, restore_command
from tests.conftest import NatsServer
from tests.contexts import home_config

WAIT = 60.0
NAMES = ("predlog", "usage")


@contextlib.asynccontextmanager
async def worker(url: str, home: Path, name: str) -> AsyncIterator[Actor]:
    """``nbamcp worker NAME`` in its own home, on its own connection (its own "process")."""
    config = home_config(home, bus=BusConfig(url=url))
    bus = await connect_bus(url, name=f"test-{name}")
    try:
        async with open_context(bus, config) as ctx:
            actor = build_worker(ctx, name)
            await actor.start()
            try:
                yield actor
            finally:
                await actor.stop(10.0)
    finally:
        await bus.close()


def cli_config(url: str, tmp_path: Path, expected: tuple[str, ...], timeout_s: float) -> Config:
    return home_config(
        tmp_path / "cli-home",
        bus=BusConfig(url=url),
        workers=WorkersConfig(embedded=list(expected)),
        backup=BackupConfig(timeout_s=timeout_s),
    )


async def test_each_worker_backs_up_its_own_home(nats_server: NatsServer, tmp_path: Path) -> None:
    url, dest = nats_server.url, tmp_path / "backups"
    homes = {name: tmp_path / "homes" / name for name in NAMES}
    with anyio.fail_after(WAIT):
        async with contextlib.AsyncExitStack() as stack:
            for name in NAMES:
                await stack.enter_async_context(worker(url, homes[name], name))
            out = await backup_command(cli_config(url, tmp_path, NAMES, WAIT), dest, keep=3, over_bus=True)
            assert out["failures"] == []
            # A worker expected but not running: the backup is incomplete, and says whose part is missing.
            with pytest.raises(Unavailable, match=r"monitor: no part within 1s"):
                await backup_command(
                    cli_config(url, tmp_path, (*NAMES, "monitor"), 1.0), dest, keep=3, over_bus=True
                )

    (folder,) = list_backups(dest)  # the incomplete one has no index: no backup
    index = read_index(folder)
    assert (folder / INDEX).is_file()
    assert sorted(p.worker for p in index.parts) == sorted(NAMES)
    for part in index.parts:
        m = read_manifest(folder / part.part)
        assert m.home == str(homes[part.worker])  # each worker backed up its own home...
        assert {e.path for e in m.files} == {f"{part.worker}.sqlite"}  # ...and only what it owns

    with pytest.raises(InvalidInput, match="choose one with --part"):
        await restore_command(home_config(tmp_path / "new"), folder, part=None, force=False, check=True)
    fresh = home_config(tmp_path / "new-usage")
    r = await restore_command(fresh, dest, part="usage", force=False, check=False)
    assert r["restored"] and fresh.usage_path.is_file() and not fresh.predlog_path.exists()
