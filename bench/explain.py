"""Scoring and explaining predictions in process: what a prediction's factors cost per game.

    .venv/bin/python bench/explain.py [--repeats 200]

The 538 games of 2016-2023 ingested into a temporary store, a logistic regression and a
gradient-boosted tree trained on 2017-2018 by the project's trainer, then, for each model,
the median time of ``score_rows`` + ``build_prediction`` (probabilities, effects, points,
sentences, staleness) for one game and for a batch of 64, over ``--repeats`` rounds. The
games are asked on 2023-04-05 (within the data's season, a few days past its end) and on
2026-12-01 (seasons past it). Runs against any checkout's ``nbamcp`` on ``PYTHONPATH``, so
the same script measures the code before a change and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import functools
import os
import statistics
import tempfile
import time
from pathlib import Path

from nbamcp.data.games import load_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.messages import GameQuery
from nbamcp.ml.features import FEATURE_NAMES
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.train import Budget, HgbParams, train
from nbamcp.serving.canonical import canonicalize
from nbamcp.serving.explain import explainer_for
from nbamcp.serving.live_features import LiveFeatures
from nbamcp.serving.models import ModelSet, ServingModel
from nbamcp.serving.scoring import build_prediction, score_rows

TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL", "SAC"]


DATA = Path(os.environ.get("NBAMCP_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


async def _games(root: Path) -> list:
    src = DATA / "games" / "games_538_1947_2023.csv"
    part = root / "games.csv"
    with src.open(newline="") as f, part.open("w", newline="") as out:
        reader = csv.reader(f)
        header = next(reader)
        writer = csv.writer(out)
        writer.writerow(header)
        season = header.index("season")
        writer.writerows(r for r in reader if int(r[season]) >= 2016)
    store = await open_store(root / "store.sqlite")
    try:
        await ingest_paths(store, [part])
        return await load_games(store.conn)
    finally:
        await store.close()


def _median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _run(models: ModelSet, batch: list) -> None:  # type: ignore[type-arg]
    scores = score_rows(models, [x.x for x in batch], shadow=False)
    for x, s in zip(batch, scores, strict=True):
        build_prediction(x, s, top_k=5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        games = asyncio.run(_games(Path(tmp)))
    live = LiveFeatures(games)
    fit = [g for g in games if g.season <= 2019]
    budgets = {
        "logreg": Budget(candidates=("logreg",), lr_cs=(1.0,), cv_folds=1),
        "hgb": Budget(candidates=("hgb",), hgb_grid=(HgbParams(max_iter=30, max_leaf_nodes=7),), cv_folds=1),
    }
    pairs = [(TEAMS[i % 11], TEAMS[(i + 1 + i // 11) % 11]) for i in range(64)]
    pairs = [(h, a) for h, a in pairs if h != a]
    for date in ("2023-04-05", "2026-12-01"):
        today = dt.date.fromisoformat(date)
        canon = [canonicalize(GameQuery(home=h, away=a, date=date), today=today) for h, a in pairs]
        resolved = live.resolve(canon)
        for kind, budget in budgets.items():
            r = train(fit, train_seasons=[2017, 2018], valid_seasons=[2019], budget=budget)
            onnx = OnnxModel.from_bytes(r.onnx_bytes)
            explainer = explainer_for(r.onnx_bytes, onnx, r.reference, FEATURE_NAMES)
            models = ModelSet(ServingModel("game", 1, kind, "", onnx, explainer, FEATURE_NAMES))

            one = _median_ms(functools.partial(_run, models, resolved[:1]), args.repeats)
            many = _median_ms(functools.partial(_run, models, resolved), args.repeats)
            n = len(resolved)
            print(f"{date} {kind:6s} ({explainer.method}): 1 game {one:.3f} ms; {n} games {many:.2f} ms "
                  f"({many / n * 1e3:.0f} us/game)")  # fmt: skip


if __name__ == "__main__":
    main()
