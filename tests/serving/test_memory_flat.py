"""Bounded memory (issue 14 item 6, issue 13 item 4): RSS of the single-process server stays flat.

The whole server of ``nbamcp serve`` (every embedded worker, the front end, an MCP client) in
this process, on a copy of the serving store with a real champion, answering 500-game slates
of games never asked before: each slate fills the prediction cache (both levels), the request-id
maps, the prediction log and the monitor. The bounds are set low (what the defaults reach after
~40 slates, reached here after a few) so that the plateau comes within a CI-sized run; after the
warm-up, RSS is read after every slate and the least-squares slope over the second half of the
run must stay under ``TOLERANCE_KB`` per slate. Before the fix the cache's in-process bucket kept
every fill of its TTL: ~1,200 KB per slate, whatever the bounds.

The 2,000-slate run with the default bounds is ``bench/memory.py --slates 2000``
(docs/benchmarks.md): too long for CI (see there).
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from nbamcp.config import CacheConfig, InferenceConfig, LogConfig, TrainerConfig
from tests.memory_server import predict_slate, rss_mb, single_process, slates
from tests.serving.conftest import MODEL, Home, Models, register

WARMUP = 10  # slates before the measurement: the bounds below are all reached by then
MEASURED = 20  # slates measured; the slope is taken over the last half
TOLERANCE_KB = 150.0  # per slate: an eighth of the defect's growth, ~10x the noise measured


def slope_kb(ys: list[float]) -> float:
    """Least-squares slope of ``ys`` (MB, one per slate) in KB per slate."""
    n = len(ys)
    mx, my = (n - 1) / 2, sum(ys) / n
    num = sum((x - mx) * (y - my) for x, y in enumerate(ys))
    return num / sum((x - mx) ** 2 for x in range(n)) * 1024


@pytest.mark.memory
async def test_rss_stays_flat_over_slates_of_new_games(home: Home, models: Models) -> None:
    await register(home, models.lr1)
    config = home.config(
        trainer=TrainerConfig(model_name=MODEL, auto_train=False),
        inference=InferenceConfig(model_name=MODEL, idempotency_entries=20, idempotency_max_bytes=2**21),
        cache=CacheConfig(max_entries=2_000, kv_max_mb=4.0),
        log=LogConfig(level="warning"),
    )
    config = msgspec.structs.replace(config, stats=msgspec.structs.replace(config.stats, auto_ingest=False))
    rss: list[float] = []
    async with single_process(config) as client:
        games = slates(dt.date.today())
        for _ in range(WARMUP):
            await predict_slate(client, next(games))
        for _ in range(MEASURED):
            await predict_slate(client, next(games))
            rss.append(rss_mb())
        health = await client.call_tool("health", {})
    cache = next(w for w in health.structured_content["workers"] if w["name"] == "cache")  # type: ignore[index]
    # The run did what it claims: every slate missed and filled the cache past its bounds.
    assert int(cache["detail"]["fills"]) >= (WARMUP + MEASURED) * 500
    assert int(cache["detail"]["entries"]) <= 2_000
    half = rss[MEASURED // 2 :]
    slope = slope_kb(half)
    print(f"\nRSS after each slate: {[round(r) for r in rss]}")
    print(f"RSS over the last {len(half)} slates: {half[0]:.0f} -> {half[-1]:.0f} MB, {slope:.1f} KB/slate")
    assert slope < TOLERANCE_KB, f"RSS grows {slope:.0f} KB per slate after the warm-up: {rss}"
