"""Planning a training run, before any fit: budgets by name, the season split, name checks.

Plain functions shared by the trainer worker and ``nbamcp train`` / ``nbamcp backtest``;
they refuse bad arguments with clear errors before scikit-learn is even imported
(``nbamcp.ml.train`` costs ~2 s to import: it is imported only where a run starts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbamcp.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from nbamcp.ml.train import Budget, TrainResult

# "default" and "small" are nbamcp.ml.train's budgets; "tiny" is one logistic regression and one
# search fold: a real model in well under a second (tests, demos).
BUDGET_NAMES = ("default", "small", "tiny")
MAX_VALID_SEASONS = 10
BACKTEST_MODELS = ("roster", "team")  # nbamcp.ml.backtest_compare.MODELS, without importing sklearn
_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # the registry's rule, checked before training


def check_budget(name: str) -> str:
    if name not in BUDGET_NAMES:
        raise InvalidInput(f"unknown budget {name!r}; choose from {', '.join(BUDGET_NAMES)}")
    return name


def budget_named(name: str) -> Budget:
    from nbamcp.ml.train import DEFAULT_BUDGET, SMALL_BUDGET, Budget

    tiny = Budget(candidates=("logreg",), lr_cs=(1.0,), cv_folds=1)
    return {"default": DEFAULT_BUDGET, "small": SMALL_BUDGET, "tiny": tiny}[check_budget(name)]


def parse_models(text: str) -> list[str]:
    """``--models roster,team`` -> the backtest's models, distinct and known."""
    models = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in models if m not in BACKTEST_MODELS]
    if bad or not models or len(set(models)) != len(models):
        raise InvalidInput(
            f"--models {text!r}: give distinct names from {', '.join(BACKTEST_MODELS)}, comma-separated"
        )
    return models


def check_model_name(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInput(f"model name {name!r} is not valid: use 1-64 of a-z 0-9 _ . - (start alnum)")
    return name


def threads_setting(threads: int) -> int | None:
    return threads or None


def plan_seasons(have: Sequence[int], train_from: int, valid_seasons: int) -> tuple[list[int], list[int]]:
    """(training seasons, validation seasons): the latest ``valid_seasons`` seasons with games are
    held out; training takes the seasons from ``train_from`` up to them (at least two)."""
    if not 1 <= valid_seasons <= MAX_VALID_SEASONS:
        raise InvalidInput(f"valid_seasons must be between 1 and {MAX_VALID_SEASONS}, got {valid_seasons}")
    seasons = sorted(set(have))
    if not seasons:
        raise Unavailable("there are no played games to train on")
    span = f"{seasons[0]}-{seasons[-1]}"
    if train_from > seasons[-1]:
        raise InvalidInput(
            f"train_from {train_from} is after the last season with games ({seasons[-1]}); "
            f"seasons with games: {span}"
        )
    valid = seasons[-valid_seasons:]
    train_seasons = [s for s in seasons[:-valid_seasons] if s >= train_from]
    if len(train_seasons) < 2:
        latest_ok = seasons[-valid_seasons - 2] if len(seasons) >= valid_seasons + 2 else None
        hint = (
            f"use train_from <= {latest_ok}"
            if latest_ok is not None
            else f"the store has only {len(seasons)} season(s) ({span})"
        )
        raise InvalidInput(
            f"train_from {train_from} leaves {len(train_seasons)} training season(s) before the "
            f"{valid_seasons} validation season(s) {valid[0]}-{valid[-1]}; at least 2 are needed: {hint}"
        )
    return train_seasons, valid


def default_reason(result: TrainResult) -> str:
    v = result.metrics["valid"]
    seasons = result.params["valid_seasons"]
    return (
        f"trained {result.model_kind}: Brier {v['brier']:.4f}, log loss {v['log_loss']:.4f} "
        f"on held-out seasons {seasons[0]}-{seasons[-1]}"
    )
