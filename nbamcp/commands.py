"""The offline commands of the CLI: ``nbamcp train``, ``nbamcp backtest`` and ``nbamcp replay``.

They run in the CLI's own process on the store of ``NBAMCP_HOME`` (no bus, no
server): train on the store's games, register, maybe promote; or walk the
roster-aware and the team-only models forward over them (player seasons from
the same store) with 538's forecasts beside. The ML itself is ``nbamcp.ml``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from nbamcp.data.games import read_played_games
from nbamcp.data.players import read_player_seasons
from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.messages import TrainJobResult
from nbamcp.ml.dataset import seasons_of
from nbamcp.ml.planning import (
    MAX_VALID_SEASONS,
    budget_named,
    check_budget,
    check_model_name,
    default_reason,
    parse_models,
    plan_seasons,
    threads_setting,
)
from nbamcp.ml.registration import job_result, register_trained
from nbamcp.ml.registry import ModelRegistry
from nbamcp.progress import LogLines, Progress, cli_progress

if TYPE_CHECKING:
    from pathlib import Path

    from nbamcp.config import Config
    from nbamcp.ml.backtest_compare import BacktestComparison
    from nbamcp.ml.rosters import RosterBook
    from nbamcp.ml.train import Cancel

log = structlog.get_logger(__name__)


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
    progress: Progress | None = None,
) -> TrainJobResult:
    """``nbamcp train``: train on the store's games, register, maybe promote. Publishes nothing."""
    check_model_name(name)
    check_budget(budget)
    if not 1 <= valid_seasons <= MAX_VALID_SEASONS:
        raise InvalidInput(f"valid_seasons must be between 1 and {MAX_VALID_SEASONS}, got {valid_seasons}")
    games = await read_played_games(config.store_path)
    train_seasons, valid = plan_seasons(seasons_of(games), train_from, valid_seasons)
    # The feature set the workers serve ([features] served): a model of another set is refused.
    rosters = await read_roster_book(config.store_path) if config.features.served == "fs2" else None
    from nbamcp.ml.train import train

    plan_budget = budget_named(budget)
    result = await asyncio.to_thread(
        train,
        games,
        train_seasons=train_seasons,
        valid_seasons=valid,
        seed=seed,
        budget=plan_budget,
        progress=progress or LogLines("train"),
        cancel=cancel,
        n_threads=threads_setting(threads),
        rosters=rosters,
    )
    async with await ModelRegistry.open(config.registry_path, config.artifacts_dir) as registry:
        mv, change = await register_trained(
            registry, name, result, promote=promote, actor="cli nbamcp train", reason=default_reason(result)
        )
        return await job_result(registry, "cli", mv, change, result)


async def read_roster_book(store_path: Path) -> RosterBook:
    """The roster model of the store's player tables and live rosters: the book the stats worker
    publishes (``nbamcp.dataplane.roster_announce``), built the same way."""
    from nbamcp.data.rosters import load_rosters
    from nbamcp.data.store import open_store
    from nbamcp.ml.rosters import build_roster_book, snapshots_from_entries

    players = await read_player_seasons(store_path)
    if not players:
        raise Unavailable(
            f"the store at {store_path} has no player seasons for feature set fs2: ingest the player "
            "tables (NBAMCP_DATA_DIR/players) or serve fs1 ([features] served)"
        )
    store = await open_store(store_path)
    try:
        live = snapshots_from_entries(await load_rosters(store.conn))
    finally:
        await store.close()
    return await asyncio.to_thread(build_roster_book, players, extra=live)


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
    models: str = "roster,team",
    replicates: int = 2000,
    progress: Progress | None = None,
) -> BacktestComparison:
    """``nbamcp backtest``: walk the roster and team-only models forward over the store's games,
    538's forecasts beside them on the same games, paired bootstrap intervals."""
    check_budget(budget)
    wanted = parse_models(models)
    if not 100 <= replicates <= 100_000:
        raise InvalidInput(f"--replicates must be between 100 and 100000, got {replicates}")
    if to_season is not None and from_season > to_season:
        raise InvalidInput(f"--from-season {from_season} is after --to-season {to_season}")
    if not 1 <= valid_seasons <= MAX_VALID_SEASONS:
        raise InvalidInput(f"valid_seasons must be between 1 and {MAX_VALID_SEASONS}, got {valid_seasons}")
    games = await read_played_games(config.store_path)
    last = to_season if to_season is not None else seasons_of(games)[-1]
    from nbamcp.ml.backtest import plan_backtest

    # Refuse a bad plan before the seconds spent projecting players.
    plan_backtest(games, from_season, last, train_from=train_from, valid_seasons=valid_seasons)
    rosters = None
    if "roster" in wanted:
        players = await read_player_seasons(config.store_path)
        if not players:
            raise Unavailable(
                f"the store at {config.store_path} has no player seasons for the roster model: ingest the "
                "player tables (NBAMCP_DATA_DIR/players) or pass --models team"
            )
        from nbamcp.ml.rosters import build_roster_book

        rosters = await asyncio.to_thread(build_roster_book, players)
    from nbamcp.ml.backtest_compare import run_comparison

    plan_budget = budget_named(budget)
    return await asyncio.to_thread(
        run_comparison,
        games,
        from_season,
        last,
        rosters=rosters,
        models=wanted,
        seed=seed,
        train_from=train_from,
        valid_seasons=valid_seasons,
        budget=plan_budget,
        include_predictions=predictions,
        progress=progress or LogLines("backtest"),
        n_threads=threads_setting(threads),
        replicates=replicates,
    )


async def run_offline(config: Config, args: Any) -> str:
    """Run ``nbamcp train`` / ``nbamcp backtest`` from parsed CLI arguments; the text to print."""
    t = config.trainer
    if args.threads is not None and args.threads < 0:
        raise InvalidInput(f"--threads must be 0 (library default) or more, got {args.threads}")
    if args.command == "train":
        with cli_progress("train") as progress:
            r = await train_command(
                config,
                name=args.name or t.model_name,
                train_from=t.train_from if args.train_from is None else args.train_from,
                valid_seasons=t.valid_seasons if args.valid_seasons is None else args.valid_seasons,
                seed=t.seed if args.seed is None else args.seed,
                promote=args.promote,
                budget=args.budget or t.budget,
                threads=t.threads if args.threads is None else args.threads,
                progress=progress,
            )
        return msgspec.json.encode(r).decode() if args.json else format_train(r)
    with cli_progress("backtest") as progress:
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
            models=args.models,
            replicates=args.replicates,
            progress=progress,
        )
    if args.json:
        return msgspec.json.encode(bt).decode()
    from nbamcp.ml.backtest_compare import format_comparison

    return format_comparison(bt)


async def run_replay(config: Config, args: Any) -> str:
    """``nbamcp replay``: the season replay of ``nbamcp.replay``; the report to print."""
    from pathlib import Path

    from nbamcp.replay import format_report, replay

    if args.min_new_results is not None and args.min_new_results < 0:
        raise InvalidInput(f"--min-new-results must be 0 (off) or more, got {args.min_new_results}")
    for d in (args.date_from, args.date_to):
        if d is not None and not _is_date(d):
            raise InvalidInput(f"dates are YYYY-MM-DD, got {d!r}")
    with cli_progress("replay") as progress:
        r = await replay(
            config,
            [Path(f) for f in args.files],
            date_from=args.date_from,
            date_to=args.date_to,
            budget=args.budget,
            min_new_results=args.min_new_results,
            progress=progress,
        )
    return msgspec.json.encode(r).decode() if args.json else format_report(r)


def _is_date(s: str) -> bool:
    import datetime as dt

    try:
        dt.date.fromisoformat(s)
    except ValueError:
        return False
    return len(s) == 10
