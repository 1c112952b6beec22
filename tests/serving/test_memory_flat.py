"""Bounded memory (issue 14 item 6, issue 13 item 4): RSS of the single-process server stays flat.

The whole server of ``nbamcp serve`` (every embedded worker, the front end, an MCP client) runs
IN A PROCESS OF ITS OWN (``python -m tests.memory_server``): the RSS of this pytest process holds
whatever earlier tests allocated and freed (models trained, stores built), and the server then
reuses that memory without growing: run in here, the earlier versions of this test hid growth
that a process of its own shows. The server works on a copy of the serving store with a real
champion, answering 500-game slates of games never asked before: each slate fills the prediction
cache (both levels), the request-id maps, the prediction log and the monitor. The bounds are set
low (what the defaults reach after ~40 slates, reached here after a few) so that the plateau comes
within a CI-sized run; after the warm-up, RSS is read after every slate and the least-squares
slope over the measured slates must stay under ``TOLERANCE_KB`` per slate. The same run checks
the two bounds that held the 2,000-slate run's growth: prediction-event groups in flight
(``events.groups_in_flight``) and the writes queued for the outbox's writer.

The 2,000-slate run is ``bench/memory_internals.py`` (docs/benchmarks.md, ~17 min): too long for CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from nbamcp.config import CacheConfig, InferenceConfig, LogConfig, TrainerConfig
from tests.serving.conftest import MODEL, Home, Models, register

REPO = Path(__file__).resolve().parents[2]
# In a fresh process RSS rises for ~10-40 slates (bounds filling, allocator arenas settling; one
# run rose to slate ~36) and then moves in steps of 1-2 MB either way (docs/benchmarks.md). Over
# 40 slates one such step is ~40 KB a slate; the leaks fixed were 1,400-1,900 KB a slate.
WARMUP = 40
MEASURED = 40
TOLERANCE_KB = 250.0  # per slate
BACKLOG_MAX = 8_192  # writes queued for the outbox after a slate
# The whole run: ~0.5 s a slate on a quiet machine, ~3 s at load ~6; bounded, never a hang.
DEADLINE_S = 600.0
GRACE_S = 10.0  # after a terminate, before a kill


def slope_kb(ys: list[float]) -> float:
    """Least-squares slope of ``ys`` (MB, one per slate) in KB per slate."""
    n = len(ys)
    mx, my = (n - 1) / 2, sum(ys) / n
    num = sum((x - mx) * (y - my) for x, y in enumerate(ys))
    return num / sum((x - mx) ** 2 for x in range(n)) * 1024


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Terminate, then kill after GRACE_S: the server process never outlives the test."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        async with asyncio.timeout(GRACE_S):
            await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def run_memory_server(config_path: Path, warmup: int, measured: int) -> dict[str, Any]:
    """``python -m tests.memory_server`` in a process of its own; its JSON result."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.memory_server", str(config_path), str(warmup), str(measured),
        cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(DEADLINE_S):
            out, err = await proc.communicate()
    except TimeoutError:
        pytest.fail(f"the memory server did not finish within {DEADLINE_S:.0f} s")
    finally:
        await _stop(proc)
    assert proc.returncode == 0, f"memory server exited {proc.returncode}: {err.decode()[-3000:]}"
    result: dict[str, Any] = json.loads(out)
    return result


async def test_rss_stays_flat_over_slates_of_new_games(home: Home, models: Models, tmp_path: Path) -> None:
    await register(home, models.lr1)
    config = home.config(
        trainer=TrainerConfig(model_name=MODEL, auto_train=False),
        inference=InferenceConfig(model_name=MODEL, idempotency_entries=20, idempotency_max_bytes=2**21),
        cache=CacheConfig(max_entries=2_000, kv_max_mb=4.0),
        log=LogConfig(level="warning"),
    )
    config = msgspec.structs.replace(config, stats=msgspec.structs.replace(config.stats, auto_ingest=False))
    config_path = tmp_path / "memory.json"
    config_path.write_bytes(msgspec.json.encode(config))
    result = await run_memory_server(config_path, WARMUP, MEASURED)
    rss: list[float] = result["rss"]
    cache = result["cache"]
    # The run did what it claims: every slate missed and filled the cache past its bounds.
    assert len(rss) == MEASURED
    assert int(cache["fills"]) >= (WARMUP + MEASURED) * 500
    assert int(cache["entries"]) <= 2_000
    # What grew without bound behind a slow outbox writer (docs/benchmarks.md) stays bounded.
    assert result["event_logs"] == 2  # inference's and cache's: the readings are of real logs
    assert result["in_flight"] <= config.events.groups_in_flight
    # A writer that keeps up holds a few groups' writes (<= 502 over a 2,000-slate run); the one
    # that fell behind held 49,092.
    assert result["backlog"] <= BACKLOG_MAX, f"the outbox's writer fell behind: {result['backlog']} writes"
    slope = slope_kb(rss)
    print(f"\nRSS after each measured slate: {[round(r) for r in rss]}")
    span = f"{rss[0]:.0f} -> {rss[-1]:.0f} MB"
    print(f"RSS over {len(rss)} slates after {WARMUP}: {span}, {slope:.1f} KB per slate")
    assert slope < TOLERANCE_KB, f"RSS grows {slope:.0f} KB per slate after the warm-up: {rss}"
