"""Worker contexts for tests: one per bus, as one per process in production.

Workers of one process share its durable stream (the in-process outbox must be
one object); a test that runs workers on several buses ("processes") gets one
context per bus. Each worker may still get its own configuration.
"""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec

from nbamcp.actor import WorkerContext, open_context
from nbamcp.bus.base import Bus
from nbamcp.config import Config, PathsConfig


def home_config(home: Path, **sections: object) -> Config:
    """The default configuration with ``home`` as NBAMCP_HOME and these sections replaced."""
    return msgspec.structs.replace(Config(), paths=PathsConfig(home=str(home)), **sections)


class Contexts:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._by_bus: dict[int, tuple[Bus, WorkerContext]] = {}
        self._stack = AsyncExitStack()

    async def get(self, bus: Bus, config: Config) -> WorkerContext:
        """The context of ``bus``, handing its workers ``config``."""
        found = self._by_bus.get(id(bus))
        if found is None or found[0] is not bus:
            ctx = await self._stack.enter_async_context(open_context(bus, home_config(self.home)))
            found = self._by_bus[id(bus)] = (bus, ctx)
        return dataclasses.replace(found[1], config=config)

    async def close(self) -> None:
        await self._stack.aclose()


async def mark_all_announced(store_path: Path) -> None:
    """Mark every game of a fixture's store announced, as a stats worker that ran once leaves it:
    a test's stats worker then writes the dataset on start without news to send (no per-game work,
    no GamesIngested for the whole history)."""
    from nbamcp.data.announced import Unannounced, record
    from nbamcp.data.games import load_games, partition_version, partitions
    from nbamcp.data.store import open_store

    store = await open_store(store_path)
    try:
        seasons = partitions(await load_games(store.conn))
        games = [g for rows in seasons.values() for g in rows]
        versions = {k: partition_version(rows) for k, rows in seasons.items()}
        await record(store, Unannounced(games, versions, [], []))
    finally:
        await store.close()
