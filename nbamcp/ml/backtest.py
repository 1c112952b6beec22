"""Walk-forward backtest, season by season, against FiveThirtyEight's forecasts.

For each season S in [from, to]: train (search + selection + refit, exactly as
``train``) on seasons ``train_from`` .. S-1, then predict every game of S in
date order. Features of a game on day d use only results before d, the same
``FeatureState`` walk as live prediction (``build_training_matrix`` computes a
whole day's features before feeding its results). FiveThirtyEight's Elo and
RAPTOR probabilities are scored on exactly the games where they exist, next to
the model's scores on that same subset. Data: FiveThirtyEight (CC BY 4.0).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import msgspec
import numpy as np

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.dataset import require_seasons, seasons_of
from nbamcp.ml.features import build_training_matrix
from nbamcp.ml.metrics import CalibrationBin, Scores, calibration_table, scores
from nbamcp.ml.rosters import RosterBook
from nbamcp.ml.train import DEFAULT_BUDGET, Budget, Cancel, Progress, train


class BaselineReport(msgspec.Struct, frozen=True):
    """A 538 forecast on the games where it exists, and the model on those same games."""

    n: int
    brier: float
    log_loss: float
    accuracy: float
    model: Scores


class Baselines(msgspec.Struct, frozen=True):
    elo538: BaselineReport | None
    raptor538: BaselineReport | None


class SeasonReport(msgspec.Struct, frozen=True):
    season: int
    model_kind: str
    fit_seasons: tuple[int, int]
    model: Scores
    baselines: Baselines
    calibration: list[CalibrationBin]


class Prediction(msgspec.Struct, frozen=True, array_like=True):
    game_id: str
    season: int
    p_home: float
    home_win: int
    elo538: float | None
    raptor538: float | None
    date: str = ""


class BacktestResult(msgspec.Struct, frozen=True):
    from_season: int
    to_season: int
    train_from: int
    seed: int
    feature_set_version: str
    overall: Scores
    baselines: Baselines
    calibration: list[CalibrationBin]
    seasons: list[SeasonReport]
    seconds: float
    predictions: list[Prediction] | None = None


def _baselines(p: np.ndarray, y: np.ndarray, elo: np.ndarray, raptor: np.ndarray) -> Baselines:
    def one(base: np.ndarray) -> BaselineReport | None:
        ok = ~np.isnan(base)
        if not ok.any():
            return None
        s = scores(base[ok], y[ok])
        return BaselineReport(s.n, s.brier, s.log_loss, s.accuracy, model=scores(p[ok], y[ok]))

    return Baselines(elo538=one(elo), raptor538=one(raptor))


def plan_backtest(
    games: Sequence[GameRow], from_season: int, to_season: int, *, train_from: int, valid_seasons: int
) -> dict[int, list[int]]:
    """Each season to predict -> the seasons its model learns from; InvalidInput when one has too few."""
    if from_season > to_season:
        raise InvalidInput(f"from_season {from_season} is after to_season {to_season}")
    if valid_seasons < 1:
        raise InvalidInput(f"valid_seasons must be at least 1, got {valid_seasons}")
    have = seasons_of(games)
    targets = [s for s in range(from_season, to_season + 1) if s in set(have)]
    require_seasons(games, targets or [from_season], what="backtest seasons")
    plan = {}
    for season in targets:
        before = [s for s in have if train_from <= s < season]
        if len(before) < valid_seasons + 2:
            raise InvalidInput(
                f"season {season}: only {len(before)} season(s) with games from train_from={train_from} "
                f"before it; need at least {valid_seasons + 2} (two to train, {valid_seasons} to validate)"
            )
        plan[season] = before
    return plan


def run_backtest(
    games: Sequence[GameRow],
    from_season: int,
    to_season: int,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    train_from: int = 1990,
    valid_seasons: int = 2,
    budget: Budget = DEFAULT_BUDGET,
    include_predictions: bool = False,
    n_threads: int | None = 1,
    rosters: RosterBook | None = None,
) -> BacktestResult:
    """Walk forward over [from_season, to_season]; see the module docstring.

    Each season's model is selected on the ``valid_seasons`` seasons just
    before it and trained on ``train_from`` up to the season before those, then
    refitted through S-1. ``games`` should hold the whole history (ratings warm
    up on every earlier game). With ``rosters`` the model is the roster-aware
    one (feature set fs2): the same point-in-time walk, the rosters as of each
    game's date.
    """
    started = time.perf_counter()
    plan = plan_backtest(games, from_season, to_season, train_from=train_from, valid_seasons=valid_seasons)
    used = [g for g in games if g.season <= to_season]
    X, y, meta = build_training_matrix(used, rosters=rosters)
    feature_set = "fs1" if rosters is None else "fs2"

    reports: list[SeasonReport] = []
    rows_all: list[np.ndarray] = []
    p_all: list[np.ndarray] = []
    targets = list(plan)
    for i, (season, before) in enumerate(plan.items()):

        def sub(f: float, msg: str, _i: int = i, _s: int = season) -> None:
            if progress is not None:
                progress((_i + f) / len(targets), f"season {_s}: {msg}")

        result = train(
            [g for g in used if g.season < season],
            train_seasons=before[:-valid_seasons],
            valid_seasons=before[-valid_seasons:],
            seed=seed,
            progress=sub,
            cancel=cancel,
            budget=budget,
            refit=True,
            export=False,
            n_threads=n_threads,
            rosters=rosters,
        )
        rows = np.flatnonzero(meta.season == season)
        p = result.pipeline.predict_proba(X[rows])[:, 1]
        rows_all.append(rows)
        p_all.append(p)
        reports.append(
            SeasonReport(
                season=season,
                model_kind=result.model_kind,
                fit_seasons=(before[0], before[-1]),
                model=scores(p, y[rows]),
                baselines=_baselines(p, y[rows], meta.elo538[rows], meta.raptor538[rows]),
                calibration=calibration_table(p, y[rows]),
            )
        )
    rows = np.concatenate(rows_all)
    p = np.concatenate(p_all)
    preds = None
    if include_predictions:
        preds = [
            Prediction(
                meta.game_id[r],
                int(meta.season[r]),
                float(pr),
                int(y[r]),
                None if math.isnan(meta.elo538[r]) else float(meta.elo538[r]),
                None if math.isnan(meta.raptor538[r]) else float(meta.raptor538[r]),
                meta.date[r],
            )
            for r, pr in zip(rows.tolist(), p.tolist(), strict=True)
        ]
    if progress is not None:
        progress(1.0, "backtest done")
    return BacktestResult(
        from_season=from_season,
        to_season=to_season,
        train_from=train_from,
        seed=seed,
        feature_set_version=feature_set,
        overall=scores(p, y[rows]),
        baselines=_baselines(p, y[rows], meta.elo538[rows], meta.raptor538[rows]),
        calibration=calibration_table(p, y[rows]),
        seasons=reports,
        seconds=round(time.perf_counter() - started, 1),
        predictions=preds,
    )
