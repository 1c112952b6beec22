"""Concurrent predictions over stdio share the micro-batcher's flushes (`nbamcp serve`, real client).

In process the calls reach the batcher in the same loop turn; over stdio they do not: the SDK
hands each message through zero-buffer streams (every send and receive yields once) and a
prediction crosses the bus twice before it is scored, so they arrive turns apart and a
"flush when a turn brings no request" rule flushed one row at a time (docs/benchmarks.md). This
test is the real path: a real client, the real server process, its health tool's counters.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.e2e.procs import server_env, stdio_params

TIMEOUT = 120
N = 24  # below workers.concurrency (32): a batch also closes once it holds that many requests
TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL"]


async def _batcher(session: ClientSession) -> dict[str, str]:
    result = await session.call_tool("health", {"wait_s": TIMEOUT})
    assert not result.is_error, result.content
    health = result.structured_content
    assert health is not None
    (inference,) = [w for w in health["workers"] if w["name"] == "inference"]
    return dict(inference["detail"])


async def test_concurrent_predictions_over_stdio_share_flushes(home: Path, data_dir: Path) -> None:
    # A long bound (1 s): the flushes counted are those of "nothing else ready", not of a timer, on
    # however slow a machine.
    config = home / "e2e.toml"
    config.write_text(config.read_text() + "\n[inference]\nmax_wait_ms = 1000.0\n")
    games = [{"home": h, "away": a, "date": "2023-04-09"} for h, a in itertools.permutations(TEAMS, 2)][:N]
    answers: list[dict] = []
    with anyio.fail_after(TIMEOUT):
        params = stdio_params(server_env(home, data_dir), "serve")
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            before = await _batcher(session)

            async def one(game: dict[str, str]) -> None:
                result = await session.call_tool("predict_game", game)
                assert not result.is_error, result.content
                assert result.structured_content is not None
                answers.append(result.structured_content)

            async with anyio.create_task_group() as tg:
                for game in games:  # N different games: N cache misses, N requests to inference
                    tg.start_soon(one, game)
            after = await _batcher(session)
    requests = int(after["batch_requests"]) - int(before["batch_requests"])
    flushes = int(after["batches"]) - int(before["batches"])
    assert len(answers) == N and not any(a["cached"] for a in answers)
    assert requests == N
    assert flushes <= N // 2, f"{N} concurrent predictions over stdio took {flushes} flushes"
