"""Fixtures for the data plane: a real store (three seasons of the 538 file), and the stores a
process opens its buckets in: the in-process twins, or JetStream on a real nats-server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nbamcp.bus.durable import DurableStream
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.bus.stores import MemoryStores, NatsStores, Stores
from nbamcp.config import Config, PathsConfig
from nbamcp.data.store import Store, open_store
from nbamcp.streams import open_events
from tests.predlog.realgames import ingest_rows, read_rows

SEASONS = (2021, 2022, 2023)
LAST_DAY = "2023-04-09"  # the regular season's last day: the playoffs are "a new day of results"


@pytest.fixture(scope="session")
def base_store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A store of the 2021-2023 regular seasons (the playoffs are kept for the tests to add)."""
    root = tmp_path_factory.mktemp("dataplane")
    header, rows = read_rows(data_dir, lambda r: int(r["season"]) in SEASONS and r["date"] <= LAST_DAY)
    asyncio.run(ingest_rows(root / "store.sqlite", header, rows, root / "csv", "seasons"))
    return root / "store.sqlite"


@pytest.fixture
async def store(base_store: Path, tmp_path: Path) -> AsyncIterator[Store]:
    path = tmp_path / "stats" / "store.sqlite"
    path.parent.mkdir()
    shutil.copy(base_store, path)
    s = await open_store(path)
    yield s
    await s.close()


class Plane:
    """A bus, its buckets and its durable stream: one process's view of the data plane."""

    def __init__(self, kind: str, url: str, home: Path) -> None:
        self.kind = kind
        self.url = url
        self.home = home
        self.buses: list[InMemoryBus | NatsBus] = []
        self.opened: list[Stores | DurableStream] = []
        self._memory = MemoryStores()

    async def stores(self) -> Stores:
        """Another process's stores (on NATS; in process there is one set of buckets)."""
        if self.kind == "memory":
            return self._memory
        bus = await NatsBus.connect(self.url, drain_timeout=0.5)
        self.buses.append(bus)
        s = NatsStores(bus)
        self.opened.append(s)
        return s

    async def events(self) -> DurableStream:
        bus: InMemoryBus | NatsBus
        if self.kind == "memory":
            bus = InMemoryBus()
        else:
            bus = await NatsBus.connect(self.url, drain_timeout=0.5)
        self.buses.append(bus)
        ev = await open_events(bus, Config(paths=PathsConfig(home=str(self.home))))
        self.opened.append(ev)
        return ev

    async def close(self) -> None:
        for o in reversed(self.opened):
            await o.close()
        for b in self.buses:
            await b.close()
        await self._memory.close()


@pytest.fixture(params=["memory", "nats"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Plane]:
    url = request.getfixturevalue("nats_server").url if request.param == "nats" else ""
    p = Plane(request.param, url, tmp_path / "events-home")
    try:
        yield p
    finally:
        async with asyncio.timeout(20):
            await p.close()
