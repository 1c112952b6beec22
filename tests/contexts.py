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
