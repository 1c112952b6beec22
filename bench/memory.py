"""Memory of the single-process server: RSS idle, then after 10,000 predictions.

    .venv/bin/python bench/memory.py [--predictions 10000] [--lanes 16] [--home DIR]

Uses bench/predict.py's prepared home (the 538 games, a champion). ``nbamcp serve`` in its
default configuration (every worker embedded) over stdio; RSS is read from
/proc/PID/status: after start and one prediction (idle), then after every 2,000 of
``--predictions`` predict_game calls on new games (cache misses: each fills the cache, the
idempotency maps, the prediction log and the monitor), from ``--lanes`` calls in flight, and
once more after the same number of cache hits. The bounded maps report their sizes in the
health tool. ``--caps N`` caps the prediction cache and the request-id maps at N, so the
plateau shows within the run. Results go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import DATA_DIR, open_server, rss_mb
from predict import env_for, nbamcp_params, prepare, unique_games


def server_env(home: Path, data_dir: Path, caps: int | None) -> tuple[dict[str, str], str]:
    env = env_for(home, data_dir)
    if caps is None:
        return env, "default configuration"
    # The same server with its prediction cache and request-id maps capped low: the plateau shows.
    cfg = home / "bench-memory.toml"
    cfg.write_text(
        Path(env["NBAMCP_CONFIG"]).read_text()
        + f"\n[cache]\nmax_entries = {caps}\n\n[inference]\nidempotency_entries = {caps}\n"
    )
    env["NBAMCP_CONFIG"] = str(cfg)
    return env, f"cache.max_entries and inference.idempotency_entries = {caps:,}"


async def run(env: dict[str, str], what: str, total: int, lanes: int) -> str:
    games = unique_games()
    lines = [f"RSS of `nbamcp serve` ({what}), {total:,} predictions from {lanes} lanes", ""]
    async with open_server(nbamcp_params(env)) as server:
        s = server.session

        async def call(args: dict[str, Any]) -> None:
            res = await s.call_tool("predict_game", args)
            if res.is_error:
                raise SystemExit(f"predict_game failed: {res.content}")

        await call(next(games))
        lines += [
            "| after | RSS MB |",
            "|---|---|",
            f"| start + 1 prediction (idle) | {rss_mb(server.pid):.0f} |",
        ]
        asked: list[dict[str, Any]] = []
        done = 0
        while done < total:
            step = min(2000, total - done)

            async def lane(k: int) -> None:
                for _ in range(k):
                    g = next(games)
                    asked.append(g)
                    await call(g)

            await asyncio.gather(*(lane(step // lanes) for _ in range(lanes)))
            done += step // lanes * lanes
            lines.append(f"| {done:,} predictions (new games) | {rss_mb(server.pid):.0f} |")
        for start in range(0, len(asked), lanes):
            await asyncio.gather(*(call(g) for g in asked[start : start + lanes]))
        lines.append(f"| the same {len(asked):,} again (cache hits) | {rss_mb(server.pid):.0f} |")
        health = await s.call_tool("health", {})
        for w in (health.structured_content or {}).get("workers", []):
            if w["name"] in ("inference", "cache", "stats"):
                keep = ("entries", "evicted", "answers_kept", "predictions", "games", "idempotent_replays")
                detail = {k: v for k, v in w["detail"].items() if k in keep}
                lines.append(f"\n{w['name']}: {detail}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=10_000)
    ap.add_argument("--lanes", type=int, default=16)
    ap.add_argument("--home", type=Path, help="bench/predict.py's prepared home (created when missing)")
    ap.add_argument("--caps", type=int, help="cap the prediction cache and request-id maps at this size")
    a = ap.parse_args()
    data_dir = DATA_DIR
    with contextlib.ExitStack() as stack:
        home = a.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-mem-")))
        prepare(home, data_dir, 1947)
        env, what = server_env(home, data_dir, a.caps)
        print(asyncio.run(run(env, what, a.predictions, a.lanes)))


if __name__ == "__main__":
    main()
