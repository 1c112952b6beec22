"""Warm start: spawn -> first prediction of ``nbamcp serve`` on an already-prepared home.

    .venv/bin/python bench/startup.py [--runs 3] [--home DIR]

Uses bench/predict.py's prepared home (the 538 games ingested, a champion registered).
Each run spawns ``nbamcp serve`` in its default configuration (every worker embedded)
over stdio with the SDK's client and times: the MCP handshake (``initialize``), and
the first ``predict_game`` answered by the model (the gateway holds a call until the
embedded worker it needs is up), both from the spawn. Also: CPU seconds the server spent
until then. Median [min-max] over the runs, and the load average. Results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import DATA_DIR, CpuMeter, children
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from predict import env_for, nbamcp_params, prepare


async def one(home: Path, data_dir: Path) -> tuple[float, float, float]:
    params = nbamcp_params(env_for(home, data_dir))
    game = {"home": "BOS", "away": "LAL", "date": (dt.date.today() + dt.timedelta(days=3)).isoformat()}
    before = children()
    t0 = time.perf_counter()
    async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
        (pid,) = children() - before
        cpu = CpuMeter([pid]).start()
        await session.initialize()
        t_init = time.perf_counter() - t0
        res = await session.call_tool("predict_game", game)
        t_pred = time.perf_counter() - t0
        if res.is_error or (res.structured_content or {}).get("source") != "model":
            raise SystemExit(f"the first prediction did not come from the model: {res.content}")
        return t_init, t_pred, cpu.seconds()


async def run(home: Path, data_dir: Path, runs: int) -> str:
    load = os.getloadavg()[0]
    results = [await one(home, data_dir) for _ in range(runs)]

    def cell(i: int) -> str:
        xs = [r[i] for r in results]
        return f"{statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]"

    return "\n".join(
        [
            f"{runs} runs; load average (1 min) {load:.1f} -> {os.getloadavg()[0]:.1f}",
            "",
            "| from spawn | seconds |",
            "|---|---|",
            f"| MCP handshake answered | {cell(0)} |",
            f"| first predict_game answered by the model | {cell(1)} |",
            f"| server CPU until then, s | {cell(2)} |",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--home", type=Path, help="bench/predict.py's prepared home (created when missing)")
    a = ap.parse_args()
    data_dir = DATA_DIR
    with contextlib.ExitStack() as stack:
        home = a.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-start-")))
        prepare(home, data_dir, 1947)
        print(asyncio.run(run(home, data_dir, a.runs)))


if __name__ == "__main__":
    main()
