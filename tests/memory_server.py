"""The single-process server in this process, for memory measurements (RSS, tracemalloc).

What ``nbamcp serve`` runs on the in-memory bus (every worker of ``workers.embedded``,
the front end built by ``build_server``), with the SDK's in-memory client instead of
stdio: tracemalloc then sees every allocation of the server, and RSS is this
process's. Used by ``bench/memory.py --slates``, and as a process of its own (``python -m
tests.memory_server CONFIG.json WARMUP MEASURED``, JSON of the RSS after each measured slate on
stdout; ``bench/memory_long.py`` streams it slate by slate): the RSS of a pytest process
holds whatever was allocated and freed before (models trained, stores built), and a server in
there reuses that memory instead of growing (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import itertools
import json
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
from mcp import Client

from nbamcp.actor import Actor, WorkerContext, open_context
from nbamcp.bus import InMemoryBus
from nbamcp.config import Config
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from nbamcp.launch import build_worker, stop_actors
from nbamcp.log import configure_logging
from nbamcp.serving.canonical import MAX_DAYS_AHEAD
from nbamcp.serving.event_log import PredictionEventLog

TEAMS = [
    "ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC", "LAL", "MEM",
    "MIA", "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
]  # fmt: skip
SLATE = 500


def rss_mb(*, settle: bool = True) -> float:
    """This process's resident set size, MB (``/proc/self/status``).

    ``settle``: collect garbage and hand the allocator's free pages back first
    (glibc's ``malloc_trim``), so that a reading says what is held, not what the
    allocator happens to keep: without it readings scatter by tens of MB.
    """
    if settle:
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slates(today: dt.date, size: int = SLATE) -> Iterator[list[dict[str, Any]]]:
    """Slates of ``size`` games never asked before in the cycle: every (home, away) pair on every
    day the server accepts ahead of ``today`` (~318,000 games), then the same cycle again."""
    pairs = list(itertools.permutations(TEAMS, 2))
    # Not itertools.cycle: it keeps a copy of every item it yields for the next round, ~64 bytes a
    # game (~31 KB a slate) that grew in the measured process until the first cycle's end.
    games = (
        {"home": h, "away": a, "date": (today + dt.timedelta(days=d)).isoformat()}
        for _ in itertools.count()
        for d in range(1, MAX_DAYS_AHEAD)
        for h, a in pairs
    )
    while True:
        yield list(itertools.islice(games, size))


@dataclass(frozen=True)
class SingleProcess:
    """The running server's parts: its MCP client, and for diagnostics its context and workers."""

    client: Client
    ctx: WorkerContext
    actors: list[Actor]


@asynccontextmanager
async def single_process_parts(config: Config, *, wait_s: float = 120.0) -> AsyncIterator[SingleProcess]:
    """The whole single-process server (``config.workers.embedded``), running, with its parts."""
    bus = InMemoryBus()
    actors: list[Actor] = []
    names = list(config.workers.embedded)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(bus.close)
        ctx = await stack.enter_async_context(open_context(bus, config))
        stack.push_async_callback(stop_actors, actors, config.workers.stop_deadline_s)
        with anyio.fail_after(wait_s):
            for name in names:
                actor = build_worker(ctx, name)
                await actor.start()
                actors.append(actor)
        gw = Gateway(bus, timeout_s=wait_s, expected_workers=names)
        client = await stack.enter_async_context(Client(build_server(gw, config, home=config.home)))
        yield SingleProcess(client, ctx, actors)


@asynccontextmanager
async def single_process(config: Config, *, wait_s: float = 120.0) -> AsyncIterator[Client]:
    """An MCP client of the whole single-process server (``config.workers.embedded``)."""
    async with single_process_parts(config, wait_s=wait_s) as server:
        yield server.client


async def predict_slate(client: Client, games: list[dict[str, Any]]) -> None:
    res = await client.call_tool("predict_games", {"games": games})
    if res.is_error:
        raise AssertionError(f"predict_games failed: {res.content}")


async def measure(config: Config, warmup: int, measured: int) -> dict[str, Any]:
    """RSS (MB) after each of ``measured`` slates of new games that follow ``warmup`` slates; the
    most prediction-event groups in flight and writes queued for the outbox seen after a slate;
    and the cache worker's health detail at the end."""
    rss: list[float] = []
    in_flight = backlog = 0
    async with single_process_parts(config) as server:
        client = server.client
        logs = [a.events for a in server.actors if isinstance(getattr(a, "events", None), PredictionEventLog)]
        games = slates(dt.date.today())
        for i in range(warmup + measured):
            await predict_slate(client, next(games))
            in_flight = max([in_flight, *(e.in_flight for e in logs)])
            backlog = max(backlog, getattr(server.ctx.events, "backlog", 0))
            if i >= warmup:
                rss.append(rss_mb())
        health = await client.call_tool("health", {})
    workers = health.structured_content["workers"]  # type: ignore[index]
    cache = next(w for w in workers if w["name"] == "cache")["detail"]
    return {"rss": rss, "cache": cache, "event_logs": len(logs), "in_flight": in_flight, "backlog": backlog}


if __name__ == "__main__":
    configure_logging("warning")  # stderr: stdout carries the result alone
    cfg = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Config)
    sys.setswitchinterval(cfg.workers.switch_interval_ms / 1e3)  # as `nbamcp serve` does
    print(json.dumps(anyio.run(measure, cfg, int(sys.argv[2]), int(sys.argv[3]))))
