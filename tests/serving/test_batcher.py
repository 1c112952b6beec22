"""Micro-batching: concurrent requests share a model call; an idle request does not wait."""

from __future__ import annotations

import asyncio

import pytest

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.messages import GameQuery, PredictReply, PredictRequest, decode, encode
from nbamcp.serving.batcher import MicroBatcher
from nbamcp.subjects import PREDICT
from tests.serving.conftest import WAIT, Home, Models, make_inference, register, serving


def doubler(calls: list[int]):
    def run(items: list[int]) -> list[int]:
        calls.append(len(items))
        return [2 * i for i in items]

    return run


async def test_concurrent_requests_share_one_call() -> None:
    calls: list[int] = []
    b = MicroBatcher(doubler(calls), max_batch=100, max_wait_s=60.0)
    async with asyncio.timeout(WAIT):
        results = await asyncio.gather(*(b.submit([i, i + 100]) for i in range(10)))
    assert results == [[2 * i, 2 * (i + 100)] for i in range(10)]
    assert calls == [20] and b.max_requests_in_batch == 10 and b.batches == 1


async def test_an_idle_request_goes_at_once() -> None:
    # max_wait is an hour: only the "nothing more arrived" rule can flush it.
    b = MicroBatcher(doubler([]), max_batch=100, max_wait_s=3600.0)
    async with asyncio.timeout(WAIT):
        assert await b.submit([1]) == [2]
        assert await b.submit([2]) == [4]
    assert b.batches == 2


async def test_full_batches_go_early_and_large_ones_are_split() -> None:
    calls: list[int] = []
    b = MicroBatcher(doubler(calls), max_batch=4, max_wait_s=3600.0)
    async with asyncio.timeout(WAIT):
        assert await b.submit(list(range(10))) == [2 * i for i in range(10)]
    assert calls == [4, 4, 2]


async def test_a_batch_closes_once_it_holds_every_request_the_worker_admits() -> None:
    calls: list[int] = []
    b = MicroBatcher(doubler(calls), max_batch=256, max_wait_s=3600.0, max_requests=4)
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*(b.submit([i]) for i in range(10)))
    assert calls == [4, 4, 2]


async def test_a_busy_loop_holds_the_batch_until_nothing_else_is_ready() -> None:
    # Requests that reach the batcher a few turns apart (as over stdio, behind the SDK's streams and
    # two bus hops) share a flush while the loop still has their steps to run.
    calls: list[int] = []
    b = MicroBatcher(doubler(calls), max_batch=256, max_wait_s=3600.0)

    async def late(i: int) -> list[int]:
        for _ in range(3 * i):  # each request a few more turns behind the one before
            await asyncio.sleep(0)
        return await b.submit([i])

    async with asyncio.timeout(WAIT):
        results = await asyncio.gather(*(late(i) for i in range(8)))
    assert results == [[2 * i] for i in range(8)]
    assert calls == [8]


async def test_two_batchers_do_not_wait_for_each_other() -> None:
    # Each one's tick is ready while the other waits: neither may take it for work (max_wait is an hour).
    a, b = (MicroBatcher(doubler([]), max_batch=100, max_wait_s=3600.0) for _ in range(2))
    async with asyncio.timeout(WAIT):
        assert await asyncio.gather(a.submit([1]), b.submit([2])) == [[2], [4]]
    assert (a.batches, b.batches, a.timeouts, b.timeouts) == (1, 1, 0, 0)


async def test_a_failing_batch_fails_its_requests_only() -> None:
    def boom(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad row")
        return items

    b = MicroBatcher(boom, max_batch=1, max_wait_s=0)
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError):
            await b.submit([13])
        assert await b.submit([1]) == [1]


async def test_inference_worker_batches_concurrent_bus_requests(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    teams = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL"]

    async def ask(i: int) -> PredictReply:
        req = PredictRequest(
            games=[GameQuery(home=teams[i % 10], away=teams[(i + 3) % 10], date="2023-04-09")]
        )
        msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: f"b{i}"})
        return decode(msg.data, PredictReply)

    async with serving(bus, home, worker):
        async with asyncio.timeout(WAIT):
            replies = await asyncio.gather(*(ask(i) for i in range(32)))
    assert all(r.predictions[0].source == "model" for r in replies)
    assert worker.batcher.requests == 32
    assert worker.batcher.max_requests_in_batch > 1
    assert worker.batcher.batches < 32
    detail = worker.health_detail()
    assert int(detail["max_batch_requests"]) > 1 and float(detail["mean_batch_rows"]) > 1
