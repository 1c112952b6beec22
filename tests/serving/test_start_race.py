"""A promotion announced while a serving worker starts is not missed.

A worker asks the trainer what serves during ``on_start`` and subscribes to the announcements
after it (the actor's routes come once what they use exists). A promotion announced in between
reached nobody, and the worker served the older champion (or the Elo baseline, on a cold start)
until the next promotion: seen as inference staying on the baseline after a cold start of the
Procfile under load. Here the promotion is made exactly there, by the real trainer, from the
worker's own ``on_start``; after the start the worker must serve it.
"""

from __future__ import annotations

import pytest

from nbamcp.bus.base import Bus
from tests.serving.conftest import (
    MODEL,
    WAIT,
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


@pytest.mark.parametrize("worker", ["inference", "cache"])
async def test_a_promotion_between_the_start_and_the_subscription_is_served(
    bus: Bus, home: Home, models: Models, worker: str
) -> None:
    """One worker at a time: with both started in turn, the second asked the trainer after the
    first one's promotion (its start saw v2, its race was not tested), and its own promotion
    re-announced v2 to the first, which reloaded a third time (CI: ``reloads`` 3, not 2)."""
    await register(home, models.lr1)  # v1: the champion the start is told about
    await register(home, models.lr2, alias=None)
    actor = await (make_inference if worker == "inference" else make_cache)(bus, home)
    start = InferenceWorker.on_start if worker == "inference" else CacheWorker.on_start
    asked = []

    async def on_start_then_promotion() -> None:
        await start(actor)  # type: ignore[arg-type]
        asked.append(champion(actor))
        # The trainer announces v2 now: after the worker asked, before it subscribed.
        await promote(bus, 2)

    actor.on_start = on_start_then_promotion  # type: ignore[method-assign]
    async with serving(bus, home), running(actor):
        assert asked == [1]  # the start was told v1: the promotion came after it asked
        assert champion(actor) == 2
        if isinstance(actor, InferenceWorker):
            assert actor.reloads == 2  # the start's v1, then v2; an unchanged set is not reloaded


def champion(actor: InferenceWorker | CacheWorker) -> int | None:
    if isinstance(actor, InferenceWorker):
        return actor.models.champion.version if actor.models.champion is not None else None
    return actor.aliases.get("champion")


@pytest.mark.parametrize("worker", ["inference", "cache"])
async def test_a_promotion_announced_while_the_worker_was_away_from_the_bus_is_served(
    bus: Bus, home: Home, models: Models, worker: str
) -> None:
    """Core NATS keeps nothing for a client that is reconnecting (a server restart, or the server
    dropping a process whose loop stalled under load): a promotion announced meanwhile never
    reaches it, and it served the old champion until the next one. Here the alias moves in the
    registry with no announcement (the one this worker was away for); then the bus link goes down
    and recovers, as the NATS bus drives it, and the worker must serve v2."""
    await register(home, models.lr1)
    await register(home, models.lr2, alias=None)  # in the model store from the trainer's start on
    actor = await (make_inference if worker == "inference" else make_cache)(bus, home)
    async with serving(bus, home, actor) as trainer:
        assert champion(actor) == 1
        await trainer.registry.set_alias(
            MODEL, "champion", 2, actor="test", reason="announced to nobody here"
        )
        recoveries = bus.link.recoveries
        bus.link.mark_disconnected()
        bus.link.mark_reconnected()
        await bus.link.wait_until(lambda: bus.link.recoveries > recoveries, WAIT)
        assert champion(actor) == 2
