"""On a real nats-server: inference instances share the load; cache instances share the KV level."""

from __future__ import annotations

import asyncio

import msgspec

from nbamcp.actor import Context
from nbamcp.bus.base import Msg
from nbamcp.bus.nats import NatsBus
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import GameQuery, GamesIngested, PredictionsServed, PredictReply, PredictRequest, decode
from nbamcp.serving.client import PredictClient
from nbamcp.subjects import PREDICT_SERVED
from tests.serving.conftest import (
    WAIT,
    Home,
    Models,
    make_cache,
    make_inference,
    make_stats,
    make_trainer,
    register,
    running,
)

TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL", "SAC", "CLE"]


async def connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, name=name)


async def test_two_inference_workers_share_the_queue_group(nats_server, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    buses = [await connect(nats_server.url, f"n{i}") for i in range(3)]
    w1, w2 = await make_inference(buses[0], home), await make_inference(buses[1], home)
    # The games reach both through the data bucket, the artifact through the object store.
    stats, trainer = await make_stats(buses[2], home), await make_trainer(buses[2], home)
    client = PredictClient(Gateway(buses[2], timeout_s=WAIT, expected_workers=[]).call)
    try:
        async with running(stats, trainer, w1, w2):
            games = [
                [GameQuery(home=TEAMS[i % 12], away=TEAMS[(i + 5) % 12], date=f"2023-04-{1 + i % 28:02d}")]
                for i in range(40)
            ]
            async with asyncio.timeout(WAIT):
                outs = await asyncio.gather(*(client.predict(g) for g in games))
            assert all(o.predictions[0].source == "model" and not o.degraded for o in outs)
            # No cache worker: the lookups failed fast (no responders) and every game went to inference.
            assert w1.predictions + w2.predictions == 40
            assert w1.predictions > 0 and w2.predictions > 0, (w1.predictions, w2.predictions)
    finally:
        for b in buses:
            await b.close()


async def until(worker, attr: str, predicate) -> None:
    """Await ``worker.<attr>`` (an event replaced after each change) until ``predicate()``."""
    async with asyncio.timeout(WAIT):
        while not predicate():
            await getattr(worker, attr).wait()


async def test_cache_instances_share_predictions_through_nats_kv(
    nats_server, home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    buses = [await connect(nats_server.url, f"c{i}") for i in range(5)]
    c1, c2 = await make_cache(buses[0], home), await make_cache(buses[1], home)
    inference = await make_inference(buses[2], home)
    stats, trainer = await make_stats(buses[3], home), await make_trainer(buses[3], home)
    client = PredictClient(Gateway(buses[3], timeout_s=WAIT, expected_workers=[]).call)
    game = GameQuery(home="Bucks", away="Heat", date="2023-04-16")
    try:
        async with running(stats, trainer, c1, c2, inference):
            assert c1.kv is not None and c2.kv is not None
            await client.predict([game])
            # One instance (queue group) takes the fill, into its L1 and the bucket; the other
            # follows the bucket and has it a moment later.
            async with asyncio.timeout(WAIT):
                while c1.fills + c2.fills == 0:
                    waits = [asyncio.ensure_future(c.filled.wait()) for c in (c1, c2)]
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for w in waits:
                        w.cancel()
            filled, other = (c1, c2) if c1.fills else (c2, c1)
            await until(other, "kv_changed", lambda: other.from_kv == 1)
            assert (filled.fills, filled.from_kv, other.fills, other.from_kv) == (1, 0, 0, 1)
            ctx = Context(request_id="kv-1", subject="nba.predict.lookup", headers={}, bus=buses[1])
            (hit,) = (await other.lookup(PredictRequest(games=[game]), ctx)).hits
            assert hit is not None and hit.cached and hit.source == "model"
            assert other.hits_l2 == 1 and other.hits_l1 == 0
            # A new instance starts warm with what the bucket holds.
            c3 = await make_cache(buses[4], home)
            async with running(c3):
                await until(c3, "kv_changed", lambda: c3.from_kv == 1)
                # New results for the Bucks: one instance purges the bucket, every follower drops the entry.
                msg = GamesIngested(game_ids=[], teams=["MIL"], date_from="2023-04-01", date_to="2023-04-01")
                await filled.purge_shared(msg, ctx)
                for c in (c1, c2, c3):
                    await until(c, "kv_changed", lambda c=c: len(c.lru) == 0)
    finally:
        for b in buses:
            await b.close()


async def test_the_reply_leaves_before_the_cache_offer(nats_server, home: Home, models: Models) -> None:
    """The offer of a fresh prediction to the cache is not on the reply's way: the inference worker
    sends the reply first. One connection's messages reach a subscriber in the order they were sent,
    so a subscriber to everything sees the worker's reply before its ``nba.predict.served`` (on main
    at d88e105 the offer was published, and awaited, before the reply: this test failed there)."""
    await register(home, models.lr1)
    buses = [await connect(nats_server.url, f"o{i}") for i in range(4)]
    inference = await make_inference(buses[0], home)
    stats, trainer = await make_stats(buses[1], home), await make_trainer(buses[1], home)
    client = PredictClient(Gateway(buses[2], timeout_s=WAIT, expected_workers=[]).call)
    seen: list[str] = []
    offered: list[str] = []
    both = asyncio.Event()

    async def tap(msg: Msg) -> None:
        if msg.subject == PREDICT_SERVED:
            seen.append("offer")
            offered.extend(e.prediction.home for e in decode(msg.data, PredictionsServed).entries)
        elif msg.subject.startswith("_INBOX."):
            try:
                decode(msg.data, PredictReply)
            except msgspec.MsgspecError:
                return  # a JetStream ack, a KV entry...
            seen.append("reply")
        if len(seen) == 2:
            both.set()

    try:
        async with running(stats, trainer, inference):
            await buses[3].subscribe(">", tap)
            await buses[3].flush()
            out = await client.predict([GameQuery(home="Bucks", away="Heat", date="2023-04-16")])
            assert out.predictions[0].source == "model"
            async with asyncio.timeout(WAIT):
                await both.wait()
            assert seen == ["reply", "offer"] and offered == ["MIL"]
    finally:
        for b in buses:
            await b.close()
