"""Drift-check benchmark: what one monitor check costs, and how often a stable window alarms.

    .venv/bin/python bench/drift_check.py [--rounds 15]

Real rows: the 538 games from 2013 through the project's feature code (fs1); a reference sample
of 3,000 rows of 2016-2018 as the trainer draws it (538-style Elo probabilities as the model);
the monitor's file filled with the 2019-2020 games as served predictions (with their results).

  (a) ``DriftWatch.check`` end to end (the window query, decoding the vectors, the statistics in
      a thread, the report) for windows of 150, 500 (tests) and 2,000 (distances) games;
  (b) the PNG drift chart and reliability diagram (Pillow);
  (c) the false-alarm rate of the dataset alarm on stable windows: every run of 150 consecutive
      served games of 2019-2020 (rows outside the sample; 538 Elo probabilities).

Medians of ``--rounds`` runs; results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbamcp.messages import GameRow, PredictionEvent
from nbamcp.ml.features import build_training_matrix, feature_names
from nbamcp.ml.reference import reference_sample
from nbamcp.monitoring.charts import drift_chart, evidence, reliability_chart
from nbamcp.monitoring.drift import dataset_drift
from nbamcp.predlog.drift_watch import DriftWatch, Served, Settings
from nbamcp.predlog.outcomes import OutcomeBook
from tests.ml.csv_games import load_csv_games

NAMES = feature_names("fs1")


def elo_prob(X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 10.0 ** (-X[:, NAMES.index("elo_diff")] / 400.0))


def median_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 2)


async def main(rounds: int) -> None:
    games = [g for g in load_csv_games(season_from=2013) if g.season <= 2020]
    X, y, meta = build_training_matrix(games)
    X = X.astype(np.float64)
    fit = np.flatnonzero(np.isin(meta.season, [2016, 2017, 2018]))
    sample = reference_sample(X[fit], y[fit], elo_prob, NAMES, feature_set="fs1", seasons=[2016, 2017, 2018])
    served_rows = np.flatnonzero(np.isin(meta.season, [2019, 2020]))
    with tempfile.TemporaryDirectory() as tmp:
        book = await OutcomeBook.open(Path(tmp) / "monitor.sqlite")
        p = elo_prob(X[served_rows])
        events = [
            PredictionEvent(
                request_id=f"r{i}", ts=float(i), model_name="game", model_version=1, source="model",
                home=games[r].home, away=games[r].away, date=games[r].date, neutral=games[r].neutral,
                home_win_prob=float(p[i]), feature_set="fs1", features=X[r].tolist(), latency_ms=1.0,
                game_id=games[r].game_id,
            )
            for i, r in enumerate(served_rows)
        ]  # fmt: skip
        await book.add_predictions(events)
        rows: list[GameRow] = [games[r] for r in served_rows]
        await book.resolve(rows, date_from=rows[0].date, date_to=rows[-1].date)
        watch = DriftWatch(book, Settings())
        served = Served(model_name="game", version=1, sample=sample)
        print(f"reference {len(sample.rows)} rows; served {len(events)} games of 2019-2020")
        for n in (150, 500, 2000):
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                report = await watch.check(served, n=n)
                times.append(time.perf_counter() - t)
            tests = sorted({f.test for f in report.features if f.test})
            print(f"(a) check, window {n:>5}: median {median_ms(times)} ms  (tests: {', '.join(tests)})")
        bars = [(f.name, evidence(f.test, f.statistic, f.p_value, f.threshold), f.drifted, f.counted)
                for f in report.features]  # fmt: skip
        cal = await watch.calibration("game", 1, None)
        points = [(b.mean_predicted or 0.0, b.observed or 0.0, b.n) for b in cal.bins if b.n]
        for what, draw in (("drift chart", lambda: drift_chart(bars, "t")),
                           ("reliability", lambda: reliability_chart(points, "t"))):  # fmt: skip
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                draw()
                times.append(time.perf_counter() - t)
            print(f"(b) {what}: median {median_ms(times)} ms, {len(draw())} bytes")
        await book.close()
    # (c) stable windows outside the sample (the sample holds only 2016-2018 rows).
    W = 150
    alarms = flags = 0
    windows = [served_rows[i : i + W] for i in range(0, served_rows.size - W + 1, W)]
    for w in windows:
        ds = dataset_drift(NAMES, np.asarray(sample.rows), X[w], reference_probs=np.asarray(sample.probs),
                           current_probs=elo_prob(X[w]))  # fmt: skip
        alarms += ds.drifted
        flags += sum(c.drifted for c in ds.columns if c.counted)
    n_feat = sum(1 for n in NAMES if n not in ("season_frac", "playoff", "playin"))
    print(
        f"(c) stable windows of {W} (2019-2020 vs a 2016-2018 reference): {alarms}/{len(windows)} dataset "
        f"alarms; {flags}/{len(windows) * n_feat} feature flags ({flags / (len(windows) * n_feat):.1%})"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(ap.parse_args().rounds))
