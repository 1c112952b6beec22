"""Fixtures for the prediction-log tests: durable streams of both kinds, events, a small store."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream, StreamSettings
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.durable_sqlite import SqliteEvents
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.messages import PredictionEvent
from nbamcp.subjects import EVENTS_ALL

# Short ack wait so that "redelivered after ack_wait" is tested in under a second.
TEST_SETTINGS = StreamSettings(
    name="NBA_EVENTS", subjects=EVENTS_ALL, ack_wait_s=0.5, max_deliver=3, publish_timeout_s=5.0
)


@dataclass
class StreamKit:
    """One kind of durable stream, plus how to "restart the process" that uses it."""

    kind: str
    bus: Bus
    stream: DurableStream
    reopen: Callable[[], Awaitable[DurableStream]]
    new_bus: Callable[[], Awaitable[Bus]]


@pytest.fixture(params=["sqlite", "jetstream"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StreamKit]:
    """A durable stream of the parametrized kind; ``reopen()`` drops it and opens a new one."""
    opened: list[Any] = []

    if request.param == "sqlite":
        bus: Bus = InMemoryBus()
        path = tmp_path / "events.sqlite"

        async def open_stream() -> DurableStream:
            s = await SqliteEvents.open(path, settings=TEST_SETTINGS, bus=bus)
            opened.append(s)
            return s

        async def new_bus() -> Bus:
            return bus  # one process: every actor shares the one in-memory bus

    else:
        url = request.getfixturevalue("nats_server").url

        async def new_bus() -> Bus:
            b = await NatsBus.connect(url, drain_timeout=0.5)
            opened.append(b)
            return b

        bus = await new_bus()

        async def open_stream() -> DurableStream:
            # A new process: a new connection, the same stream and durable consumers.
            s = await JetStreamEvents.open(await new_bus(), TEST_SETTINGS)  # type: ignore[arg-type]
            opened.append(s)
            return s

    stream = await open_stream()

    async def reopen() -> DurableStream:
        nonlocal stream
        await stream.close()
        stream = await open_stream()
        return stream

    yield StreamKit(request.param, bus, stream, reopen, new_bus)
    async with asyncio.timeout(15):
        for obj in reversed(opened):
            await obj.close()


def prediction(i: int, *, request_id: str | None = None, **kw: Any) -> PredictionEvent:
    """A well-formed prediction event (teams and dates are real franchise ids and game days)."""
    base: dict[str, Any] = {
        "request_id": f"req-{i:06d}" if request_id is None else request_id,
        "ts": time.time(),
        "model_name": "game",
        "model_version": 1,
        "source": "model",
        "home": "BOS",
        "away": "LAL",
        "date": "2023-01-15",
        "neutral": False,
        "home_win_prob": 0.5 + (i % 40) / 100,
        "feature_set": "v1",
        "features": [0.1 * i, 1.0, -2.5],
        "latency_ms": 0.4,
        "client": "test",
    }
    base.update(kw)
    return PredictionEvent(**base)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
