"""Features of a hypothetical game on a past date: what ``LiveFeatures.resolve`` costs per game.

    NBAMCP_DATA_DIR=... .venv/bin/python bench/past_date.py [--n 200] [--rounds 5] [--store S]

The whole 538 file (1947-2023) ingested into a temporary store (or ``--store``, one made
before), read back as the workers read it, and one ``LiveFeatures`` built from it. Then,
interleaved over ``--rounds`` rounds of ``--n`` calls each, one game per call:

- ``future``: a game after the latest result (the current state: the floor of an unplayed game);
- ``played``: a game that was played (its stored row);
- ``past_any``: two teams that did not meet, on a random day of the history;
- ``past_late``: the same late in a season (the first half of April, 2019-2023: the longest replays before).

The queries come from one seeded generator, so every checkout is asked the same games. Wall and
CPU (``time.process_time``) per call, medians over the rounds; the build's CPU and the memory of
the past-date structure (the season-start copies before, ``StateHistory`` after: the bytes a
fresh unpickled copy allocates, under tracemalloc) and of the whole snapshot (``dump``). Runs
against any checkout's ``nbamcp`` on ``PYTHONPATH``, so the same script measures the code before
a change and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import pickle
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import nbamcp
from nbamcp.data.games import GameRow, load_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.ml.features import season_for_date
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.live_features import LiveFeatures

DATA = Path(os.environ.get("NBAMCP_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


async def _games(store_path: Path | None) -> list[GameRow]:
    with tempfile.TemporaryDirectory(prefix="past-date-") as tmp:
        path = store_path or Path(tmp) / "store.sqlite"
        store = await open_store(path)
        try:
            if store_path is None or not (await load_games(store.conn)):
                await ingest_paths(store, [DATA / "games" / "games_538_1947_2023.csv"])
            return await load_games(store.conn)
        finally:
            await store.close()


def _queries(live: LiveFeatures, games: list[GameRow], seed: int, n: int) -> dict[str, list[CanonicalGame]]:
    rng = random.Random(seed)
    teams: dict[int, list[str]] = {}
    for g in games:
        if g.home not in teams.setdefault(g.season, []):
            teams[g.season].append(g.home)
    latest = live.latest_date or ""

    def hypothetical(date: str) -> CanonicalGame | None:
        season = season_for_date(dt.date.fromisoformat(date))
        pool = teams.get(season)
        if not pool or date > latest:
            return None
        h, a = rng.sample(pool, 2)
        q = CanonicalGame(h, a, date, season, False, h, a)
        return q if live.played(q) is None else None

    def fill(make: Callable[[], CanonicalGame | None]) -> list[CanonicalGame]:
        out: list[CanonicalGame] = []
        while len(out) < n:
            q = make()
            if q is not None:
                out.append(q)
        return out

    def played() -> CanonicalGame:
        g = games[rng.randrange(len(games))]
        return CanonicalGame(g.home, g.away, g.date, g.season, g.neutral, g.home, g.away)

    last = teams[max(teams)]
    return {
        "future": fill(lambda: CanonicalGame(*rng.sample(last, 2), "2023-12-01", 2024, False, "h", "a")),
        "played": fill(played),
        "past_any": fill(lambda: hypothetical(games[rng.randrange(len(games))].date)),
        "past_late": fill(lambda: hypothetical(f"{rng.randrange(2019, 2024)}-04-{rng.randrange(1, 15):02d}")),
    }


def _block(live: LiveFeatures, qs: list[CanonicalGame]) -> tuple[float, float]:
    """(wall ms, CPU ms) per call over one block."""
    w, c = time.perf_counter(), time.process_time()
    for q in qs:
        live.resolve([q])
    return (time.perf_counter() - w) * 1e3 / len(qs), (time.process_time() - c) * 1e3 / len(qs)


def _allocated(obj: object) -> int:
    """Bytes a fresh copy of ``obj`` holds (unpickled under tracemalloc)."""
    data = pickle.dumps(obj, protocol=5)
    tracemalloc.start()
    copy = pickle.loads(data)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del copy
    return size


def main(args: argparse.Namespace) -> None:
    games = asyncio.run(_games(args.store))
    c = time.process_time()
    live = LiveFeatures(games)
    build_s = time.process_time() - c
    history = getattr(live, "history", None)
    structure = history if history is not None else live._snapshots  # type: ignore[attr-defined]
    qs = _queries(live, games, args.seed, args.n)
    for q in qs.values():  # warm-up
        _block(live, q[:10])
    walls: dict[str, list[float]] = {k: [] for k in qs}
    cpus: dict[str, list[float]] = {k: [] for k in qs}
    for r in range(args.rounds):
        order = list(qs) if r % 2 == 0 else list(reversed(qs))  # interleaved, both orders
        for k in order:
            w, cpu = _block(live, qs[k])
            walls[k].append(w)
            cpus[k].append(cpu)
    print(f"code: {Path(nbamcp.__file__).parent}  games: {len(games):,}  load: {os.getloadavg()[0]:.1f}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"build CPU {build_s:.2f} s; RSS max {rss_mb:.0f} MB")
    print(
        f"past-date structure: {type(structure).__name__} {_allocated(structure) / 2**20:.2f} MB allocated, "
        f"{len(pickle.dumps(structure, protocol=5)) / 2**20:.2f} MB pickled; "
        f"whole snapshot (dump) {len(live.dump()) / 2**20:.1f} MB"
    )
    print("| case | wall ms/call (min-max of rounds) | CPU ms/call (min-max) |")
    print("|---|---|---|")
    for k in qs:
        w, cpu = walls[k], cpus[k]
        print(
            f"| {k} | {statistics.median(w):.3f} ({min(w):.3f}-{max(w):.3f}) "
            f"| {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="calls per case per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, cases interleaved (default 5)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--store", type=Path, default=None, help="a store to reuse (ingested if empty)")
    main(parser.parse_args())
