"""The stats answer cache: one version of the data at a time, bounded by entries and by bytes."""

from __future__ import annotations

import shutil
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from nbamcp import endpoints as ep
from nbamcp.actor import open_context
from nbamcp.bus import InMemoryBus
from nbamcp.calls import call
from nbamcp.config import Config, PathsConfig, StatsConfig
from nbamcp.data.answers import AnswerCache
from nbamcp.log import new_request_id
from nbamcp.messages import FindPlayerRequest, IngestRequest
from workers.stats import StatsWorker


class Answer(msgspec.Struct, frozen=True):
    text: str


class Counted:
    """A computation that counts its runs."""

    def __init__(self, text: str = "x") -> None:
        self.text = text
        self.runs = 0

    async def __call__(self) -> Answer:
        self.runs += 1
        return Answer(self.text)


async def test_the_same_question_on_the_same_data_is_computed_once() -> None:
    cache, work = AnswerCache(10, 10_000), Counted()
    for _ in range(3):
        assert await cache.answer(lambda: 1, b"q", work) == Answer("x")
    assert work.runs == 1 and (cache.hits, cache.misses) == (2, 1)


async def test_new_data_starts_afresh_and_stale_answers_are_not_kept() -> None:
    cache, work = AnswerCache(10, 10_000), Counted()
    generation = 1
    await cache.answer(lambda: generation, b"q", work)
    generation = 2  # an ingest changed the data
    await cache.answer(lambda: generation, b"q", work)
    assert work.runs == 2 and len(cache) == 1
    # An answer computed while the data changed is returned, not kept.
    gens = iter([2, 3])
    assert await cache.answer(lambda: next(gens), b"other", Counted("y")) == Answer("y")
    assert cache.get(3, b"other") is None and cache.get(2, b"q") is None  # 2 is an old version now
    cache.put(2, b"late", Answer("z"))  # an answer from an older version is refused
    assert cache.get(3, b"late") is None


async def test_bounded_by_entries_least_recently_used_out_first() -> None:
    cache = AnswerCache(2, 10_000)
    for key in (b"a", b"b"):
        await cache.answer(lambda: 1, key, Counted())
    await cache.answer(lambda: 1, b"a", Counted())  # "a" is now the most recent
    await cache.answer(lambda: 1, b"c", Counted())
    assert len(cache) == 2 and cache.evicted == 1
    assert cache.get(1, b"b") is None and cache.get(1, b"a") is not None


async def test_bounded_by_bytes() -> None:
    big = "x" * 400
    cache = AnswerCache(100, 1000)
    for i in range(10):
        await cache.answer(lambda: 1, b"k%d" % i, Counted(big))
    assert 0 < cache.bytes <= 1000 and len(cache) == 2
    cache.put(1, b"huge", Answer("y" * 2000))  # larger than the whole cache: not kept
    assert cache.get(1, b"huge") is None and cache.bytes <= 1000


async def test_errors_are_not_kept_and_zero_turns_it_off() -> None:
    cache = AnswerCache(10, 10_000)

    async def fails() -> Answer:
        raise ValueError("no")

    with pytest.raises(ValueError):
        await cache.answer(lambda: 1, b"q", fails)
    assert len(cache) == 0
    off, work = AnswerCache(0, 10_000), Counted()
    await off.answer(lambda: 1, b"q", work)
    await off.answer(lambda: 1, b"q", work)
    assert work.runs == 2 and len(off) == 0
    with pytest.raises(ValueError):
        AnswerCache(-1, 10)


async def test_the_stats_worker_answers_from_it_until_an_ingest(
    tmp_path: Path, ingested_store: Path, data_dir: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ingested_store, home / "store.sqlite")
    config = Config(
        paths=PathsConfig(home=str(home), data_dir=str(data_dir)), stats=StatsConfig(auto_ingest=False)
    )
    bus = InMemoryBus()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(bus.close)
        worker = StatsWorker(await stack.enter_async_context(open_context(bus, config)))
        with anyio.fail_after(60):
            await worker.start()
        stack.push_async_callback(worker.stop, 5.0)

        async def ask(endpoint: Any, request: msgspec.Struct) -> Any:
            with anyio.fail_after(60):
                return await call(bus, endpoint, request, timeout_s=60, request_id=new_request_id())

        first = await ask(ep.FIND_PLAYER, FindPlayerRequest(query="jokic", limit=3))
        again = await ask(ep.FIND_PLAYER, FindPlayerRequest(query="jokic", limit=3))
        other = await ask(ep.FIND_PLAYER, FindPlayerRequest(query="jokic", limit=2))
        assert first == again and len(other.matches) == 2
        assert (worker.answers.hits, worker.answers.misses) == (1, 2)
        # An ingest (even one that adds nothing) is a new version of the data: asked afresh.
        await ask(ep.INGEST, IngestRequest(paths=[str(data_dir / "gamelogs" / "team_gamelog_2022-23.csv")]))
        assert await ask(ep.FIND_PLAYER, FindPlayerRequest(query="jokic", limit=3)) == first
        assert (worker.answers.hits, worker.answers.misses) == (1, 3)
