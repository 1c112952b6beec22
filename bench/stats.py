"""Stats tools end to end over stdio, beside the SDK floor measured in the same run.

    .venv/bin/python bench/stats.py [--n 200] [--data-dir ../shared/data]

floor: a tiny MCPServer over stdio whose `async def` tool does nothing, called by
the same client. Each stats tool is then called `--n` times through `nbamcp serve`
(in-memory bus, stats worker in-process, store ingested once into a temp home).
Prints median and p99 per tool and the ratio of the medians to the floor's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[1]

CASES: list[tuple[str, dict[str, Any]]] = [
    ("find_player", {"query": "jokic", "limit": 5}),
    ("player_season_stats", {"player": "Michael Jordan", "season": 1996}),
    ("player_career", {"player": "Tim Duncan"}),
    ("compare_players", {"players": ["LeBron James", "Stephen Curry"], "season": 2016}),
    ("team_season", {"team": "Warriors", "season": 2016}),
    ("standings", {"season": 2023}),
    ("games", {"team": "BOS", "season": 2023, "limit": 10}),
    ("head_to_head", {"team_a": "Celtics", "team_b": "Lakers"}),
    ("league_leaders", {"stat": "pts", "season": 2023}),
    ("team_rating_history", {"team": "BKN", "season_from": 2019, "season_to": 2023}),
]


def serve_floor() -> None:
    from mcp.server.mcpserver import MCPServer

    server: MCPServer = MCPServer("floor")

    @server.tool()
    async def noop() -> str:
        return "ok"

    server.run()


async def measure(params: StdioServerParameters, cases: list[tuple[str, dict[str, Any]]], n: int) -> dict:
    out: dict[str, list[float]] = {}
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        for name, args in cases:
            for _ in range(5):  # warm caches and imports
                res = await s.call_tool(name, args)
                assert not res.is_error, (name, res.content)
            xs = []
            for _ in range(n):
                t = time.perf_counter()
                await s.call_tool(name, args)
                xs.append((time.perf_counter() - t) * 1000)
            out[name] = xs
    return out


def p99(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.99) - 1]


async def main(n: int, data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    with tempfile.TemporaryDirectory() as home:
        env.update(NBAMCP_HOME=home, NBAMCP_DATA_DIR=str(data_dir), NBAMCP_LOG_LEVEL="warning")
        cfg = Path(home) / "bench.toml"
        cfg.write_text("[workers]\nembedded = ['stats']\n")
        env["NBAMCP_CONFIG"] = str(cfg)
        nbamcp = [sys.executable, "-m", "nbamcp.cli"]
        proc = await asyncio.create_subprocess_exec(
            *nbamcp, "ingest", str(data_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if await proc.wait() != 0:
            raise SystemExit("ingest failed")
        floor_p = StdioServerParameters(command=sys.executable, args=[__file__, "--serve-floor"], env=env)
        server_p = StdioServerParameters(command=sys.executable, args=["-m", "nbamcp.cli", "serve"], env=env)
        floor = (await measure(floor_p, [("noop", {})], n))["noop"]
        tools = await measure(server_p, CASES, n)
    f_med = statistics.median(floor)
    print(f"stats tools over stdio, n={n} calls each, {os.cpu_count()} cores")
    print(f"{'tool':<22}{'median ms':>11}{'p99 ms':>9}{'x floor':>9}")
    print(f"{'floor (bare tool)':<22}{f_med:>11.2f}{p99(floor):>9.2f}{1.0:>9.2f}")
    for name, xs in tools.items():
        med = statistics.median(xs)
        print(f"{name:<22}{med:>11.2f}{p99(xs):>9.2f}{med / f_med:>9.2f}")


if __name__ == "__main__":
    if "--serve-floor" in sys.argv:
        serve_floor()
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("NBAMCP_DATA_DIR", REPO.parent / "shared" / "data")),
    )
    a = ap.parse_args()
    asyncio.run(main(a.n, a.data_dir))
