"""Stats tools over stdio against their floors, interleaved in the same run.

    .venv/bin/python bench/stats.py [--runs 3] [--rounds 5] [--n 30] [--home DIR]

Setup: the whole shared data ingested once into ``--home`` (a temp dir when not
given; reused when it already holds a store). Each run starts, fresh:

- ``nbamcp serve`` (in-memory bus, the stats worker embedded) over stdio, twice: as
  configured (answers kept per version of the data, so asking again is a look-up) and
  with the answer cache off (every call computed, from the tables the queries keep per
  version of the data: ``Store.kept``; ``bench/stats_queries.py`` times a first question,
  with nothing kept);
- the floor server (``bench/floor_server.py``): the bare floor (an ``async def``
  tool that does nothing) and, per tool, the fair floor: a bare tool returning
  the result nbamcp gave for the same arguments (captured at the start of the
  run) under the output schema nbamcp publishes.

Every case (bare, each fair floor, each nbamcp tool both ways) is called ``--n`` times per
round; rounds interleave the cases (order rotated), so load moves floors and
tools alike. Wall time per call and CPU per call (client and server process) are
reported, with ratios taken within each round. The chart of
``team_rating_history`` is also timed on its own (CPU per drawing, in this
process, on the same points). Results go to stdout as a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import (
    DATA_DIR,
    Case,
    Report,
    Run,
    capture,
    fair_name,
    floor_params,
    measure,
    open_server,
    python_params,
    tool_call,
    write_captures,
)

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


def env_for(home: Path, data_dir: Path, *, answers: bool = True) -> dict[str, str]:
    """The stats worker alone; ``answers=False`` turns its answer cache off (every call computed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    cfg = home / f"bench-stats-{'kept' if answers else 'computed'}.toml"
    cache = "" if answers else "\n[stats]\nanswer_cache_entries = 0\n"
    cfg.write_text(f"[workers]\nembedded = ['stats']\n\n[log]\nlevel = 'warning'\n{cache}")
    env.update(NBAMCP_HOME=str(home), NBAMCP_DATA_DIR=str(data_dir), NBAMCP_CONFIG=str(cfg))
    return env


def prepare(home: Path, env: dict[str, str], data_dir: Path) -> None:
    if (home / "store.sqlite").exists():
        return
    cmd = [sys.executable, "-m", "nbamcp.cli", "ingest", str(data_dir)]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        raise SystemExit("ingest failed")


async def one_run(home: Path, data_dir: Path, tmp: Path, rounds: int, n: int) -> Run:
    async with contextlib.AsyncExitStack() as stack:
        nbamcp = await stack.enter_async_context(
            open_server(python_params("-m", "nbamcp.cli", "serve", env=env_for(home, data_dir)))
        )
        computed = await stack.enter_async_context(
            open_server(
                python_params("-m", "nbamcp.cli", "serve", env=env_for(home, data_dir, answers=False))
            )
        )
        captures = {tool: await capture(nbamcp.session, tool, args) for tool, args in CASES}
        floors = await stack.enter_async_context(
            open_server(floor_params(write_captures(tmp / "captures.json", captures)))
        )
        cases = [Case("bare", tool_call(floors.session, "noop", dict), floors)]
        for tool, args in CASES:
            cases.append(
                Case(f"fair:{tool}", tool_call(floors.session, fair_name(tool), lambda a=args: a), floors)
            )
            cases.append(Case(tool, tool_call(nbamcp.session, tool, lambda a=args: a), nbamcp))
            cases.append(
                Case(f"{tool}:computed", tool_call(computed.session, tool, lambda a=args: a), computed)
            )
        return await measure(cases, rounds=rounds, n=n)


async def chart_cpu_ms(home: Path, repeats: int = 50) -> tuple[float, int, int]:
    """CPU per drawing of team_rating_history's chart, and its points (all, drawn)."""
    from nbamcp.data import queries as q
    from nbamcp.data.charts import render_rating_chart
    from nbamcp.data.store import open_store
    from workers.stats import ELO_RATINGS

    _, args = CASES[-1]
    async with await open_store(home / "store.sqlite") as store:
        h = await q.team_rating_history(store, **args, rating=ELO_RATINGS)
    render_rating_chart(h.points, "warm-up")
    t0 = time.process_time()
    for _ in range(repeats):
        render_rating_chart(h.points, f"{h.name}: rating")
    return (
        (time.process_time() - t0) * 1e3 / repeats,
        getattr(h, "points_total", len(h.points)),
        len(h.points),
    )


def report(rep: Report, chart: tuple[float, int, int]) -> str:
    rows: list[tuple[str, str, dict[str, str]]] = [("bare", "bare floor: async tool, returns nothing", {})]
    for tool, _ in CASES:
        rows.append((f"fair:{tool}", f"fair floor: {tool}'s result and schema", {"bare": "bare"}))
        bases = {"bare": "bare", "fair": f"fair:{tool}"}
        rows.append((tool, f"**{tool}**, answer kept (asked again)", bases))
        rows.append((f"{tool}:computed", f"{tool}, computed (answer cache off)", bases))
    ms, total, drawn = chart
    return "\n".join(
        [
            rep.header(),
            "",
            rep.table(rows, ["bare", "fair"]),
            "",
            f"team_rating_history's chart alone: {ms:.2f} ms CPU per drawing ({drawn} points drawn "
            f"of {total} games), in this process.",
        ]
    )


async def main(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-stats-")))
        home.mkdir(parents=True, exist_ok=True)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-floors-")))
        prepare(home, env_for(home, args.data_dir), args.data_dir)
        runs = [await one_run(home, args.data_dir, tmp, args.rounds, args.n) for _ in range(args.runs)]
        print(report(Report(runs, args.rounds, args.n), await chart_cpu_ms(home)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="fresh servers per run (default 3)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per run (default 5)")
    ap.add_argument("--n", type=int, default=30, help="calls per case per round (default 30)")
    ap.add_argument("--home", type=Path, help="reuse this home (ingested when it has no store)")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    asyncio.run(main(ap.parse_args()))
