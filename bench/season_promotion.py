"""A season replay in which a better challenger IS promoted: the champion is deliberately weakened.

    .venv/bin/python bench/season_promotion.py [--from 2022-10-18] [--to 2023-01-20] [--json]
        [--weaken flip|shuffle] [--no-drift-retrain]

A fresh temporary home gets the games before ``--from`` (the same 538 file as
``bench/season.py``); its champion (v1) is trained with the tiny budget on those games,
deliberately weakened, then registered and promoted as an ordinary champion:

- ``flip`` (default): the real features, every label flipped (``build_training_matrix``
  wrapped for this one training): a model that leans towards the underdog;
- ``shuffle``: the winners of half the games swapped at random (seed 7) before the features are
  computed: a model with little skill, and a reference sample unlike any real window (every
  drift check alarms, and each drift retraining replaces the challenger before the gate has its
  games: run it with ``--no-drift-retrain``).

Then ``nbamcp replay`` runs with the default configuration (drift alarms and every 300 new
results retrain, the gate decides at 200 paired games): a retraining trains a real challenger
on the real results, it shadows the weakened champion, and the gate's paired test decides on
the realized games. Prints the replay's report (the gate's numbers, the audit trail of the
promotion) and the wall-clock seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
from harness import DATA_DIR

from nbamcp.config import Config, load_config
from nbamcp.data.games import read_played_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.log import configure_logging
from nbamcp.ml import train as train_module
from nbamcp.ml.dataset import seasons_of
from nbamcp.ml.planning import budget_named, plan_seasons
from nbamcp.ml.registration import register_trained
from nbamcp.ml.registry import ModelRegistry
from nbamcp.replay import _write, format_report, read_rows, replay


async def weakened_home(config: Config, games_csv: Path, date_from: str, weaken: str) -> str:
    """The games before ``date_from`` in the store; a weakened champion in the registry."""
    header, rows = read_rows([games_csv])
    seed_csv = _write(
        Path(config.home) / "games_538_seed.csv", header, [r for r in rows if r["date"] < date_from]
    )
    store = await open_store(config.store_path)
    try:
        await ingest_paths(store, [seed_csv])
    finally:
        await store.close()
    games = await read_played_games(config.store_path)
    t = config.trainer
    train_seasons, valid = plan_seasons(seasons_of(games), t.train_from, t.valid_seasons)
    if weaken == "shuffle":
        rng = random.Random(7)
        games = [
            msgspec.structs.replace(g, home_pts=g.away_pts, away_pts=g.home_pts) if rng.random() < 0.5 else g
            for g in games
        ]
    real_matrix = train_module.build_training_matrix

    def flipped(*args: Any, **kwargs: Any) -> Any:
        X, y, meta = real_matrix(*args, **kwargs)
        return X, 1 - y, meta

    if weaken == "flip":
        train_module.build_training_matrix = flipped  # this one training only (restored below)
    try:
        result = await asyncio.to_thread(
            train_module.train, games, train_seasons=train_seasons, valid_seasons=valid, seed=t.seed,
            budget=budget_named("tiny"),
        )  # fmt: skip
    finally:
        train_module.build_training_matrix = real_matrix
    async with await ModelRegistry.open(config.registry_path, config.artifacts_dir) as registry:
        mv, _ = await register_trained(
            registry, t.model_name, result, promote=True, actor="bench season_promotion",
            reason=f"deliberately weakened champion ({weaken}: {WEAKENINGS[weaken]})",
        )  # fmt: skip
    return f"{len(games)} games before {date_from}; weakened champion v{mv.version} ({WEAKENINGS[weaken]})"


WEAKENINGS = {
    "flip": "trained on the real features with every label flipped",
    "shuffle": "trained on results with half the winners swapped at random",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="date_from", default="2022-10-18")
    p.add_argument("--to", dest="date_to", default="2023-01-20")
    p.add_argument("--json", action="store_true")
    p.add_argument("--weaken", choices=sorted(WEAKENINGS), default="flip")
    p.add_argument(
        "--no-drift-retrain", action="store_true", help="drift alarms only alert (shuffle needs it)"
    )
    args = p.parse_args()
    config = load_config(None)
    configure_logging("warning", fmt=config.log.format)
    data = DATA_DIR
    games = data / "games" / "games_538_1947_2023.csv"
    with tempfile.TemporaryDirectory(prefix="nbamcp-promotion-") as tmp:
        config = msgspec.structs.replace(
            config,
            paths=msgspec.structs.replace(config.paths, home=tmp, data_dir=str(data)),
            # --no-drift-retrain: against a shuffled champion's reference sample every check
            # drifts, and each drift retraining replaced the challenger before the gate had its
            # 200 games (six drift jobs in 56 days, no decision): new results alone retrain.
            monitor=msgspec.structs.replace(config.monitor, retrain_on_alarm=not args.no_drift_retrain),
        )
        started = time.perf_counter()
        seeded = anyio.run(weakened_home, config, games, args.date_from, args.weaken)
        r = anyio.run(
            lambda: replay(config, [games], date_from=args.date_from, date_to=args.date_to, budget="tiny")
        )
        total = time.perf_counter() - started
    if args.json:
        print(
            msgspec.json.encode(
                msgspec.to_builtins(r) | {"weakened": seeded, "total_seconds": total}
            ).decode()
        )
    else:
        print(f"Seeded: {seeded}")
        print(format_report(r))
        print(f"Total {total:.1f} s (replayed days {r.seconds:.1f} s)")


if __name__ == "__main__":
    main()
