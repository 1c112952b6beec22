"""The front end's prediction path: retries, idempotency, circuit breaker, graceful degradation."""

from __future__ import annotations

import asyncio

import pytest

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.errors import RemoteError, Unavailable
from nbamcp.frontend.gateway import Gateway
from nbamcp.log import bind_request
from nbamcp.messages import GameQuery, PredictReply, PredictRequest, decode, encode
from nbamcp.serving.breaker import CLOSED, OPEN
from nbamcp.serving.client import PredictClient
from nbamcp.subjects import PREDICT
from tests.serving.conftest import (
    WAIT,
    FakeClock,
    Home,
    Models,
    Recorder,
    make_cache,
    make_inference,
    register,
    running,
    serving,
)

GAME = GameQuery(home="Celtics", away="Heat", date="2023-04-12")


def make_client(bus: Bus, clock: FakeClock, sleep=None) -> PredictClient:
    async def no_wait(s: float) -> None:
        pass

    return PredictClient(
        Gateway(bus, timeout_s=WAIT, expected_workers=[]).call, clock=clock, sleep=sleep or no_wait
    )


async def test_no_inference_worker_degrades_to_the_flagged_baseline(
    bus: Bus, home: Home, models: Models, clock: FakeClock, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    client = make_client(bus, clock)
    cache = await make_cache(bus, home)
    async with serving(bus, home, cache):
        with bind_request("deg-1"):
            out = await client.predict([GAME])
        (p,) = out.predictions
        assert out.degraded and p.source == "baseline" and p.model_name == "elo-baseline"
        assert "Elo rating baseline" in out.notes[0] and "no worker answers nba.predict" in out.notes[0]
        # Three failed calls (each retried) open the breaker: then inference is not even tried.
        for i in range(2):
            with bind_request(f"deg-{i + 2}"):
                await client.predict([GAME])
        assert client.inference_breaker.state == OPEN
        with bind_request("deg-4"):
            out = await client.predict([GAME])
        # The first open is short (inference.breaker_min_cooldown_s): an outage is not stretched.
        assert out.degraded and "next try in 0.5s" in out.notes[0]
        assert client.inference_breaker.rejected == 1
        assert [e.source for e in await recorder.wait_for("deg-4")] == ["baseline"]
        # Trials that nobody answers (the worker is restarting) keep the open time short: the
        # restarted worker is used within a cooldown of its start, not after a doubled one.
        for i in range(3):
            clock.advance(0.5)
            with bind_request(f"deg-trial-{i}"):
                out = await client.predict([GAME])
            assert out.degraded and client.inference_breaker.retry_in() == 0.5

        # The inference worker comes back; after the cooldown one trial call closes the breaker.
        inference = await make_inference(bus, home)
        async with running(inference):
            out = await client.predict([GAME])
            assert out.degraded  # still open: cooldown not over
            clock.advance(0.5)
            out = await client.predict([GAME])
            assert not out.degraded and out.predictions[0].source == "model"
            assert client.inference_breaker.state == CLOSED


async def test_retry_reaches_a_worker_that_was_starting(
    bus: Bus, home: Home, models: Models, clock: FakeClock
) -> None:
    await register(home, models.lr1)
    inference = await make_inference(bus, home)
    pauses: list[float] = []

    async def sleep(s: float) -> None:
        # The pause between attempts is when the worker finishes starting.
        pauses.append(s)
        if len(pauses) == 1:
            await inference.start()

    client = make_client(bus, clock, sleep=sleep)
    async with serving(bus, home):
        try:
            out = await client.predict([GAME])
        finally:
            await inference.stop(5)
    assert len(pauses) == 1 and not out.degraded and out.predictions[0].source == "model"
    assert client.inference_breaker.state == CLOSED


async def test_same_request_id_same_answer_logged_once(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    inference = await make_inference(bus, home)
    req = PredictRequest(games=[GAME, GameQuery(home="Nets", away="76ers", date="2023-04-13")])

    async def ask(rid: str) -> PredictReply:
        msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: rid})
        return decode(msg.data, PredictReply)

    async with serving(bus, home, inference):
        async with asyncio.timeout(WAIT):
            a, b = await asyncio.gather(ask("idem-1"), ask("idem-1"))  # concurrent duplicate
            c = await ask("idem-1")  # a retry after the answer
            other = await ask("idem-2")
            await recorder.wait_for("idem-2", 2)  # published after idem-1's: those are in too
    assert a == b == c and a.request_id == "idem-1"
    assert other.request_id == "idem-2"
    assert len(recorder.by("idem-1")) == 2  # two games, logged once each
    assert inference.health_detail()["idempotent_replays"] == "2"


async def test_user_errors_are_not_retried_do_not_trip_the_breaker_log_nothing(
    bus: Bus, home: Home, models: Models, clock: FakeClock, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    client = make_client(bus, clock)
    inference = await make_inference(bus, home)  # no cache worker: inference sees the bad input
    bad_slate = [GAME, GameQuery(home="Celtics", away="Boston"), GAME]
    async with serving(bus, home, inference):
        for _ in range(5):
            with pytest.raises(RemoteError) as info, bind_request("bad-1"):
                await client.predict(bad_slate)
            assert info.value.code == "invalid_input"
            assert "games[1]: home and away are the same team" in info.value.message
        assert client.inference_breaker.state == CLOSED
        with bind_request("good-1"):
            await client.predict([GAME])
        await recorder.wait_for("good-1")
    assert recorder.by("bad-1") == []  # nothing of the bad slate was logged
    assert inference.failed == 5 and inference.batcher.requests == 1


async def test_nothing_running_is_a_clear_error(bus: Bus, clock: FakeClock) -> None:
    client = make_client(bus, clock)
    with pytest.raises(Unavailable, match=r"no prediction worker is answering.*nbamcp worker inference"):
        await client.predict([GAME])
