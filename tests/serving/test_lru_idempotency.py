"""The LRU with TTL (injected clock) and the request-id memory."""

from __future__ import annotations

import asyncio

import pytest

from nbamcp.errors import InvalidInput
from nbamcp.serving.idempotency import ENTRY_OVERHEAD, IdempotencyMap
from nbamcp.serving.keys import key_teams, prediction_key
from nbamcp.serving.lru import TtlLru
from tests.serving.conftest import FakeClock


def test_hit_miss_ttl_and_lru_eviction(clock: FakeClock) -> None:
    c: TtlLru[str] = TtlLru(2, ttl_s=60, clock=clock)
    assert c.get("a") is None
    c.put("a", "A", ["BOS"])
    c.put("b", "B", ["LAL"])
    assert c.get("a") == "A"  # a is now the most recent
    c.put("c", "C", ["MIA"])  # evicts b, the least recently used
    assert c.get("b") is None and c.evicted == 1 and len(c) == 2
    clock.advance(59.9)
    assert c.get("a") == "A"
    clock.advance(0.1)
    assert c.get("a") is None and c.expired == 1


def test_drop_by_team(clock: FakeClock) -> None:
    c: TtlLru[str] = TtlLru(10, ttl_s=60, clock=clock)
    c.put("1", "x", ["BOS", "LAL"])
    c.put("2", "y", ["MIA", "BOS"])
    c.put("3", "z", ["DEN", "PHX"])
    assert c.drop_teams(["BOS"]) == 2
    assert c.get("1") is None and c.get("2") is None and c.get("3") == "z"
    assert c.drop_teams(["BOS"]) == 0
    assert c.clear() == 1 and len(c) == 0


def test_keys_name_model_game_and_results() -> None:
    k = prediction_key(
        model="game.v", champion=3, challenger=None, home="BOS", away="LAL", date="2023-04-05",
        neutral=False, home_results=70, away_results=71,
    )  # fmt: skip
    assert k == "game_v.3.0.BOS.LAL.2023-04-05.h.70.71"
    assert key_teams(k) == ("BOS", "LAL")


async def test_same_request_id_same_answer_work_done_once() -> None:
    m = IdempotencyMap(str, max_entries=2, max_bytes=1 << 20)
    calls = 0
    gate, started = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await gate.wait()
        return f"answer {calls}"

    async with asyncio.timeout(5):
        first = asyncio.create_task(m.run("r1", b"req", work))
        await started.wait()
        dup = asyncio.create_task(m.run("r1", b"req", work))  # arrives while the first runs
        gate.set()
        assert await first == await dup == "answer 1"
        assert await m.run("r1", b"req", work) == "answer 1"
    assert calls == 1 and m.replays == 2
    with pytest.raises(InvalidInput, match="already used for a different request"):
        await m.run("r1", b"other", work)


async def test_errors_are_not_remembered_and_memory_is_bounded() -> None:
    m = IdempotencyMap(int, max_entries=2, max_bytes=1 << 20)
    n = 0

    async def fail() -> int:
        raise RuntimeError("boom")

    async def ok() -> int:
        nonlocal n
        n += 1
        return n

    with pytest.raises(RuntimeError):
        await m.run("r", b"x", fail)
    assert await m.run("r", b"x", ok) == 1  # a retry after an error does the work
    await m.run("s", b"x", ok)
    await m.run("t", b"x", ok)
    assert len(m) == 2
    assert await m.run("r", b"x", ok) == 4  # forgotten (oldest): done again


async def test_replies_are_kept_within_the_byte_budget_oldest_dropped_first() -> None:
    budget = 10 * ENTRY_OVERHEAD + 3 * 10_000  # room for three 10 KB replies besides the ids
    m = IdempotencyMap(bytes, max_entries=100, max_bytes=budget)
    n = 0

    async def big() -> bytes:
        nonlocal n
        n += 1
        return bytes([n]) * 10_000

    for i in range(8):
        await m.run(f"r{i}", b"req", big)
        assert m.bytes <= budget
    assert len(m) == 8 and m.replies == 3  # every id remembered, the three newest replies kept
    assert await m.run("r7", b"req", big) == bytes([8]) * 10_000  # kept: replayed, not redone
    assert (n, m.replays) == (8, 1)
    with pytest.raises(InvalidInput, match="already used for a different request"):
        await m.run("r0", b"other", big)  # its reply is gone, its digest still checks the request
    assert await m.run("r0", b"req", big) == bytes([9]) * 10_000  # dropped: done again
    assert m.redone == 1 and m.bytes <= budget
    huge = IdempotencyMap(bytes, max_entries=100, max_bytes=5_000)
    assert await huge.run("h", b"req", big) == bytes([10]) * 10_000  # larger than the budget: not kept
    assert (len(huge), huge.replies, huge.bytes) == (1, 0, ENTRY_OVERHEAD)


async def test_the_map_keeps_a_digest_not_the_request() -> None:
    m = IdempotencyMap(int, max_entries=10, max_bytes=1 << 20)

    async def one() -> int:
        return 1

    await m.run("r", b"x" * 1_000_000, one)  # a 500-game request is ~40 KB: never kept whole
    assert m.bytes < 1_000
