"""Training jobs on the store's games: the steps the trainer worker and the CLI share.

Plain async functions, no bus: ``load_store_games`` reads the played games from
the store, ``plan_seasons`` turns (train_from, valid_seasons) into time-ordered
season lists with clear errors, ``register_trained`` records a result in the
registry and moves ``champion`` when asked (audit trail included), and
``train_command`` / ``backtest_command`` are ``nbamcp train`` / ``nbamcp
backtest``. The ML itself is ``nbamcp.ml`` (train, backtest, registry).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from nbamcp.data.store import open_store
from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.messages import CandidateScore, OfflineMetrics, TrainJobResult
from nbamcp.ml.dataset import GameRow, load_games, seasons_of
from nbamcp.ml.registry import AliasChange, ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from nbamcp.config import Config
    from nbamcp.ml.backtest import BacktestResult
    from nbamcp.ml.train import Budget, Cancel, Progress, TrainResult

# nbamcp.ml.train and nbamcp.ml.backtest (scikit-learn: ~2 s to import) are imported where they
# run, so that `nbamcp train` / `nbamcp backtest` refuse bad arguments without that wait.

log = structlog.get_logger(__name__)

# "default" and "small" are nbamcp.ml.train's budgets; "tiny" is one logistic regression and one
# search fold: a real model in well under a second (tests, demos).
BUDGET_NAMES = ("default", "small", "tiny")
MAX_VALID_SEASONS = 10
_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # the registry's rule, checked before training


def check_budget(name: str) -> str:
    if name not in BUDGET_NAMES:
        raise InvalidInput(f"unknown budget {name!r}; choose from {', '.join(BUDGET_NAMES)}")
    return name


def budget_named(name: str) -> Budget:
    from nbamcp.ml.train import DEFAULT_BUDGET, SMALL_BUDGET, Budget

    tiny = Budget(candidates=("logreg",), lr_cs=(1.0,), cv_folds=1)
    return {"default": DEFAULT_BUDGET, "small": SMALL_BUDGET, "tiny": tiny}[check_budget(name)]


def check_model_name(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInput(f"model name {name!r} is not valid: use 1-64 of a-z 0-9 _ . - (start alnum)")
    return name


def threads_setting(threads: int) -> int | None:
    return threads or None


async def load_store_games(store_path: Path) -> list[GameRow]:
    """Every played game in the store, in date order (the whole history warms the ratings up)."""
    if not await asyncio.to_thread(store_path.exists):
        raise Unavailable(
            f"there is no store at {store_path}: run `nbamcp serve` once (the stats worker ingests "
            "NBAMCP_DATA_DIR on its first start) or ingest the games first"
        )
    store = await open_store(store_path)
    try:
        games = await load_games(store.conn)
    finally:
        await store.close()
    if not games:
        raise Unavailable(f"the store at {store_path} has no played games yet: ingest the games first")
    return games


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


def offline_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> OfflineMetrics:
    """The held-out scores a registry version recorded at training time."""
    valid = metrics.get("valid") or {}
    return OfflineMetrics(
        n=valid.get("n"),
        brier=valid.get("brier"),
        log_loss=valid.get("log_loss"),
        accuracy=valid.get("accuracy"),
        cv_log_loss=metrics.get("cv_log_loss"),
        valid_seasons=list(params.get("valid_seasons") or []),
    )


async def register_trained(
    registry: ModelRegistry,
    name: str,
    result: TrainResult,
    *,
    promote: bool | None,
    actor: str,
    reason: str,
) -> tuple[ModelVersion, AliasChange | None]:
    """Register ``result`` as the next version of ``name``; make it champion when ``promote``
    (None: only when there is no champion yet). Returns the version and the alias change."""
    from nbamcp.ml.train import register_result

    mv = await register_result(registry, name, result)
    if promote is None:
        promote = "champion" not in await registry.aliases(name)
    change = None
    if promote:
        change = await registry.set_alias(name, "champion", mv.version, actor=actor, reason=reason)
    return mv, change


async def job_result(
    registry: ModelRegistry, job_id: str, mv: ModelVersion, change: AliasChange | None, result: TrainResult
) -> TrainJobResult:
    aliases = [a for a, v in (await registry.aliases(mv.name)).items() if v == mv.version]
    return TrainJobResult(
        job_id=job_id,
        name=mv.name,
        version=mv.version,
        model_kind=mv.model_kind,
        promoted=change is not None,
        aliases=aliases,
        previous_champion=change.from_version if change is not None else None,
        train_seasons=list(mv.params["train_seasons"]),
        valid_seasons=list(mv.params["valid_seasons"]),
        valid=offline_metrics(mv.metrics, mv.params),
        candidates=[
            CandidateScore(
                name=c.name,
                cv_log_loss=c.cv_log_loss,
                brier=c.valid.brier,
                log_loss=c.valid.log_loss,
                accuracy=c.valid.accuracy,
            )
            for c in result.candidates
        ],
        training_seconds=mv.training_seconds,
        onnx_parity_max_abs_diff=mv.metrics.get("onnx_parity_max_abs_diff"),
        artifact_sha256=mv.artifact_sha256,
        artifact_size=mv.artifact_size,
        data_hash=mv.data_hash,
        uri=f"nba://models/{mv.name}/{mv.version}",
    )


def default_reason(result: TrainResult) -> str:
    v = result.metrics["valid"]
    seasons = result.params["valid_seasons"]
    return (
        f"trained {result.model_kind}: Brier {v['brier']:.4f}, log loss {v['log_loss']:.4f} "
        f"on held-out seasons {seasons[0]}-{seasons[-1]}"
    )


def format_train(r: TrainJobResult) -> str:
    """What ``nbamcp train`` prints (and the text of the ``train_model`` tool)."""
    v = r.valid
    lines = [
        f"Registered {r.name} v{r.version} ({r.model_kind}), trained on seasons "
        f"{r.train_seasons[0]}-{r.train_seasons[-1]}, selected on {r.valid_seasons[0]}-{r.valid_seasons[-1]} "
        f"and refitted through {r.valid_seasons[-1]} in {r.training_seconds:.1f} s.",
        f"Held-out ({v.n} games): Brier {v.brier:.4f}, log loss {v.log_loss:.4f}, "
        f"accuracy {100 * (v.accuracy or 0):.1f}%.",
        "Candidates (held-out Brier / log loss): "
        + ", ".join(f"{c.name} {c.brier:.4f} / {c.log_loss:.4f}" for c in r.candidates),
    ]
    if r.promoted:
        was = f" (was v{r.previous_champion})" if r.previous_champion is not None else ""
        lines.append(f"Now champion{was}.")
    else:
        lines.append(f"Not promoted (aliases: {', '.join(r.aliases) or 'none'}).")
    parity = r.onnx_parity_max_abs_diff
    lines.append(
        f"ONNX artifact sha256 {r.artifact_sha256[:12]}..., {r.artifact_size} bytes"
        + (f", parity max |dP| {parity:.1e}" if parity is not None else "")
        + f"; card: {r.uri}"
    )
    return "\n".join(lines)


def _log_progress(what: str) -> Progress:
    def progress(fraction: float, message: str) -> None:
        log.info(f"{what}.progress", percent=round(100 * fraction, 1), step=message)

    return progress


async def train_command(
    config: Config,
    *,
    name: str,
    train_from: int,
    valid_seasons: int,
    seed: int,
    promote: bool | None,
    budget: str,
    threads: int,
    cancel: Cancel | None = None,
) -> TrainJobResult:
    """``nbamcp train``: train on the store's games, register, maybe promote. Publishes nothing."""
    check_model_name(name)
    check_budget(budget)
    if not 1 <= valid_seasons <= MAX_VALID_SEASONS:
        raise InvalidInput(f"valid_seasons must be between 1 and {MAX_VALID_SEASONS}, got {valid_seasons}")
    games = await load_store_games(config.store_path)
    train_seasons, valid = plan_seasons(seasons_of(games), train_from, valid_seasons)
    from nbamcp.ml.train import train

    plan_budget = budget_named(budget)
    result = await asyncio.to_thread(
        train,
        games,
        train_seasons=train_seasons,
        valid_seasons=valid,
        seed=seed,
        budget=plan_budget,
        progress=_log_progress("train"),
        cancel=cancel,
        n_threads=threads_setting(threads),
    )
    async with await ModelRegistry.open(config.registry_path, config.artifacts_dir) as registry:
        mv, change = await register_trained(
            registry, name, result, promote=promote, actor="cli nbamcp train", reason=default_reason(result)
        )
        return await job_result(registry, "cli", mv, change, result)


async def backtest_command(
    config: Config,
    *,
    from_season: int,
    to_season: int | None,
    train_from: int,
    valid_seasons: int,
    seed: int,
    budget: str,
    threads: int,
    predictions: bool = False,
) -> BacktestResult:
    """``nbamcp backtest``: walk forward over the store's games, 538 baselines beside."""
    check_budget(budget)
    if to_season is not None and from_season > to_season:
        raise InvalidInput(f"--from-season {from_season} is after --to-season {to_season}")
    if not 1 <= valid_seasons <= MAX_VALID_SEASONS:
        raise InvalidInput(f"valid_seasons must be between 1 and {MAX_VALID_SEASONS}, got {valid_seasons}")
    games = await load_store_games(config.store_path)
    last = to_season if to_season is not None else seasons_of(games)[-1]
    from nbamcp.ml.backtest import run_backtest

    plan_budget = budget_named(budget)
    return await asyncio.to_thread(
        run_backtest,
        games,
        from_season,
        last,
        seed=seed,
        train_from=train_from,
        valid_seasons=valid_seasons,
        budget=plan_budget,
        include_predictions=predictions,
        progress=_log_progress("backtest"),
        n_threads=threads_setting(threads),
    )


async def run_offline(config: Config, args: Any) -> str:
    """Run ``nbamcp train`` / ``nbamcp backtest`` from parsed CLI arguments; the text to print."""
    t = config.trainer
    if args.threads is not None and args.threads < 0:
        raise InvalidInput(f"--threads must be 0 (library default) or more, got {args.threads}")
    if args.command == "train":
        r = await train_command(
            config,
            name=args.name or t.model_name,
            train_from=t.train_from if args.train_from is None else args.train_from,
            valid_seasons=t.valid_seasons if args.valid_seasons is None else args.valid_seasons,
            seed=t.seed if args.seed is None else args.seed,
            promote=args.promote,
            budget=args.budget or t.budget,
            threads=t.threads if args.threads is None else args.threads,
        )
        return msgspec.json.encode(r).decode() if args.json else format_train(r)
    bt = await backtest_command(
        config,
        from_season=args.from_season,
        to_season=args.to_season,
        train_from=args.train_from,
        valid_seasons=args.valid_seasons,
        seed=args.seed,
        budget=args.budget,
        threads=args.threads,
        predictions=args.predictions,
    )
    if args.json:
        return msgspec.json.encode(bt).decode()
    from nbamcp.ml.backtest import format_backtest

    return format_backtest(bt)
