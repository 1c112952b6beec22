"""Memory of the single-process server: RSS idle, then after 10,000 predictions.

    .venv/bin/python bench/memory.py [--predictions 10000] [--lanes 16] [--home DIR]

Uses bench/predict.py's prepared home (the 538 games, a champion). ``nbamcp serve`` in its
default configuration (every worker embedded) over stdio; RSS is read from
/proc/PID/status: after start and one prediction (idle), then after every 2,000 of
``--predictions`` predict_game calls on new games (cache misses: each fills the cache, the
idempotency maps, the prediction log and the monitor), from ``--lanes`` calls in flight, and
once more after the same number of cache hits. The bounded maps report their sizes in the
health tool. ``--caps N`` caps the prediction cache and the request-id maps at N, so the
plateau shows within the run (and ``cache.kv_max_mb`` at ~3 KB per entry). Results go to stdout.

    .venv/bin/python bench/memory.py --slates 2000 [--every 100] [--trace 200,1000] [--home DIR]

Slates instead: the same server IN THIS PROCESS (``tests/memory_server.py``: every embedded
worker, the front end, the SDK's in-memory client), ``--slates`` predict_games calls of 500
new games each (sent by the front end in parts of 100), RSS every ``--every`` slates and
the slope (KB per slate) over the second half. ``--trace A,B`` also takes tracemalloc
snapshots after slates A and B (tracing from the first slate on) and prints the 25 lines whose
allocations grew most between them (tracemalloc slows the run ~2x: quote an untraced run's slope).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import DATA_DIR, open_server, rss_mb
from predict import env_for, nbamcp_params, prepare, unique_games


def server_env(home: Path, data_dir: Path, caps: int | None) -> tuple[dict[str, str], str]:
    env = env_for(home, data_dir)
    if caps is None:
        return env, "default configuration"
    # The same server with its prediction cache and request-id maps capped low: the plateau shows.
    cfg = home / "bench-memory.toml"
    cfg.write_text(
        Path(env["NBAMCP_CONFIG"]).read_text()
        + f"\n[cache]\nmax_entries = {caps}\nkv_max_mb = {caps * 3 / 1024:.1f}\n"
        + f"\n[inference]\nidempotency_entries = {caps}\n"
    )
    env["NBAMCP_CONFIG"] = str(cfg)
    return env, f"cache.max_entries and inference.idempotency_entries = {caps:,}, cache.kv_max_mb ~3 KB each"


async def run(env: dict[str, str], what: str, total: int, lanes: int) -> str:
    games = unique_games()
    lines = [f"RSS of `nbamcp serve` ({what}), {total:,} predictions from {lanes} lanes", ""]
    async with open_server(nbamcp_params(env)) as server:
        s = server.session

        async def call(args: dict[str, Any]) -> None:
            res = await s.call_tool("predict_game", args)
            if res.is_error:
                raise SystemExit(f"predict_game failed: {res.content}")

        await call(next(games))
        lines += [
            "| after | RSS MB |",
            "|---|---|",
            f"| start + 1 prediction (idle) | {rss_mb(server.pid):.0f} |",
        ]
        asked: list[dict[str, Any]] = []
        done = 0
        while done < total:
            step = min(2000, total - done)

            async def lane(k: int) -> None:
                for _ in range(k):
                    g = next(games)
                    asked.append(g)
                    await call(g)

            await asyncio.gather(*(lane(step // lanes) for _ in range(lanes)))
            done += step // lanes * lanes
            lines.append(f"| {done:,} predictions (new games) | {rss_mb(server.pid):.0f} |")
        for start in range(0, len(asked), lanes):
            await asyncio.gather(*(call(g) for g in asked[start : start + lanes]))
        lines.append(f"| the same {len(asked):,} again (cache hits) | {rss_mb(server.pid):.0f} |")
        health = await s.call_tool("health", {})
        for w in (health.structured_content or {}).get("workers", []):
            if w["name"] in ("inference", "cache", "stats"):
                keep = ("entries", "evicted", "answers_kept", "predictions", "games", "idempotent_replays")
                detail = {k: v for k, v in w["detail"].items() if k in keep}
                lines.append(f"\n{w['name']}: {detail}")
    return "\n".join(lines)


async def run_slates(env: dict[str, str], slates: int, every: int, trace: tuple[int, int] | None) -> str:
    import datetime as dt
    import gc
    import time
    import tracemalloc

    import msgspec

    from nbamcp.config import load_config
    from nbamcp.log import configure_logging
    from tests.memory_server import predict_slate, rss_mb, single_process
    from tests.memory_server import slates as slate_games

    config = load_config(environ=env)
    if trace:  # traced, a slate takes several times as long: not the call deadline's business
        server = msgspec.structs.replace(config.server, call_deadline_s=3600.0)
        inference = msgspec.structs.replace(config.inference, timeout_s=600.0)
        config = msgspec.structs.replace(config, server=server, inference=inference)
    configure_logging(config.log.level, fmt=config.log.format)
    lines = [f"In-process single server, {slates:,} slates of 500 new games (RSS every {every})", ""]
    lines += ["| slates | RSS MB | s |", "|---|---|---|"]
    points: list[tuple[int, float]] = []
    snaps: dict[int, tracemalloc.Snapshot] = {}
    started = time.perf_counter()
    async with single_process(config) as client:
        games = slate_games(dt.date.today())
        await predict_slate(client, next(games))
        lines.append(f"| 1 (idle) | {rss_mb():.0f} | {time.perf_counter() - started:.0f} |")
        if trace:  # from here: the start-up's allocations (the replay of every game) are not traced
            tracemalloc.start(8)
        for k in range(1, slates + 1):
            await predict_slate(client, next(games))
            if trace and k in trace:
                gc.collect()
                snaps[k] = tracemalloc.take_snapshot()
            if k % every == 0:
                points.append((k, rss_mb()))
                lines.append(f"| {k:,} | {points[-1][1]:.0f} | {time.perf_counter() - started:.0f} |")
                print(lines[-1], file=sys.stderr, flush=True)  # progress: a long run can be cut short
        health = await client.call_tool("health", {})
        for w in (health.structured_content or {}).get("workers", []):
            if w["name"] in ("inference", "cache"):
                lines.append(f"\n{w['name']}: {w['detail']}")
    half = [p for p in points if p[0] > slates // 2]
    if len(half) >= 2:
        lines.append(f"\nslope over the second half: {slope_kb(half):.1f} KB per slate")
    if trace and len(snaps) == 2:
        a, b = (snaps[t] for t in trace)
        lines.append(f"\ntracemalloc, growth from slate {trace[0]} to {trace[1]} (top 25 lines):")
        for stat in b.compare_to(a, "lineno")[:25]:
            lines.append(
                f"  {stat.size_diff / 1024:+10.1f} KB {stat.count_diff:+8d} blocks  {stat.traceback[0]}"
            )
        lines.append("\nthe largest growth by traceback:")
        for stat in b.compare_to(a, "traceback")[:3]:
            lines.append(f"  {stat.size_diff / 1024:+10.1f} KB")
            lines += [f"      {frame}" for frame in stat.traceback.format()[-16:]]
    return "\n".join(lines)


def slope_kb(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS (MB) over slates, in KB per slate."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=10_000)
    ap.add_argument("--lanes", type=int, default=16)
    ap.add_argument("--home", type=Path, help="bench/predict.py's prepared home (created when missing)")
    ap.add_argument("--caps", type=int, help="cap the prediction cache and request-id maps at this size")
    ap.add_argument("--slates", type=int, help="in process: this many 500-game slates instead")
    ap.add_argument("--every", type=int, default=100, help="with --slates: RSS every this many slates")
    ap.add_argument("--trace", help="with --slates: A,B: tracemalloc diff between slates A and B")
    a = ap.parse_args()
    data_dir = DATA_DIR
    with contextlib.ExitStack() as stack:
        home = a.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-mem-")))
        prepare(home, data_dir, 1947)
        env, what = server_env(home, data_dir, a.caps)
        if a.slates:
            trace = tuple(int(t) for t in a.trace.split(",")) if a.trace else None
            assert trace is None or len(trace) == 2, "--trace A,B"
            print(asyncio.run(run_slates(env, a.slates, a.every, trace)))  # type: ignore[arg-type]
        else:
            print(asyncio.run(run(env, what, a.predictions, a.lanes)))


if __name__ == "__main__":
    main()
