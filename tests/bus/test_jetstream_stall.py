"""JetStream set-up (a stream, a durable consumer, a KV bucket, an object store) made while
nats-server stalls for longer than one API call's timeout.

Found by the chaos test (tests/e2e/test_supervised_chaos.py): in a cold start of the Procfile the
trainer's start failed (exit 1, restarted by the supervisor) because creating its durable consumer
timed out while the server was busy with every process's streams, consumers and buckets and the
stats worker's games dataset. Here the server is really stalled (SIGSTOP, then SIGCONT once a try
has timed out); the set-up call, idempotent, is tried again and succeeds once the server answers,
and what it made works. Before: ``BusTimeout`` for the consumer, and for a stream an
``unavailable`` that said to start nats-server with -js.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from nbamcp.bus.durable import StreamSettings
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.jetstream_setup import SETUP_TRIES
from nbamcp.bus.kv import BucketSettings
from nbamcp.bus.kv_nats import NatsKv
from nbamcp.bus.nats import NatsBus
from nbamcp.bus.objects_nats import NatsObjects
from tests.conftest import start_nats_server, stop_nats_server, stop_process

WAIT = 60.0  # generous: a loaded 2-core machine
TIMEOUT_S = 1.0  # one API call's timeout (publish_timeout_s) for the stream and its consumers
SETTINGS = StreamSettings(name="T_STALL", subjects="nba.events.>", ack_wait_s=30, publish_timeout_s=TIMEOUT_S)

# What is made while the server stalls -> a check that it works once the server is back.
Made = Callable[[], Awaitable[None]]


async def _consumer(bus: NatsBus) -> Made:
    events = await JetStreamEvents.open(bus, SETTINGS)
    consumer = await events.consumer("tlog", "nba.events.test")

    async def works() -> None:
        await events.publish("nba.events.test", b"e1", msg_id="m1")
        batch = await consumer.fetch(10, timeout=WAIT)
        assert [m.data for m in batch] == [b"e1"]

    return works


async def _stream(bus: NatsBus) -> Made:
    events = await JetStreamEvents.open(bus, SETTINGS)

    async def works() -> None:
        ack = await events.publish("nba.events.test", b"e1", msg_id="m1")
        assert ack.seq == 1

    return works


async def _bucket(bus: NatsBus) -> Made:
    kv = await NatsKv.open(bus, BucketSettings("t-stall", ttl_s=60.0, memory=True, max_bytes=1 << 20))

    async def works() -> None:
        await kv.put("k", b"v")
        entry = await kv.get("k")
        assert entry is not None and entry.value == b"v"

    return works


async def _objects(bus: NatsBus) -> Made:
    store = await NatsObjects.open(bus, "t-stall-objects")

    async def works() -> None:
        await store.put("a", b"payload")
        assert await store.get("a") == b"payload"

    return works


@pytest.mark.parametrize("make", [_consumer, _stream, _bucket, _objects], ids=lambda f: f.__name__[1:])
async def test_set_up_made_while_the_server_stalls_is_tried_again(
    tmp_path: Path, make: Callable[[NatsBus], Awaitable[Made]]
) -> None:
    assert SETUP_TRIES >= 3  # a timed-out try, then two with the server answering again
    server = start_nats_server(tmp_path / "nats")
    timed_out = asyncio.Event()

    def spy(_logger: object, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("event") == "jetstream.slow":
            timed_out.set()
        return event

    try:
        bus = await NatsBus.connect(server.url)
        try:
            if make is _consumer:  # the stream first: only the consumer is made during the stall
                await JetStreamEvents.open(bus, SETTINGS)
            with capture_logs(processors=[spy]) as logs:
                stop_process(server.proc.pid)  # stopped, not just signalled
                try:
                    making = asyncio.create_task(make(bus))
                    # The stall lasts until a try has timed out (the event, not a guess at timing),
                    # so the tries left have the server back whatever the machine's load.
                    async with asyncio.timeout(WAIT):
                        await timed_out.wait()
                finally:
                    server.proc.send_signal(signal.SIGCONT)
                async with asyncio.timeout(WAIT):
                    works = await making
            slow = [e for e in logs if e["event"] == "jetstream.slow"]
            assert len(slow) >= 1, logs  # timed out while stalled, and tried again
            async with asyncio.timeout(WAIT):
                await works()
        finally:
            await bus.close()
    finally:
        server.proc.send_signal(signal.SIGCONT)
        stop_nats_server(server)
