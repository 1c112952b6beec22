"""The key-value contract: every test runs on the in-process twin and on a JetStream KV bucket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from nbamcp.bus.kv import ENTRY_OVERHEAD, BucketSettings, KeyValue, KvEntry, KvWatch, MemoryKv
from nbamcp.bus.stores import Stores
from nbamcp.errors import InvalidInput

WAIT = 10.0


async def next_item(watch: KvWatch, it: AsyncIterator[KvEntry | None]) -> KvEntry | None:
    async with asyncio.timeout(WAIT):
        return await anext(it)


async def test_put_get_purge_and_keys(stores: Stores) -> None:
    kv = await stores.kv(BucketSettings("contract"))
    assert await kv.get("games.2023") is None
    r1 = await kv.put("games.2023", b"one")
    r2 = await kv.put("games.2022", b"two")
    r3 = await kv.put("games.2023", b"three")
    assert r1 < r2 < r3
    got = await kv.get("games.2023")
    assert got is not None and (got.key, got.value, got.revision) == ("games.2023", b"three", r3)
    assert sorted(await kv.keys()) == ["games.2022", "games.2023"]
    assert await kv.keys("games.2022") == ["games.2022"]
    await kv.purge("games.2022")
    assert await kv.get("games.2022") is None and await kv.keys() == ["games.2023"]
    # The same bucket, opened again, is the same bucket.
    again = await stores.kv(BucketSettings("contract"))
    assert (await again.get("games.2023")).value == b"three"  # type: ignore[union-attr]
    assert again.identity == kv.identity


async def test_watch_replays_the_latest_then_follows(stores: Stores) -> None:
    kv = await stores.kv(BucketSettings("watched"))
    await kv.put("a.1", b"old")
    await kv.put("b.1", b"b")
    await kv.put("a.1", b"new")
    watch = await kv.watch()
    it = aiter(watch)
    first, second = await next_item(watch, it), await next_item(watch, it)
    assert first is not None and second is not None
    # The latest of each key, oldest revision first, then the marker.
    assert [(first.key, first.value), (second.key, second.value)] == [("b.1", b"b"), ("a.1", b"new")]
    assert await next_item(watch, it) is None
    rev = await kv.put("a.2", b"live")
    live = await next_item(watch, it)
    assert live is not None and (live.key, live.value, live.revision) == ("a.2", b"live", rev)
    assert abs(live.created - time.time()) < 60
    await kv.purge("b.1")
    gone = await next_item(watch, it)
    assert gone is not None and gone.key == "b.1" and gone.deleted and gone.value == b""
    await watch.stop()


async def test_a_watch_again_replays_the_purges_it_missed(stores: Stores) -> None:
    """A replica that watches again (after an outage) learns which keys were purged meanwhile: the
    replay holds each purged key's marker, in revision order, as JetStream's does."""
    kv = await stores.kv(BucketSettings("rewatched"))
    await kv.put("a.1", b"x")
    await kv.put("b.1", b"y")
    await kv.purge("a.1")
    await kv.put("c.1", b"z")
    watch = await kv.watch()
    it = aiter(watch)
    seen = []
    while (e := await next_item(watch, it)) is not None:
        seen.append((e.key, e.deleted, e.value))
    await watch.stop()
    assert seen == [("b.1", False, b"y"), ("a.1", True, b""), ("c.1", False, b"z")]
    assert await kv.get("a.1") is None and sorted(await kv.keys()) == ["b.1", "c.1"]


async def test_watch_by_pattern_and_without_values(stores: Stores) -> None:
    kv = await stores.kv(BucketSettings("patterned"))
    await kv.put("game.1.BOS.LAL", b"x" * 1000)
    await kv.put("game.1.MIA.BOS", b"y")
    await kv.put("game.1.MIA.DEN", b"z")
    watch = await kv.watch("game.*.*.BOS", meta_only=True)
    it = aiter(watch)
    e = await next_item(watch, it)
    assert e is not None and e.key == "game.1.MIA.BOS" and e.value == b""
    assert await next_item(watch, it) is None
    await watch.stop()


async def test_an_empty_bucket_is_caught_up_at_once(stores: Stores) -> None:
    kv = await stores.kv(BucketSettings("empty"))
    watch = await kv.watch()
    assert await next_item(watch, aiter(watch)) is None
    await watch.stop()


def test_the_twin_expires_entries_after_the_ttl() -> None:
    # The server expires entries on its own clock (max_age); the twin on an injected one.
    now = [1000.0]
    kv = MemoryKv(BucketSettings("short", ttl_s=60.0, memory=True), clock=lambda: now[0])

    async def run() -> None:
        await kv.put("k", b"v")
        now[0] += 59
        assert await kv.get("k") is not None and await kv.keys() == ["k"]
        now[0] += 2
        assert await kv.get("k") is None and await kv.keys() == []

    asyncio.run(run())


def test_the_twin_removes_expired_entries_instead_of_keeping_them() -> None:
    # Defect (issue 14, bounded memory): expired fills were hidden from get/keys but kept, so the
    # cache's bucket held every fill of its TTL (an hour) in the single process: ~1.4 MB a slate.
    now = [1000.0]
    kv = MemoryKv(BucketSettings("fills", ttl_s=60.0, memory=True), clock=lambda: now[0])

    async def run() -> None:
        for i in range(1000):
            await kv.put(f"game.{i}", b"x" * 100)
        assert len(kv) == 1000
        now[0] += 61
        await kv.put("game.new", b"y")  # a put removes what has expired
        assert len(kv) == 1 and kv.removed == 1000
        assert kv.bytes == len("game.new") + 1 + ENTRY_OVERHEAD

    asyncio.run(run())


def test_the_twin_holds_at_most_max_bytes_the_oldest_going_first() -> None:
    budget = 100 * (len("game.0000") + 1000 + ENTRY_OVERHEAD)
    kv = MemoryKv(BucketSettings("bounded", max_bytes=budget))

    async def run() -> None:
        for i in range(10_000):
            await kv.put(f"game.{i:04d}", b"x" * 1000)
            assert kv.bytes <= budget
        assert len(kv) == 100 and kv.removed == 9_900
        assert await kv.keys() == [f"game.{i:04d}" for i in range(9_900, 10_000)]
        # A put of a kept key renews it: the next new key pushes out the oldest OTHER one.
        await kv.put("game.9900", b"z" * 1000)
        await kv.put("game.new", b"x" * 1000)
        assert await kv.get("game.9901") is None and len(kv) == 100
        assert (await kv.get("game.9900")).value == b"z" * 1000  # type: ignore[union-attr]

    asyncio.run(run())


async def test_a_bucket_with_max_bytes_keeps_the_newest_and_never_refuses_a_put(stores: Stores) -> None:
    # JetStream's KV refuses puts past max_bytes (discard new): a bounded cache must keep the newest.
    kv = await stores.kv(BucketSettings("capped", max_bytes=64 * 1024, memory=True))
    for i in range(300):
        await kv.put(f"game.{i:03d}", b"x" * 1024)
    kept = await kv.keys()
    assert "game.299" in kept and "game.000" not in kept
    assert 16 <= len(kept) <= 64, len(kept)
    assert (await kv.get("game.299")).value == b"x" * 1024  # type: ignore[union-attr]


async def test_bad_keys_are_refused(stores: Stores) -> None:
    kv: KeyValue = await stores.kv(BucketSettings("strict"))
    for key in ("", "a..b", ".a", "a b", "a*", "a>"):
        with pytest.raises(InvalidInput, match="not valid"):
            await kv.put(key, b"v")
    with pytest.raises(InvalidInput, match="bucket name"):
        await stores.kv(BucketSettings("bad name"))


async def test_the_replay_marker_comes_after_every_replayed_entry(stores: Stores) -> None:
    """nats-py may signal the end of the replay before the entries the server already sent reach
    the watch (its consumer-info check races the delivery): a replica would call itself caught up
    with nothing in it. Many watches opened in a row, each must see all three entries first."""
    kv = await stores.kv(BucketSettings("replayed"))
    for key in ("a.1", "b.1", "c.1"):
        await kv.put(key, b"v" * 300_000)
    for _ in range(200):
        watch = await kv.watch()
        it = aiter(watch)
        seen = []
        while (e := await next_item(watch, it)) is not None:
            seen.append(e.key)
        await watch.stop()
        assert sorted(seen) == ["a.1", "b.1", "c.1"]
