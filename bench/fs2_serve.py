"""What serving fs2 costs beside fs1: the roster dataset's publication and the live feature builds.

    .venv/bin/python bench/fs2_serve.py [--store PATH] [--rounds 3] [--train]

Cases, interleaved round after round (the order rotated each round, so the machine's load hits
them alike), each with its wall time and the CPU time of this process (every thread):

- ``announce (cold)``: what the stats worker does on a first start serving fs2: read the player
  tables and the ``rosters`` table, build the ``RosterBook`` (in a thread) and write every
  season's priors into a fresh in-process data bucket (``RosterAnnouncer.announce``);
- ``announce (no change)``: the same announcer again, its rows unchanged (every reconcile);
- ``features fs1`` / ``features fs2``: ``LiveFeatures`` over every game, what inference and the
  cache build on a start without a snapshot (fs2 with the book the replica rebuilds from priors);
- with ``--train``: one training per set with the trainer's defaults (default budget, seasons
  2001-2021, held-out 2022-2023): the fs2 one with ``rosters=``, as a trainer job serving fs2.

``--store`` is a store with games and player seasons (default: a temporary one ingested from
NBAMCP_DATA_DIR's games and players, ~25 s). Results go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import DATA_DIR
from nbamcp.bus.kv import BucketSettings
from nbamcp.bus.stores import MemoryStores
from nbamcp.data.games import load_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import Store, open_store
from nbamcp.dataplane.roster_announce import RosterAnnouncer
from nbamcp.dataplane.roster_replica import priors_version
from nbamcp.log import configure_logging
from nbamcp.ml.rosters import RosterBook
from nbamcp.serving.live_features import LiveFeatures

Case = Callable[[], Awaitable[object]]


async def timed(case: Case) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    await case()
    return time.perf_counter() - wall, time.process_time() - cpu


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning")
    tmp = tempfile.TemporaryDirectory(prefix="fs2-bench-")
    path = Path(args.store) if args.store else Path(tmp.name) / "store.sqlite"
    store: Store = await open_store(path)
    if not args.store:
        await ingest_paths(store, [DATA_DIR / "games", DATA_DIR / "players"])
    games = await load_games(store.conn)
    stores = MemoryStores()
    warm = RosterAnnouncer(store, await stores.kv(BucketSettings("warm")))
    await warm.announce(full=True)
    priors = {p.season: p for p in warm.priors}
    book, version = RosterBook.from_priors(priors.values()), priors_version(priors)
    fresh = iter(range(10_000))

    async def cold() -> object:
        return await RosterAnnouncer(store, await stores.kv(BucketSettings(f"b{next(fresh)}"))).announce()

    async def again() -> object:
        return await warm.announce(full=True)

    async def fs1() -> object:
        return await asyncio.to_thread(LiveFeatures, games)

    async def fs2() -> object:
        return await asyncio.to_thread(LiveFeatures, games, book, version)

    cases: dict[str, Case] = {
        "announce (cold)": cold,
        "announce (no change)": again,
        "features fs1": fs1,
        "features fs2": fs2,
    }
    if args.train:
        from nbamcp.ml.train import train

        def fit(rosters: RosterBook | None) -> object:
            return train(games, train_seasons=range(2001, 2022), valid_seasons=[2022, 2023], rosters=rosters)

        async def train1() -> object:
            return await asyncio.to_thread(fit, None)

        async def train2() -> object:
            return await asyncio.to_thread(fit, book)

        cases |= {"train fs1 (default budget)": train1, "train fs2 (default budget)": train2}
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            results[name].append(await timed(cases[name]))
    print(f"{len(games):,} games, {len(priors)} roster seasons ({version}), {args.rounds} rounds")
    print("| case | wall s (median) | CPU s (median) |")
    print("|---|---|---|")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    await store.close()
    await stores.close()
    tmp.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", help="a store with games and player seasons (default: ingest the data)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--train", action="store_true", help="also one training per feature set a round")
    asyncio.run(main(p.parse_args()))
