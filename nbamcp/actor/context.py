"""The worker context: what a process hands every worker it runs.

A worker gets the bus, the configuration (its paths under its own
``NBAMCP_HOME``), the process's durable event stream and the place where
key-value buckets and object stores open (``stores``); everything else it opens
itself in ``on_start``. ``open_context`` builds the context for a bus: on NATS
the JetStream stream and JetStream buckets; in process the SQLite outbox of the
home and the in-process twins (shared by every worker of the process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.stores import Stores, stores_for
from nbamcp.config import Config
from nbamcp.streams import open_events


@dataclass(frozen=True, slots=True)
class WorkerContext:
    bus: Bus
    config: Config
    events: DurableStream  # one per process: in process, consumers must see the same outbox
    stores: Stores  # one per process: in process, every worker sees the same buckets

    @property
    def home(self) -> Path:
        """The worker's own folder: no other worker opens what is in it."""
        return self.config.home


@asynccontextmanager
async def open_context(bus: Bus, config: Config) -> AsyncIterator[WorkerContext]:
    """The context of the workers of one process; closes what it opened."""
    events = await open_events(bus, config)
    stores = stores_for(bus)
    try:
        yield WorkerContext(bus=bus, config=config, events=events, stores=stores)
    finally:
        await stores.close()
        await events.close()
