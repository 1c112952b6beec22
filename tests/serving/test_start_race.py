"""A promotion announced while a serving worker starts is not missed.

A worker asks the trainer what serves during ``on_start`` and subscribes to the announcements
after it (the actor's routes come once what they use exists). A promotion announced in between
reached nobody, and the worker served the older champion (or the Elo baseline, on a cold start)
until the next promotion: seen as inference staying on the baseline after a cold start of the
Procfile under load. Here the promotion is made exactly there, by the real trainer, from the
worker's own ``on_start``; after the start the worker must serve it.
"""

from __future__ import annotations

from nbamcp.bus.base import Bus
from tests.serving.conftest import (
    Home,
    Models,
    make_cache,
    make_inference,
    promote,
    register,
    running,
    serving,
)
from workers.cache import CacheWorker
from workers.inference import InferenceWorker


async def test_a_promotion_between_the_start_and_the_subscription_is_served(
    bus: Bus, home: Home, models: Models
) -> None:
    await register(home, models.lr1)  # v1: the champion the start is told about
    await register(home, models.lr2, alias=None)
    inference = await make_inference(bus, home)
    cache = await make_cache(bus, home)
    starts = {"inference": InferenceWorker.on_start, "cache": CacheWorker.on_start}

    async def on_start_then_promotion(worker: InferenceWorker | CacheWorker) -> None:
        await starts[worker.name](worker)  # type: ignore[arg-type]
        # The trainer announces v2 now: after the worker asked, before it subscribed.
        await promote(bus, 2)

    inference.on_start = lambda: on_start_then_promotion(inference)  # type: ignore[method-assign]
    cache.on_start = lambda: on_start_then_promotion(cache)  # type: ignore[method-assign]
    async with serving(bus, home), running(inference, cache):
        assert inference.models.champion is not None and inference.models.champion.version == 2
        assert cache.aliases.get("champion") == 2
        assert inference.reloads == 2  # the start's v1, then v2; an unchanged set is not reloaded
