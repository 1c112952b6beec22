"""RSS of the single-process server over many 500-game slates, with what is inside it.

    PYTHONPATH=. .venv/bin/python bench/memory_internals.py CONFIG.json SLATES OUT.jsonl [EVERY]

``bench/memory_long.py``'s run (the same games, the same server, the same row after every slate;
CONFIG.json a ``Config`` as JSON with its home prepared), and every EVERY slates (default 50)
also: the RSS split from ``/proc/self/smaps_rollup`` (anonymous or file-backed), glibc's main
arena (``mallinfo2``: it does not count the arenas of other threads, so ``Anonymous`` minus
``m_arena`` is roughly what the worker threads' arenas and mmaps hold), pymalloc's allocated
blocks, the gc-tracked objects and the types that grew most since the last reading, the event
outbox (its last sequence number, the writer's queue of operations not yet committed, the
in-memory tail) with each durable consumer's cursor, floor and deliveries in flight, and each
prediction event log's publishes in flight and events queued. It reads private attributes on
purpose: it is a diagnostic, not an API (docs/benchmarks.md, "What grows in the 2,000-slate run").
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec

from bench.memory_long import game, slate_row
from nbamcp.actor import Actor
from nbamcp.config import Config
from nbamcp.log import configure_logging
from nbamcp.serving.event_log import PredictionEventLog
from tests.memory_server import SLATE, predict_slate, single_process_parts


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost",
        )
    ]  # fmt: skip


def malloc_mb() -> dict[str, int]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    m = libc.mallinfo2()
    return {
        "m_arena": m.arena >> 20,
        "m_mmap": m.hblkhd >> 20,
        "m_used": m.uordblks >> 20,
        "m_free": m.fordblks >> 20,
    }


def smaps_mb() -> dict[str, int]:
    keep = {"Rss", "Anonymous", "Private_Dirty", "Private_Clean", "Shared_Clean"}
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        if key in keep:
            out[key] = int(value.split()[0]) // 1024
    return out


def event_logs(actors: list[Actor]) -> list[PredictionEventLog]:
    """The prediction event logs of the workers that hold one (inference and cache: ``events``)."""
    return [a.events for a in actors if isinstance(getattr(a, "events", None), PredictionEventLog)]


def internals(ev: Any, logs: list[PredictionEventLog]) -> dict[str, Any]:
    return {
        "last_seq": ev.last_seq,
        "writer_queue": ev._queue.qsize(),
        "tail": len(ev._tail),
        "consumers": {k: [st.cursor, st.floor, len(st.outstanding)] for k, st in ev._states.items()},
        "event_logs": [
            {"in_flight": len(lg._pending), "queued": len(lg._queued), "published": lg.published}
            for lg in logs
        ],
        "tasks": len(asyncio.all_tasks()),
        "blocks": sys.getallocatedblocks(),
    }


async def main(config: Config, slates: int, out: Path, every: int) -> None:
    today = dt.date.today()
    t0 = time.monotonic()
    before: collections.Counter[str] | None = None
    async with single_process_parts(config) as server:
        client, ctx, actors = server.client, server.ctx, server.actors
        logs = event_logs(actors)
        with out.open("w") as f:
            for s in range(slates):
                await predict_slate(client, [game(s * SLATE + i, today) for i in range(SLATE)])
                row = slate_row(s + 1, t0)
                if (s + 1) % every == 0 or s == 0:
                    row |= smaps_mb() | malloc_mb() | internals(ctx.events, logs)
                    types = collections.Counter(type(o).__name__ for o in gc.get_objects())
                    row["objects"] = sum(types.values())
                    if before is not None:
                        row["grew"] = (types - before).most_common(6)
                    before = types
                f.write(json.dumps(row) + "\n")
                f.flush()


if __name__ == "__main__":
    configure_logging("warning")  # stderr
    cfg = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Config)
    sys.setswitchinterval(cfg.workers.switch_interval_ms / 1e3)  # as `nbamcp serve` does
    anyio.run(main, cfg, int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 50)
