"""Hostile arguments over stdio: what a refused or worst-case call costs, and what health costs
while such calls are in flight.

    .venv/bin/python bench/hostile.py [--rounds 5] [--n 30] [--home DIR]

Setup as bench/stats.py: the shared data ingested once into ``--home`` (a temp dir when not
given), then ``nbamcp serve`` over stdio with the stats worker embedded. Each round, in a
rotated order, ``--n`` calls of each case:

- ``health``: the reference;
- ``find_player`` with a 100 KB name (refused by the schema before any matching);
- ``find_player`` with 64 characters of garbage (the longest name the schema takes, matching
  nothing: the fuzzy passes over every name run in full);
- ``health`` while 8 such garbage calls are in flight (started just before it; only health is
  timed): if a hostile call held the event loop, this is where it would show.

Cells: the median of the rounds' medians [min-max], and the ratio to ``health`` in the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from harness import DATA_DIR, open_server, python_params
from mcp import ClientSession
from stats import env_for, prepare

GARBAGE = "qwzx " * 12 + "qwzx"  # 64 characters
HUGE = "a" * 100_000
IN_FLIGHT = 8


def cases(s: ClientSession) -> dict[str, Callable[[], Awaitable[float]]]:
    async def timed(name: str, args: dict[str, object]) -> float:
        t0 = time.perf_counter()
        await s.call_tool(name, args)
        return (time.perf_counter() - t0) * 1e3

    async def health_under_load() -> float:
        hostile = [
            asyncio.create_task(s.call_tool("find_player", {"query": GARBAGE})) for _ in range(IN_FLIGHT)
        ]
        await asyncio.sleep(0)  # let the requests go out before health's
        ms = await timed("health", {})
        await asyncio.gather(*hostile)
        return ms

    return {
        "health": lambda: timed("health", {}),
        "find_player, 100 KB name (refused)": lambda: timed("find_player", {"query": HUGE}),
        "find_player, 64 characters of garbage": lambda: timed("find_player", {"query": GARBAGE}),
        f"health, {IN_FLIGHT} garbage calls in flight": health_under_load,
    }


async def main(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-hostile-")))
        home.mkdir(parents=True, exist_ok=True)
        env = env_for(home, args.data_dir)
        prepare(home, env, args.data_dir)
        load = os.getloadavg()[0]
        async with open_server(python_params("-m", "nbamcp.cli", "serve", env=env)) as server:
            table = cases(server.session)
            for call in table.values():  # warm-up
                for _ in range(5):
                    await call()
            medians: dict[str, list[float]] = {name: [] for name in table}
            names = list(table)
            for r in range(args.rounds):
                k = r % len(names)
                for name in [*names[k:], *names[:k]]:
                    medians[name].append(statistics.median([await table[name]() for _ in range(args.n)]))
        print(
            f"{args.rounds} rounds x {args.n} calls per case, {os.cpu_count()} cores, "
            f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}\n"
        )
        print("| case | median ms [min-max over rounds] | x health (same round) |\n|---|---|---|")
        for name, values in medians.items():
            ratio = statistics.median(v / h for v, h in zip(values, medians["health"], strict=True))
            spread = f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"
            print(f"| {name} | {spread} | {ratio:.1f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--home", type=Path, help="reuse this home (ingested when it has no store)")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    asyncio.run(main(ap.parse_args()))
