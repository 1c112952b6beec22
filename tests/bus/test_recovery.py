"""NATS goes away and comes back (with or without its JetStream store): the bus reconnects by itself,
forever, says so while it is down, and what the process owns on the server exists again after.

Every outage is event driven: stop the server, wait until the client reports it disconnected (and,
where it matters, has tried more often than nats-py's default give-up), start it again on the
same port, wait until the link says recovered. No sleeps; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nbamcp.bus.base import Msg
from nbamcp.bus.durable import StreamSettings
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.kv import BucketSettings
from nbamcp.bus.kv_nats import NatsKv
from nbamcp.bus.link import CONNECTED, DISCONNECTED
from nbamcp.bus.nats import NatsBus
from nbamcp.errors import BusUnreachable
from tests.conftest import NatsServer, restart_nats_server, start_nats_server, stop_nats_server

WAIT = 60.0  # generous: a loaded 2-core machine
FAST = {"reconnect_time_wait": 0.01, "reconnect_max_wait": 0.05, "drain_timeout": 1.0}
NATS_PY_GIVE_UP = 10  # nats-py's default max_reconnect_attempts (what the bus used to keep)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    box = {"server": start_nats_server(tmp_path / "nats")}
    try:
        yield box
    finally:
        stop_nats_server(box["server"])


def restart(box: dict[str, NatsServer], tmp_path: Path, *, keep_store: bool) -> float:
    """Restart the box's server on its port; returns the monotonic time it accepted clients again."""
    fresh = tmp_path / f"nats-fresh-{time.monotonic_ns()}"
    box["server"] = restart_nats_server(box["server"], keep_store=keep_store, workdir=fresh)
    return time.monotonic()


async def outage(bus: NatsBus, box: dict[str, NatsServer]) -> None:
    """Stop the server; return once the client knows."""
    stop_nats_server(box["server"])
    await bus.link.wait_for(DISCONNECTED, WAIT)


async def test_reconnects_for_longer_than_the_old_give_up_and_says_so(
    server: dict[str, NatsServer], tmp_path: Path
) -> None:
    bus = await NatsBus.connect(server["server"].url, **FAST)  # type: ignore[arg-type]
    try:

        async def echo(msg: Msg) -> None:
            await msg.respond(msg.data)

        await bus.subscribe("svc.echo", echo)
        assert (await bus.request("svc.echo", b"1", timeout=5)).data == b"1"
        await outage(bus, server)
        # While down: a request fails at once (not at its timeout), and the link says why.
        # (A request that waited for its reply would hit this test's bound long before its own timeout.)
        async with asyncio.timeout(WAIT):
            with pytest.raises(BusUnreachable, match="reconnecting"):
                await bus.request("svc.echo", b"x", timeout=3600)
        assert "not connected to the bus" in bus.link.problem()
        # Outlast nats-py's default give-up (10 attempts, then a process up but dead).
        before = bus.link.attempts
        await bus.link.wait_until(lambda: bus.link.attempts > before + 2 * NATS_PY_GIVE_UP, WAIT)
        assert not bus.nc.is_closed
        back_at = restart(server, tmp_path, keep_store=True)
        await bus.link.wait_for(CONNECTED, WAIT)
        recovered_s = time.monotonic() - back_at
        assert (await bus.request("svc.echo", b"2", timeout=5)).data == b"2"  # subscriptions replayed
        assert bus.link.problem() == "" and bus.link.recoveries == 1
        print(f"\nbus recovery after a restart: {recovered_s:.3f}s (server accepting -> link recovered)")
    finally:
        async with asyncio.timeout(WAIT):
            await bus.close()


@pytest.mark.parametrize("keep_store", [True, False], ids=["same-store", "fresh-store"])
async def test_stream_consumer_and_buckets_come_back(
    server: dict[str, NatsServer], tmp_path: Path, keep_store: bool
) -> None:
    bus = await NatsBus.connect(server["server"].url, **FAST)  # type: ignore[arg-type]
    try:
        settings = StreamSettings(name="T_EVENTS", subjects="nba.events.>", ack_wait_s=30)
        events = await JetStreamEvents.open(bus, settings)
        consumer = await events.consumer("tlog", "nba.events.test")
        cache = await NatsKv.open(bus, BucketSettings("t-cache", ttl_s=600, memory=True))
        data = await NatsKv.open(bus, BucketSettings("t-data"))
        await data.put("games.2023", b"v1")
        await cache.put("k.1", b"p1")
        before = data.identity, cache.identity

        seen: list[str] = []
        changed = asyncio.Event()

        async def follow() -> None:
            # What an owner of a watch does (PredictionKv.follow, GameReplica.run): watch again
            # whenever a watch ends.
            while True:
                watch = await cache.watch()
                async for e in watch:
                    if e is not None:
                        seen.append(e.key)
                        changed.set()

        follower = asyncio.create_task(follow())
        await events.publish("nba.events.test", b"e1", msg_id="e1")
        async with asyncio.timeout(WAIT):
            (m,) = await consumer.fetch(10, 5)
            await consumer.ack_all([m])
            while "k.1" not in seen:
                changed.clear()
                await changed.wait()

        await outage(bus, server)
        back_at = restart(server, tmp_path, keep_store=keep_store)
        await bus.link.wait_for(CONNECTED, WAIT)
        recovered_s = time.monotonic() - back_at

        # The durable stream takes events again and the durable consumer gets them.
        ack = await events.publish("nba.events.test", b"e2", msg_id="e2")
        async with asyncio.timeout(WAIT):
            got: list[bytes] = []
            while b"e2" not in got:
                batch = await consumer.fetch(10, 5)
                got += [b.data for b in batch]
                await consumer.ack_all(batch)
        assert got == [b"e2"], "an acked event came back, or e2 is missing"
        assert ack.seq == (2 if keep_store else 1)
        # The buckets: a memory bucket never survives a restart; a file bucket only with its store.
        assert cache.identity != before[1]
        assert (data.identity == before[0]) is keep_store
        assert (await data.get("games.2023") is not None) is keep_store
        await cache.put("k.2", b"p2")
        async with asyncio.timeout(WAIT):
            while "k.2" not in seen:  # the watch was opened again on the new bucket
                changed.clear()
                await changed.wait()
        follower.cancel()
        store = "same" if keep_store else "fresh"
        print(f"\nstream/consumer/bucket recovery ({store} store): {recovered_s:.3f}s")
    finally:
        async with asyncio.timeout(WAIT):
            await bus.close()


async def test_a_put_finds_its_bucket_gone_and_makes_it_again(
    server: dict[str, NatsServer], tmp_path: Path
) -> None:
    # Between the reconnect and the recovery hooks (or a bucket someone deleted): the put must
    # not fail with "no stream" forever (the cache logged hundreds of warnings and never recovered).
    bus = await NatsBus.connect(server["server"].url, **FAST)  # type: ignore[arg-type]
    try:
        kv = await NatsKv.open(bus, BucketSettings("t-gone", memory=True))
        await bus.jetstream().delete_key_value("t-gone")
        assert await kv.put("a.b", b"1") >= 1
        assert (await kv.get("a.b")) is not None and kv.recreated == 1
    finally:
        async with asyncio.timeout(WAIT):
            await bus.close()
