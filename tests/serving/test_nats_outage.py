"""Chaos: nats-server stops under running workers and comes back, with or without its JetStream store.

Each worker has its own bus (its own connection, as its own process would): the owners (stats,
trainer), inference, the cache (with its shared KV level), the prediction log, and the front
end's path (gateway, predict client, the health tool). The server is stopped; once every
client reports it disconnected and has backed off to its longest interval, it is started
again on the same port. Without restarting anything: health said degraded meanwhile; model
predictions, durable prediction events and the cache's KV bucket work again; health is ok.
The recovery time (server accepting -> first model prediction) is printed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from nbamcp.bus.link import CONNECTED, DISCONNECTED
from nbamcp.bus.nats import NatsBus
from nbamcp.errors import Unavailable
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.health import HealthRequest, health_tools
from nbamcp.log import bind_request
from nbamcp.messages import GameQuery
from nbamcp.serving.client import PredictClient
from tests.conftest import NatsServer, restart_nats_server, start_nats_server, stop_nats_server
from tests.serving.conftest import (
    Home,
    Models,
    make_cache,
    make_inference,
    make_stats,
    make_trainer,
    register,
    running,
)
from workers.predlog import PredlogWorker

pytestmark = pytest.mark.chaos

WAIT = 120.0  # every wait is on an event; this only bounds a machine that is very loaded
WORKERS = ["cache", "inference", "predlog", "stats", "trainer"]
# The back-off reaches its ceiling (0.1 s doubling to 2 s) after this many attempts: the outage
# then lasts long enough that the measured recovery includes the longest wait between attempts.
ATTEMPTS_TO_CEILING = 7


async def _health(tool: Any) -> dict[str, Any]:
    result = await tool.run(HealthRequest(), None)
    return dict(result.structured_content)


async def _model_prediction(client: PredictClient, rid: str, day: int) -> None:
    with bind_request(rid):
        out = await client.predict([GameQuery(home="BOS", away="LAL", date=f"2023-04-{day:02d}")])
    (p,) = out.predictions
    assert not out.degraded and p.source == "model", out.notes


async def _logged(predlog: PredlogWorker, n: int) -> None:
    """Until the prediction log holds ``n`` rows written by this worker (batches are awaited)."""
    async with asyncio.timeout(WAIT):
        while predlog.inserted < n:
            await predlog.consumers["predlog"].wait_progress(WAIT)


@pytest.mark.parametrize("keep_store", [True, False], ids=["same-store", "fresh-store"])
async def test_workers_recover_from_a_nats_outage_by_themselves(
    tmp_path: Path, home: Home, models: Models, keep_store: bool
) -> None:
    server: NatsServer = start_nats_server(tmp_path / "nats")
    buses: list[NatsBus] = []
    try:
        for name in ["owners", "inference", "cache", "predlog", "frontend"]:
            buses.append(await NatsBus.connect(server.url, name=name, drain_timeout=1.0))
        b_own, b_inf, b_cache, b_log, b_front = buses
        await register(home, models.lr1)
        stats, trainer = await make_stats(b_own, home), await make_trainer(b_own, home)
        inference = await make_inference(b_inf, home)
        cache = await make_cache(b_cache, home)
        predlog = PredlogWorker(await home.context(b_log, home.config()))
        gw = Gateway(b_front, timeout_s=10.0, expected_workers=WORKERS)
        client = PredictClient(gw.call)
        b_front.link.on_recovery("breakers", _reset(client))
        (health,) = health_tools(gw, bus_url=server.url, timeout_s=15.0)

        async with running(stats, trainer, inference, cache, predlog):
            assert cache.kv is not None
            await _model_prediction(client, "before", 1)
            await _logged(predlog, 1)
            assert (await _health(health))["status"] == "ok"
            kv_before = cache.kv.watches

            # ---- the outage ----
            stop_nats_server(server)
            for b in buses:
                await b.link.wait_for(DISCONNECTED, WAIT)
            down = await _health(health)
            assert down["status"] == "degraded" and "not connected to the bus" in down["reasons"][0]
            assert inference.health().status == "degraded"  # what it answers once reachable again
            with bind_request("during"), pytest.raises(Unavailable):
                # Bounded: the bus refuses at once while it reconnects (no call hangs to its timeout).
                await client.predict([GameQuery(home="BOS", away="LAL", date="2023-04-02")])
            await b_front.link.wait_until(lambda: b_front.link.attempts >= ATTEMPTS_TO_CEILING, WAIT)

            # ---- back, on the same port ----
            fresh = tmp_path / "nats-fresh"
            server = restart_nats_server(server, keep_store=keep_store, workdir=fresh)
            back_at = time.monotonic()
            for b in buses:
                await b.link.wait_for(CONNECTED, WAIT)
            links_s = time.monotonic() - back_at
            await _model_prediction(client, "after", 3)
            recovered_s = time.monotonic() - back_at

            # The durable prediction events reach the log again (same consumer, maybe a new stream).
            await _logged(predlog, predlog.inserted + 1)
            # The cache's KV level works again: the fill of "after" is in the (maybe new) bucket.
            assert cache.kv.watches > kv_before  # its watch was opened again
            async with asyncio.timeout(WAIT):
                while not await cache.kv._kv.keys():
                    await cache.kv_changed.wait()
            up = await _health(health)
            assert up["status"] == "ok", up["reasons"]
            if not keep_store:
                # The owners put back what the server lost: the games dataset and the artifacts.
                assert stats.announcer.partitions_written > 0
        print(
            f"\nNATS outage ({'same' if keep_store else 'fresh'} store): links recovered {links_s:.2f}s, "
            f"first model prediction {recovered_s:.2f}s after the server accepted clients again"
        )
    finally:
        for b in buses:
            async with asyncio.timeout(WAIT):
                await b.close()
        stop_nats_server(server)


def _reset(client: PredictClient) -> Any:
    async def run() -> None:
        client.reset_breakers()

    return run
