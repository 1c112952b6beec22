"""The ``nbamcp`` command: serve, worker, and the offline jobs.

Every expected failure (bad config, unreachable NATS, bad arguments) ends the
process with ONE line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from nbamcp import __version__
from nbamcp.config import Config, load_config
from nbamcp.errors import ConfigError, NbaError
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

    w = sub.add_parser("worker", help="run one worker in this process (needs --bus nats://...)")
    w.add_argument("name", help="worker name, e.g. stats")
    w.add_argument("--bus", help="nats://HOST:PORT (default: bus.url)")
    return p


def _with_bus(config: Config, bus: str | None) -> Config:
    if not bus:
        return config
    import msgspec

    return msgspec.structs.replace(config, bus=msgspec.structs.replace(config.bus, url=bus))


def _run(args: argparse.Namespace) -> None:
    config = _with_bus(load_config(args.config), getattr(args, "bus", None))
    configure_logging(config.log.level, fmt=config.log.format)
    from nbamcp import launch

    if args.command == "serve":
        transport = args.transport or config.server.transport
        host = args.host or config.server.host
        port = args.port or config.server.port
        anyio.run(lambda: launch.serve(config, transport=transport, host=host, port=port))
    elif args.command == "worker":
        if config.bus.url.startswith("memory"):
            raise ConfigError(
                "a worker on its own process needs a shared bus: pass --bus nats://HOST:PORT "
                "(the in-memory bus only exists inside `nbamcp serve`)"
            )
        anyio.run(lambda: launch.run_worker(config, args.name))


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
