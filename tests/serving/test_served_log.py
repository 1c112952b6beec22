"""The prediction log holds what was served (issue 14, item 7): one row per served answer per
request id, the shadow-scored answers marked, nothing for an answer that never reached the caller.

Real workers (stats, trainer, inference, cache, predlog) on the in-memory bus, the front end's
PredictClient, the real SQLite log. The fault: inference's reply is lost on its way back (what
a client-side timeout does), after the worker scored the slate and published its events; the
client falls back to the cache worker's baseline under the same request id. Before the fix the
log held a model row and a baseline row for each game of that request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.config import InferenceConfig, PredlogConfig
from nbamcp.errors import Unavailable
from nbamcp.frontend.gateway import Gateway
from nbamcp.log import bind_request
from nbamcp.messages import GameQuery
from nbamcp.serving.client import PredictClient
from tests.serving.conftest import MODEL, TODAY, WAIT, Home, Models, Recorder, register, serving
from workers.cache import CacheWorker
from workers.inference import InferenceWorker
from workers.predlog import PredlogWorker

GAMES = [
    GameQuery(home="Celtics", away="Heat", date="2023-04-12"),
    GameQuery(home="Lakers", away="Nuggets", date="2023-04-13"),
]


async def rows(predlog: PredlogWorker, rid: str) -> list[tuple[Any, ...]]:
    async with aiosqlite.connect(predlog.config.predlog_path) as conn:
        cur = await conn.execute(
            "SELECT source, model_version, shadow, home, away FROM predictions WHERE request_id = ? "
            "ORDER BY home, shadow",
            (rid,),
        )
        return list(await cur.fetchall())


async def logged(predlog: PredlogWorker, recorder: Recorder) -> None:
    """Until the log worker has handled every event published so far."""
    async with asyncio.timeout(WAIT * 3):
        while predlog.inserted + predlog.duplicates < len(recorder.events):
            await predlog.consumers["predlog"].wait_progress(WAIT)


async def workers(
    bus: Bus, home: Home, **inference: Any
) -> tuple[InferenceWorker, CacheWorker, PredlogWorker]:
    config = home.config(
        inference=InferenceConfig(model_name=MODEL, **inference), predlog=PredlogConfig(max_delay_s=0.01)
    )
    ctx = await home.context(bus, config)
    return (
        InferenceWorker(ctx, today=lambda: TODAY),
        CacheWorker(ctx, today=lambda: TODAY),
        PredlogWorker(ctx),
    )


async def test_an_inference_answer_lost_on_its_way_back_is_not_in_the_log_the_baseline_is(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    inference, cache, predlog = await workers(bus, home)
    gw = Gateway(bus, timeout_s=WAIT, expected_workers=[])
    answered = 0

    async def reply_lost(endpoint: Any, request: Any, **kw: Any) -> Any:
        nonlocal answered
        reply = await gw.call(endpoint, request, **kw)
        if endpoint == ep.PREDICT:
            answered += 1  # the worker answered (and published); the caller never sees it
            raise Unavailable("the reply was lost on its way back")
        return reply

    async def no_wait(s: float) -> None:
        pass

    client = PredictClient(reply_lost, sleep=no_wait)
    async with serving(bus, home, inference, cache, predlog):
        with bind_request("lost-1"):
            out = await client.predict(GAMES)
        assert answered >= 1 and out.degraded
        assert [p.source for p in out.predictions] == ["baseline", "baseline"]
        # Inference published its model events (once, whatever the retries), the cache the baseline's.
        events = await recorder.wait_for("lost-1", 2 * len(GAMES))
        assert sorted(e.source for e in events) == ["baseline"] * 2 + ["model"] * 2
        await inference.events.flush(WAIT)
        await cache.events.flush(WAIT)
        await logged(predlog, recorder)
        assert await rows(predlog, "lost-1") == [
            ("baseline", 0, 0, "BOS", "MIA"),
            ("baseline", 0, 0, "LAL", "DEN"),
        ]
        assert predlog.plog.withdrawn == 2

        # A request inference answers is logged as the model's, untouched.
        ok = PredictClient(gw.call)
        with bind_request("served-1"):
            out = await ok.predict(GAMES)
        assert not out.degraded
        await recorder.wait_for("served-1", len(GAMES))
        await inference.events.flush(WAIT)
        await logged(predlog, recorder)
        got = await rows(predlog, "served-1")
        assert [(s, sh) for s, _, sh, *_ in got] == [("model", 0), ("model", 0)]


async def test_the_shadow_challengers_rows_are_marked_and_the_served_ones_not(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    champion = await register(home, models.lr1)
    challenger = await register(home, models.lr2, alias="challenger")
    inference, cache, predlog = await workers(bus, home, traffic="shadow")
    client = PredictClient(Gateway(bus, timeout_s=WAIT, expected_workers=[]).call)
    async with serving(bus, home, inference, cache, predlog):
        with bind_request("shadow-1"):
            out = await client.predict(GAMES)
        assert [p.model_version for p in out.predictions] == [champion, champion]
        await recorder.wait_for("shadow-1", 2 * len(GAMES))
        await inference.events.flush(WAIT)
        await logged(predlog, recorder)
        got = await rows(predlog, "shadow-1")
        assert [(s, v, sh) for s, v, sh, *_ in got] == [
            ("model", champion, 0),
            ("model", challenger, 1),
            ("model", champion, 0),
            ("model", challenger, 1),
        ]
