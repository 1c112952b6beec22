"""The roster model, the team-only model and FiveThirtyEight's forecasts on the same games.

``run_comparison`` walks forward once per model (``run_backtest``: the roster-aware
feature set fs2 and the team-only fs1, same seasons, seed and budget), then scores
every forecaster on exactly the same games: all backtested games (538 Elo covers
them), and the games where 538's RAPTOR exists (2021-2023 in the shared file).
Every difference comes with a paired bootstrap interval over game dates
(``nbamcp.ml.paired``). Data: FiveThirtyEight (CC BY 4.0).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import numpy as np

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.backtest import BacktestResult, Prediction, run_backtest
from nbamcp.ml.metrics import Scores, scores
from nbamcp.ml.paired import DEFAULT_REPLICATES, RESAMPLING_UNIT, PairedDifference, compare
from nbamcp.ml.rosters import RosterBook
from nbamcp.ml.train import DEFAULT_BUDGET, Budget, Cancel, Progress

MODELS = ("roster", "team")  # nbamcp.ml.planning.BACKTEST_MODELS
LABELS = {
    "roster": "roster model (fs2)",
    "team": "team-only model (fs1)",
    "elo538": "538 Elo",
    "raptor538": "538 RAPTOR",
}
# (a, b) pairs reported, in this order, wherever both forecasters cover the window
PAIRS = (
    ("roster", "team"),
    ("roster", "elo538"),
    ("team", "elo538"),
    ("roster", "raptor538"),
    ("team", "raptor538"),
)


class WindowReport(msgspec.Struct, frozen=True):
    """Every forecaster that covers all of a window's games, scored on exactly those games."""

    name: str
    n: int
    scores: dict[str, Scores]
    differences: list[PairedDifference]


class SeasonRow(msgspec.Struct, frozen=True):
    season: int
    n: int
    model_kinds: dict[str, str]
    scores: dict[str, Scores]  # RAPTOR only where it covers the whole season


class BacktestComparison(msgspec.Struct, frozen=True):
    from_season: int
    to_season: int
    train_from: int
    seed: int
    models: dict[str, BacktestResult]
    windows: list[WindowReport]
    seasons: list[SeasonRow]
    replicates: int
    bootstrap_seed: int
    unit: str
    seconds: float


def _column(preds: Sequence[Prediction], field: str) -> np.ndarray:
    return np.array([np.nan if getattr(p, field) is None else getattr(p, field) for p in preds])


def _window(name: str, probs: dict[str, np.ndarray], y: np.ndarray, dates: list[str], rows: np.ndarray,
            replicates: int, seed: int) -> WindowReport:  # fmt: skip
    have = {k: v[rows] for k, v in probs.items() if not np.isnan(v[rows]).any()}
    d = [dates[i] for i in rows.tolist()]
    yy = y[rows]
    diffs = []
    for a, b in PAIRS:
        if a in have and b in have:
            for metric in ("brier", "log_loss"):
                diffs.append(compare(a, have[a], b, have[b], yy, d, metric=metric, replicates=replicates,
                                     seed=seed))  # fmt: skip
    return WindowReport(name, int(rows.size), {k: scores(v, yy) for k, v in have.items()}, diffs)


def run_comparison(
    games: Sequence[GameRow],
    from_season: int,
    to_season: int,
    *,
    rosters: RosterBook | None,
    models: Sequence[str] = MODELS,
    seed: int = 0,
    train_from: int = 1990,
    valid_seasons: int = 2,
    budget: Budget = DEFAULT_BUDGET,
    n_threads: int | None = 1,
    replicates: int = DEFAULT_REPLICATES,
    bootstrap_seed: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    include_predictions: bool = False,
) -> BacktestComparison:
    """Backtest each of ``models`` ("roster" needs ``rosters``) and compare them with 538's."""
    started = time.perf_counter()
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models or len(set(models)) != len(models):
        raise InvalidInput(f"models must be distinct names from {', '.join(MODELS)}, got {list(models)}")
    if "roster" in models and rosters is None:
        raise InvalidInput(
            "the roster model needs player seasons: none were given (ingest the player tables)"
        )
    results: dict[str, BacktestResult] = {}
    for i, name in enumerate(models):

        def sub(f: float, msg: str, _i: int = i, _n: str = name) -> None:
            if progress is not None:
                progress((_i + f) / len(models), f"{_n}: {msg}")

        results[name] = run_backtest(
            games, from_season, to_season, seed=seed, train_from=train_from, valid_seasons=valid_seasons,
            budget=budget, include_predictions=True, n_threads=n_threads, progress=sub, cancel=cancel,
            rosters=rosters if name == "roster" else None,
        )  # fmt: skip
    first = results[models[0]].predictions or []
    for name in models[1:]:
        if [p.game_id for p in results[name].predictions or []] != [p.game_id for p in first]:
            raise InvalidInput(f"the {name} backtest predicted other games than the {models[0]} one")
    y = np.array([p.home_win for p in first], dtype=np.float64)
    dates = [p.date for p in first]
    season = np.array([p.season for p in first])
    probs = {name: np.array([p.p_home for p in results[name].predictions or []]) for name in models}
    probs["elo538"] = _column(first, "elo538")
    probs["raptor538"] = _column(first, "raptor538")
    everything = np.arange(len(first))
    windows = [_window(f"{from_season}-{to_season}", probs, y, dates, everything, replicates, bootstrap_seed)]
    with_raptor = np.flatnonzero(~np.isnan(probs["raptor538"]))
    if 0 < with_raptor.size < everything.size:
        span = f"{season[with_raptor].min()}-{season[with_raptor].max()}"
        windows.append(
            _window(f"RAPTOR games ({span})", probs, y, dates, with_raptor, replicates, bootstrap_seed)
        )
    season_rows = []
    for s in sorted(set(season.tolist())):
        rows = np.flatnonzero(season == s)
        have = {k: v[rows] for k, v in probs.items() if not np.isnan(v[rows]).any()}
        season_rows.append(
            SeasonRow(
                season=s,
                n=int(rows.size),
                model_kinds={
                    m: next(r.model_kind for r in results[m].seasons if r.season == s) for m in models
                },
                scores={k: scores(v, y[rows]) for k, v in have.items()},
            )
        )
    if not include_predictions:
        results = {k: msgspec.structs.replace(v, predictions=None) for k, v in results.items()}
    return BacktestComparison(
        from_season=from_season,
        to_season=to_season,
        train_from=train_from,
        seed=seed,
        models=results,
        windows=windows,
        seasons=season_rows,
        replicates=replicates,
        bootstrap_seed=bootstrap_seed,
        unit=RESAMPLING_UNIT,
        seconds=round(time.perf_counter() - started, 1),
    )


def _interval(d: PairedDifference | None) -> str:
    return "-" if d is None else f"{d.diff:+.4f} [{d.lo:+.4f}, {d.hi:+.4f}]"


def format_comparison(c: BacktestComparison) -> str:
    """Markdown: per-season Brier of every forecaster, each window's scores, the paired differences."""
    names = [*c.models, "elo538", "raptor538"]
    lines = [
        "| season | games | " + " | ".join(LABELS[n] for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for s in c.seasons:
        cells = []
        for n in names:
            sc = s.scores.get(n)
            kind = f" ({s.model_kinds[n]})" if n in s.model_kinds else ""
            cells.append("-" if sc is None else f"{sc.brier:.4f}{kind}")
        lines.append(f"| {s.season} | {s.n} | " + " | ".join(cells) + " |")
    for w in c.windows:
        lines.append(f"\n**{w.name}**, {w.n} games (every forecaster on exactly these games):\n")
        lines.append("| forecaster | Brier | log loss | accuracy |\n|---|---|---|---|")
        for n in names:
            sc = w.scores.get(n)
            if sc is not None:
                lines.append(f"| {LABELS[n]} | {sc.brier:.4f} | {sc.log_loss:.4f} | {sc.accuracy:.3f} |")
        lines.append(
            "\n| difference (a - b) | Brier [95% interval] | log loss [95% interval] |\n|---|---|---|"
        )
        by = {(d.a, d.b, d.metric): d for d in w.differences}
        for a, b in PAIRS:
            if (a, b, "brier") in by:
                lines.append(
                    f"| {LABELS[a]} - {LABELS[b]} | {_interval(by[(a, b, 'brier')])} "
                    f"| {_interval(by.get((a, b, 'log_loss')))} |"
                )
    lines.append(
        "\nCalibration over all backtested games (mean predicted P(home win) / observed home win rate):\n"
    )
    models = list(c.models)
    lines.append("| bin | " + " | ".join(f"{LABELS[m]} (games)" for m in models) + " |")
    lines.append("|---|" + "---|" * len(models))
    for i, cal in enumerate(c.models[models[0]].calibration):
        cells = []
        for m in models:
            cb = c.models[m].calibration[i]
            cells.append("-" if cb.n == 0 else f"{cb.predicted:.3f} / {cb.observed:.3f} ({cb.n})")
        lines.append(f"| {cal.lo:.1f}-{cal.hi:.1f} | " + " | ".join(cells) + " |")
    dates = c.windows[0].differences[0].n_dates if c.windows and c.windows[0].differences else 0
    lines.append(
        f"\nWalk-forward, training from {c.train_from}, seed {c.seed}; intervals: paired bootstrap over "
        f"{c.unit}s ({dates} dates in the first window), {c.replicates} replicates, seed {c.bootstrap_seed}; "
        f"negative = the first forecaster is better. {c.seconds:.0f} s. "
        "Baselines: FiveThirtyEight (CC BY 4.0)."
    )
    return "\n".join(lines)
