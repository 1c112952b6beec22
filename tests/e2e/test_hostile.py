"""Hostile calls over stdio cannot hold the server: health answers while they run (before the
slowest of them ends), and a call past its deadline ends with ``timeout:`` instead of running on.

Before the bounds, one 100 KB player name froze the whole process for about 70 s (fuzzy
matching cost per character, on the event loop).
"""

from __future__ import annotations

import random
import string
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.e2e.procs import server_env, stdio_params

TIMEOUT = 180
HEALTH_BOUND_S = 60.0  # generous (a loaded CI machine); the proof is the order, see below
# server.call_deadline_s for this server: well under the cold rating history (1947-2023), which
# took ~4 s at first and 1.86 s in a CI run after the stats work (where 2.0 s let it finish).
DEADLINE_S = 0.5
ANSWERS = ("invalid_input:", "not_found:", "ambiguous:", "timeout:")


def garbage(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(n))


async def test_health_answers_while_hostile_calls_run(home: Path, data_dir: Path) -> None:
    (home / "e2e.toml").write_text(
        (home / "e2e.toml").read_text() + f"\n[server]\ncall_deadline_s = {DEADLINE_S}\n"
    )
    rng = random.Random(14)
    hostile: list[tuple[str, dict[str, Any]]] = [
        ("find_player", {"query": "a" * 100_000}),
        ("player_career", {"player": garbage(rng, 100_000)}),
        ("compare_players", {"players": [garbage(rng, 64) for _ in range(5)]}),
        ("team_rating_history", {"team": "Knicks", "season_from": 1947, "season_to": 2023}),
        *(("find_player", {"query": garbage(rng, 64), "limit": 50}) for _ in range(20)),
    ]
    finished: dict[int, tuple[float, Any]] = {}
    with anyio.fail_after(TIMEOUT):
        async with (
            stdio_client(stdio_params(server_env(home, data_dir), "serve")) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            first = await s.call_tool("health", {"wait_s": TIMEOUT})  # every worker is up
            assert not first.is_error and first.structured_content["status"] == "ok"

            async def call(i: int, name: str, args: dict[str, Any]) -> None:
                result = await s.call_tool(name, args)
                finished[i] = (time.monotonic(), result)

            async with anyio.create_task_group() as tg:
                for i, (name, args) in enumerate(hostile):
                    tg.start_soon(call, i, name, args)
                with anyio.fail_after(HEALTH_BOUND_S):
                    health = await s.call_tool("health", {})
                answered = time.monotonic()
    assert not health.is_error and health.structured_content["status"] == "ok", health.content
    # Health was answered while hostile calls were still in flight: nothing they did held the
    # event loop (before the bounds, the 100 KB name alone held it ~70 s, and health came last).
    assert any(at > answered for at, _ in finished.values()), "no hostile call was still running"
    for i, (_, result) in finished.items():
        texts = [c.text for c in result.content if c.type == "text"]
        if result.is_error:
            assert texts[0].startswith(ANSWERS), (hostile[i][0], texts[0][:300])
    (_, rating) = finished[3]
    assert rating.is_error and rating.content[0].text.startswith(
        f"timeout: team_rating_history did not finish within {DEADLINE_S:g}s (server.call_deadline_s)"
    )
