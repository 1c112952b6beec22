"""The ``nbamcp`` command: serve, worker, and the offline jobs.

Every expected failure (bad config, unreachable NATS, bad arguments) ends the
process with ONE line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence

import anyio

from nbamcp import __version__
from nbamcp.config import Config, load_config
from nbamcp.errors import ConfigError, InvalidInput, NbaError
from nbamcp.log import configure_logging

EXIT_CONFIG = 2
EXIT_FAILURE = 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nbamcp", description="NBA stats and predictions over MCP.")
    p.add_argument("--version", action="version", version=f"nbamcp {__version__}")
    p.add_argument("--config", help="extra TOML file layered over configs/ (also NBAMCP_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    s.add_argument("--transport", choices=["stdio", "sse", "http"], help="default: server.transport")
    s.add_argument("--host", help="bind address for sse/http (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port for sse/http (default 8000)")
    s.add_argument("--bus", help="memory:// (default: every worker in this process) or nats://HOST:PORT")
    s.add_argument(
        "--no-auth",
        action="store_true",
        help="sse/http without API keys (loopback binds only; logs a warning)",
    )

    w = sub.add_parser("worker", help="run one worker in this process (needs --bus nats://...)")
    w.add_argument("name", help="worker name, e.g. stats")
    w.add_argument("--bus", help="nats://HOST:PORT (default: bus.url)")
    w.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on metrics.host:PORT")

    k = sub.add_parser("keys", help="API keys for the HTTP/SSE front end (stored hashed)")
    ks = k.add_subparsers(dest="keys_command", required=True)
    kc = ks.add_parser("create", help="create a key and print it (the only time it is shown)")
    kc.add_argument("--tenant", required=True, help="who the key is for (usage and logs are per tenant)")
    kc.add_argument(
        "--scopes", default="read", help="comma-separated: read, predict, admin, metrics (default read)"
    )
    kc.add_argument(
        "--rate-per-minute", type=float, help="units per minute (default: limits.rate_per_minute)"
    )
    kc.add_argument("--burst", type=int, help="bucket size in units (default: limits.burst)")
    kc.add_argument(
        "--daily-quota", type=int, help="units per UTC day, 0 = none (default: limits.daily_quota)"
    )
    kc.add_argument("--note", default="", help="a free-text note shown by `keys list`")
    kc.add_argument("--json", action="store_true", help="print one JSON object")
    kl = ks.add_parser("list", help="list keys (ids, tenants, scopes, limits; never the secrets)")
    kl.add_argument("--json", action="store_true", help="print one JSON array")
    kr = ks.add_parser("revoke", help="revoke a key: refused from its next request on")
    kr.add_argument("id", help="the key id (`nbamcp keys list`)")

    bk = sub.add_parser("backup", help="back up this home (or, with --bus, every worker's) while it runs")
    bk.add_argument("dest", nargs="?", help="folder the backups go in (default: backup.dir)")
    bk.add_argument("--keep", type=int, help="complete backups kept in DEST (default: backup.keep)")
    bk.add_argument(
        "--bus", help="nats://HOST:PORT: every worker backs up its own home into DEST (on its machine)"
    )
    bk.add_argument("--json", action="store_true", help="print one JSON object")
    rs = sub.add_parser("restore", help="verify a backup, then restore it into this home (server stopped)")
    rs.add_argument("src", help="a backup folder (nbamcp-<time>), or a folder of them (the latest)")
    rs.add_argument("--part", help="in a backup of every worker (--bus): the worker part to restore")
    rs.add_argument("--force", action="store_true", help="replace the files the home holds")
    rs.add_argument("--check", action="store_true", help="verify only: write nothing")
    rs.add_argument("--json", action="store_true", help="print one JSON object")

    i = sub.add_parser(
        "ingest", help="ingest data files into the store (offline; a running server: ingest_games)"
    )
    i.add_argument("paths", nargs="*", help="files or folders (every supported file inside, layout detected)")
    i.add_argument("--format", default="auto", help="auto (default) or a layout name")
    i.add_argument(
        "--live",
        nargs="?",
        type=int,
        const=0,
        metavar="SEASON",
        help="fetch the current season (or SEASON) from stats.nba.com: the schedule (games not played "
        "yet), the results and the player stats",
    )
    i.add_argument(
        "--season", type=int, help="with --live: the season by the year it ends, e.g. 2027 (default: current)"
    )
    i.add_argument(
        "--live-rosters",
        type=int,
        metavar="SEASON",
        help="fetch every team's SEASON roster from stats.nba.com, stored as of today",
    )
    i.add_argument("--json", action="store_true", help="print the report as one JSON object")

    budgets = ["default", "small", "tiny"]
    t = sub.add_parser("train", help="train a game model on the store's games and register it")
    t.add_argument("--train-from", type=int, help="first training season (default: trainer.train_from)")
    t.add_argument("--valid-seasons", type=int, help="latest seasons held out for selection (default 2)")
    t.add_argument("--seed", type=int, help="random seed (default: trainer.seed)")
    t.add_argument("--name", help="registry model name (default: trainer.model_name)")
    t.add_argument("--budget", choices=budgets, help="search size (default: trainer.budget)")
    t.add_argument("--threads", type=int, help="OpenMP/BLAS threads, 0 = library default")
    t.add_argument(
        "--promote",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make it champion (default: only when there is no champion yet)",
    )
    t.add_argument("--json", action="store_true", help="print the result as one JSON object")

    b = sub.add_parser(
        "backtest", help="walk-forward backtest: the roster and team-only models beside 538's forecasts"
    )
    b.add_argument("--from-season", type=int, default=2015, help="first season predicted (default 2015)")
    b.add_argument("--to-season", type=int, help="last season predicted (default: the store's last)")
    b.add_argument("--train-from", type=int, default=1990, help="first training season (default 1990)")
    b.add_argument("--valid-seasons", type=int, default=2, help="seasons held out for selection")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--budget", choices=budgets, default="default", help="search size per season")
    b.add_argument("--threads", type=int, default=1, help="OpenMP/BLAS threads, 0 = library default")
    b.add_argument(
        "--models",
        default="roster,team",
        help="comma-separated models to walk forward: roster (player-aware, fs2), team (fs1)",
    )
    b.add_argument(
        "--replicates", type=int, default=2000, help="paired bootstrap replicates (over game dates)"
    )
    b.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    b.add_argument("--predictions", action="store_true", help="with --json: every game's prediction too")

    from nbamcp.supervise import add_parser as add_supervise

    add_supervise(sub)

    r = sub.add_parser(
        "replay",
        help="feed 538-layout result files day by day through the loop on this home (docs/season.md)",
    )
    r.add_argument("files", nargs="+", help="538-layout game CSVs (date, team1, team2, score1, score2, ...)")
    r.add_argument(
        "--from", dest="date_from", help="first game date replayed YYYY-MM-DD (default: the first)"
    )
    r.add_argument("--to", dest="date_to", help="last game date replayed (default: the last)")
    r.add_argument("--budget", choices=budgets, help="retraining search size (default: retrain.budget)")
    r.add_argument(
        "--min-new-results",
        type=int,
        help="retrain after this many new results (default: retrain.min_new_results)",
    )
    r.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return p


def _with_bus(config: Config, bus: str | None) -> Config:
    if not bus:
        return config
    import msgspec

    return msgspec.structs.replace(config, bus=msgspec.structs.replace(config.bus, url=bus))


def _run(args: argparse.Namespace) -> None:
    config = _with_bus(load_config(args.config), getattr(args, "bus", None))
    configure_logging(config.log.level, fmt=config.log.format)
    # SQLite's threads wait less for the GIL while the event loop is busy (WorkersConfig says why).
    sys.setswitchinterval(config.workers.switch_interval_ms / 1e3)
    if args.command == "keys":
        from nbamcp.frontend.auth.cli import run_keys  # offline: the keys file only

        print(run_keys(config, args))
        return
    if args.command in ("backup", "restore"):
        from nbamcp.ops.backup_command import run_backup_command  # the home's files, or the bus

        print(anyio.run(run_backup_command, config, args))
        return
    if args.command in ("train", "backtest"):
        from nbamcp.commands import run_offline  # offline jobs: no bus, no server

        print(anyio.run(run_offline, config, args))
        return
    if args.command == "replay":
        from nbamcp.commands import run_replay  # one process, the in-memory bus, the real workers

        print(anyio.run(run_replay, config, args))
        return
    if args.command == "supervise":
        from nbamcp.supervise import run_supervise  # the Procfile's processes, each its own program

        code = run_supervise(args)
        if code:
            raise SystemExit(code)
        return
    if args.command == "ingest":
        from nbamcp.data.ingest.offline import run_ingest  # offline job: no bus, no server
        from nbamcp.dataplane.screen import offline_screen

        if args.season is not None and args.live is None:
            raise InvalidInput("--season goes with --live: nbamcp ingest --live --season 2027")
        live = None if args.live is None else (args.season or args.live or 0)
        ingest = functools.partial(run_ingest, screen=offline_screen(config.anomalies))
        print(anyio.run(ingest, config, args.paths, args.format, live, args.json, args.live_rosters))
        return
    from nbamcp.ops.tracing import configure_tracing, shutdown_tracing

    configure_tracing(config.tracing, process="frontend" if args.command == "serve" else args.name)
    try:
        _serve_or_work(config, args)
    finally:
        shutdown_tracing()  # sends the spans still queued


def _serve_or_work(config: Config, args: argparse.Namespace) -> None:
    from nbamcp import launch

    if args.command == "serve":
        transport = args.transport or config.server.transport
        host = args.host or config.server.host
        port = args.port or config.server.port
        anyio.run(
            lambda: launch.serve(config, transport=transport, host=host, port=port, no_auth=args.no_auth)
        )
        return
    if config.bus.url.startswith("memory"):
        raise ConfigError(
            "a worker on its own process needs a shared bus: pass --bus nats://HOST:PORT "
            "(the in-memory bus only exists inside `nbamcp serve`)"
        )
    port = args.metrics_port if args.metrics_port is not None else config.metrics.worker_port
    anyio.run(lambda: launch.run_worker(config, args.name, metrics_port=port))


def _leaf(exc: BaseException) -> BaseException:
    """The first project error inside (nested) task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        nested = [e for e in exc.exceptions if isinstance(e, NbaError | BaseExceptionGroup)]
        exc = (nested or exc.exceptions)[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        try:
            _run(args)
        except BaseExceptionGroup as group:
            raise _leaf(group) from None
    except ConfigError as exc:
        print(f"nbamcp: config error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except NbaError as exc:
        print(f"nbamcp: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
