"""The ``bus`` fixtures: every contract test runs on the in-memory bus and on NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from nbamcp.bus.base import Bus, Msg
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.bus.stores import MemoryStores, NatsStores, Stores

# Short drain deadline so that tests of close() with a stuck callback stay fast.
DRAIN_S = 0.5

BusFactory = Callable[..., Awaitable[Bus]]


@pytest.fixture(params=["memory", "nats"])
async def bus_factory(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """``await bus_factory(**kw)`` -> a new bus of the parametrized kind, closed after the test."""
    made: list[Bus] = []
    url = request.getfixturevalue("nats_server").url if request.param == "nats" else ""

    async def make(**kw: Any) -> Bus:
        kw.setdefault("drain_timeout", DRAIN_S)
        bus: Bus = InMemoryBus(**kw) if request.param == "memory" else await NatsBus.connect(url, **kw)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        async with asyncio.timeout(10):
            await bus.close()


@pytest.fixture
async def bus(bus_factory: BusFactory) -> Bus:
    return await bus_factory()


@pytest.fixture
async def peers(bus: Bus, bus_factory: BusFactory) -> list[Bus]:
    """Three handles on the same bus: the bus itself, then (on NATS) two more connections.

    In one process the actors share one InMemoryBus, so there the "peers" are
    that same instance; on NATS they are separate clients, as separate
    processes would be.
    """
    if bus.kind == "memory":
        return [bus, bus, bus]
    return [bus, await bus_factory(), await bus_factory()]


async def barrier(*buses: Bus, within_s: float = 5.0) -> None:
    """A request/reply round trip through each bus: what was sent before has been handled.

    Messages from one publisher reach a subscriber in order, and each
    subscription's callback runs as soon as its message is queued; after a
    round trip that starts later, callbacks that only record have run.
    """
    for b in buses:
        subject = f"barrier.{uuid.uuid4().hex}"

        async def echo(msg: Msg) -> None:
            await msg.respond(msg.data)

        sub = await b.subscribe(subject, echo)
        await b.flush()
        async with asyncio.timeout(within_s):
            await b.request(subject, b"", timeout=within_s)
        await sub.unsubscribe()


class Recorder:
    """A callback that records messages and wakes waiters when a count is reached."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.msgs: list[Msg] = []
        self._changed = asyncio.Event()

    async def __call__(self, msg: Msg) -> None:
        self.msgs.append(msg)
        self._changed.set()

    @property
    def data(self) -> list[bytes]:
        return [m.data for m in self.msgs]

    async def wait_for(self, count: int, within_s: float = 5.0) -> None:
        async with asyncio.timeout(within_s):
            while len(self.msgs) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(params=["memory", "nats"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    """Where buckets and object stores are opened: the in-process twins, or JetStream."""
    if request.param == "memory":
        s: Stores = MemoryStores()
        yield s
        await s.close()
        return
    bus = await NatsBus.connect(request.getfixturevalue("nats_server").url, drain_timeout=0.5)
    try:
        yield NatsStores(bus)
    finally:
        await bus.close()
