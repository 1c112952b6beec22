"""The stats queries in process: CPU per call on a first question and when asked again.

    .venv/bin/python bench/stats_queries.py --home DIR [--repeats 15] [--n 100]

``DIR`` holds an ingested store (``bench/stats.py --home DIR`` makes one). Per query
of ``bench/stats.py``'s cases, interleaved query by query:

- **first**: ``Store.bump()`` before each call, as an ingest does, so nothing the
  queries keep per version of the data (``Store.kept``) is there; the player-name index
  and the rating series, also per version but built once in ~1 s, are put back;
- **again**: the same question asked again (what ``bench/stats.py``'s "computed" row
  does with the answer cache off).

CPU of the whole process (aiosqlite's thread included) per call, median of the
first questions, mean of the repeats. The chart of ``team_rating_history`` is drawn
in both (the stats worker keeps it per version: ``bench/stats.py`` measures that path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbamcp.data import queries as q
from nbamcp.data.charts import render_rating_chart
from nbamcp.data.store import Store, open_store
from workers.stats import ELO_RATINGS


async def _rating(s: Store) -> Any:
    h = await q.team_rating_history(s, "BKN", 2019, 2023, rating=ELO_RATINGS)
    render_rating_chart(h.points, "chart")
    return h


CASES: dict[str, Callable[[Store], Awaitable[Any]]] = {
    "find_player": lambda s: q.find_player(s, "jokic", 5),
    "player_season_stats": lambda s: q.player_season_stats(s, "Michael Jordan", 1996),
    "player_career": lambda s: q.player_career(s, "Tim Duncan"),
    "compare_players": lambda s: q.compare_players(s, ["LeBron James", "Stephen Curry"], 2016),
    "team_season": lambda s: q.team_season(s, "Warriors", 2016),
    "standings": lambda s: q.standings(s, 2023),
    "games": lambda s: q.games(s, "BOS", None, 2023, None, None, "regular", 10),
    "head_to_head": lambda s: q.head_to_head(s, "Celtics", "Lakers"),
    "league_leaders": lambda s: q.league_leaders(s, "pts", 2023),
    "team_rating_history": _rating,
}


async def first(s: Store, fn: Callable[[Store], Awaitable[Any]]) -> float:
    built = {k: v for k, v in s.cache.items() if not k.startswith("kept:")}
    s.bump()
    s.cache.update(built)
    t0 = time.process_time()
    await fn(s)
    return (time.process_time() - t0) * 1e3


async def again(s: Store, fn: Callable[[Store], Awaitable[Any]], n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        await fn(s)
    return (time.process_time() - t0) * 1e3 / n


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    async with await open_store(args.home / "store.sqlite") as s:
        for fn in CASES.values():  # every per-version structure built once
            await fn(s)
        cold: dict[str, list[float]] = {k: [] for k in CASES}
        warm: dict[str, list[float]] = {k: [] for k in CASES}
        for _ in range(args.repeats):
            for name, fn in CASES.items():
                cold[name].append(await first(s, fn))
                warm[name].append(await again(s, fn, args.n // args.repeats or 1))
    print(f"load average (1 min) {load:.1f} -> {os.getloadavg()[0]:.1f}; CPU ms per call, in process")
    print("\n| query | first question | asked again |\n|---|---|---|")
    for name in CASES:
        print(f"| {name} | {statistics.median(cold[name]):.2f} | {statistics.mean(warm[name]):.2f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, required=True, help="a home with an ingested store.sqlite")
    ap.add_argument("--repeats", type=int, default=15, help="first questions per query (default 15)")
    ap.add_argument("--n", type=int, default=100, help="repeats per query in all (default 100)")
    asyncio.run(main(ap.parse_args()))
