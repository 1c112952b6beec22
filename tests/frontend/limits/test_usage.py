"""The front end's usage book over the usage worker (a real one on a bus) and over its twin: batches,
retries counted once, quotas that survive a restart and reset at UTC midnight, counts kept while the
worker is away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from nbamcp.actor import open_context
from nbamcp.bus.memory import InMemoryBus
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.limits.usage import BusUsageSink, MemoryUsageSink, UsageBook, UsageSink
from tests.contexts import home_config
from workers.usage import UsageWorker

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["twin", "worker"])
async def sink(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UsageSink]:
    if request.param == "twin":
        yield MemoryUsageSink()
        return
    bus = InMemoryBus()
    async with open_context(bus, home_config(tmp_path)) as ctx:
        worker = UsageWorker(ctx)
        await worker.start()
        try:
            yield BusUsageSink(Gateway(bus, timeout_s=10, expected_workers=["usage"]))
        finally:
            await worker.stop()
            await bus.close()


async def test_counts_go_out_in_batches_and_quotas_follow(sink: UsageSink) -> None:
    wall = Clock(T0)
    book = UsageBook(sink, wall=wall)
    with anyio.fail_after(30):
        book.charge("k1", 1)
        book.record("alice", "k1", "find_player", units=1, error=False, games=0, seconds=0.01)
        book.record("alice", "k1", "find_player", units=0, error=True, games=0, seconds=0.001)
        book.charge("k1", 5)
        book.record("alice", "k1", "predict_games", units=5, error=False, games=50, seconds=0.5)
        assert await book.units_today("k1") == 6
        assert await book.flush()
        assert await book.units_today("k1") == 6  # stored now, and not counted twice
        rows = {r.tool: r for r in await book.report("alice")}
        assert (rows["find_player"].calls, rows["find_player"].errors, rows["find_player"].units) == (2, 1, 1)
        assert (rows["predict_games"].games, rows["predict_games"].units) == (50, 5)
        assert await book.report(since=T0 + 3600) == []
        # A new front end (a restart) starts its quotas from what was stored.
        again = UsageBook(sink, wall=wall)
        assert await again.units_today("k1") == 6
        wall.t += 86_400
        assert await again.units_today("k1") == 0


async def test_a_lost_reply_is_sent_again_and_counted_once() -> None:
    class Flaky(MemoryUsageSink):
        fail_after_store = True

        async def record(self, batch):  # type: ignore[no-untyped-def]
            await super().record(batch)
            if self.fail_after_store:
                self.fail_after_store = False
                from nbamcp.errors import Unavailable

                raise Unavailable("the reply was lost")

    sink = Flaky()
    book = UsageBook(sink, wall=Clock(T0))
    book.record("alice", "k1", "find_player", units=1, error=False, games=0, seconds=0.01)
    assert not await book.flush()
    book.record("alice", "k1", "find_player", units=1, error=False, games=0, seconds=0.01)
    assert not await book.flush()  # the retried batch went through; the new count waits for the next one
    assert await book.flush()
    assert [(r.calls, r.units) for r in await sink.report(None, "")] == [(2, 2)]


async def test_counts_wait_while_the_usage_worker_is_away(tmp_path: Path) -> None:
    bus = InMemoryBus()
    clock = Clock(0.0)
    book = UsageBook(BusUsageSink(Gateway(bus, timeout_s=1, expected_workers=["usage"])), wall=Clock(T0),
                     clock=clock, retry_s=5.0)  # fmt: skip
    try:
        with anyio.fail_after(30):
            book.charge("k1", 2)
            book.record("alice", "k1", "find_player", units=2, error=False, games=0, seconds=0.01)
            assert not await book.flush()  # no usage worker on this bus
            assert await book.units_today("k1") == 2  # this process's own calls still count
            async with open_context(bus, home_config(tmp_path)) as ctx:
                worker = UsageWorker(ctx)
                await worker.start()
                assert not await book.flush()  # asked again only after retry_s
                clock.t += 5.0
                assert await book.flush()
                assert [(r.tenant, r.units) for r in await book.report()] == [("alice", 2)]
                await worker.stop()
    finally:
        await bus.close()
