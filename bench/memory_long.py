"""RSS of the single-process server over many 500-game slates, streamed after every slate.

    PYTHONPATH=. .venv/bin/python bench/memory_long.py CONFIG.json SLATES OUT.jsonl

``tests/memory_server.py``'s server (every embedded worker, the front end, the SDK's in-memory
client) in this process, configured by CONFIG.json (a ``Config`` as JSON, its home prepared: a
store and a registered champion); one JSON line per slate on OUT.jsonl (slate, RSS MB after
``gc`` and ``malloc_trim``, wall and CPU seconds), written as it goes so a long run can be read
while it runs (2,000 slates: ~40 min on a quiet machine).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec

from nbamcp.config import Config
from nbamcp.log import configure_logging
from nbamcp.serving.canonical import MAX_DAYS_AHEAD
from tests.memory_server import SLATE, TEAMS, predict_slate, rss_mb, single_process

PAIRS = list(itertools.permutations(TEAMS, 2))


def game(k: int, today: dt.date) -> dict[str, Any]:
    """The k-th game of the cycle of every pair on every day the server accepts (no state kept)."""
    day = 1 + (k // len(PAIRS)) % (MAX_DAYS_AHEAD - 1)
    home, away = PAIRS[k % len(PAIRS)]
    return {"home": home, "away": away, "date": (today + dt.timedelta(days=day)).isoformat()}


def slate_row(slate: int, t0: float) -> dict[str, Any]:
    """What is read after every slate: RSS (MB, settled), wall seconds since ``t0``, CPU seconds."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"slate": slate, "rss": round(rss_mb(), 2), "wall": round(time.monotonic() - t0, 1),
            "cpu": round(ru.ru_utime + ru.ru_stime, 1)}  # fmt: skip


async def main(config: Config, slates: int, out: Path) -> None:
    today = dt.date.today()
    t0 = time.monotonic()
    with out.open("w") as f:
        async with single_process(config) as client:
            for s in range(slates):
                await predict_slate(client, [game(s * SLATE + i, today) for i in range(SLATE)])
                f.write(json.dumps(slate_row(s + 1, t0)) + "\n")
                f.flush()


if __name__ == "__main__":
    configure_logging("warning")  # stderr
    cfg = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Config)
    sys.setswitchinterval(cfg.workers.switch_interval_ms / 1e3)  # as `nbamcp serve` does
    anyio.run(main, cfg, int(sys.argv[2]), Path(sys.argv[3]))
