"""A server killed outright loses no answered prediction: every answered request id is logged once.

A real ``nbamcp serve`` process (every worker embedded, in-memory bus, the SQLite outbox, a
real champion) answers predictions to a real MCP client over streamable HTTP: new games
(inference) and the same games again (cache hits, logged by the cache worker). Prediction
events leave the workers in groups after the reply; here a group waits an hour, so when the
process is SIGKILLed every answered request's event is still in its memory (the log is
empty: the test would fail without the journal). The next start replays the workers'
journals; the log then holds each answered request id exactly once. Waits are on the
processes' own log lines, never sleeps.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import aiosqlite
import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.procs import make_key, nbamcp_proc, server_env
from tests.serving.conftest import Home, Models, register

TIMEOUT = 120
GAMES = [
    {"home": "BOS", "away": "MIA", "date": "2023-04-05"},
    {"home": "LAL", "away": "DEN", "date": "2023-04-06"},
    {"home": "GSW", "away": "PHX", "date": "2023-04-07"},
    {"home": "NYK", "away": "CHI", "date": "2023-04-08"},
    {"home": "MIL", "away": "ATL", "date": "2023-04-09"},
]
CONFIG = """
[trainer]
auto_train = false
[events]
group_size = 10000
group_delay_s = 3600.0
[log]
level = "info"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def answer(url: str, token: str) -> list[tuple[str, bool]]:
    """Each game twice (a miss, then a hit): (request id, cached) of every answer."""
    out: list[tuple[str, bool]] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT, read=300)) as http,
        streamable_http_client(url, http_client=http) as (r, w),
        ClientSession(r, w) as session,
    ):
        await session.initialize()
        for game in GAMES + GAMES:
            result = await session.call_tool("predict_game", game)
            assert not result.is_error, result.content
            sc = result.structured_content
            assert sc is not None and sc["source"] == "model", sc
            out.append((sc["request_id"], sc["cached"]))
    return out


async def logged(path: Path) -> dict[str, int]:
    if not await anyio.Path(path).exists():
        return {}
    sql = "SELECT request_id, COUNT(*) FROM predictions GROUP BY request_id"
    async with aiosqlite.connect(path) as conn, conn.execute(sql) as cur:
        return {str(rid): int(n) for rid, n in await cur.fetchall()}


async def test_a_killed_server_logs_every_answered_request_once_at_its_next_start(
    home: Home, models: Models, data_dir: Path
) -> None:
    await register(home, models.lr1)
    (home.root / "e2e.toml").write_text(CONFIG)
    token = make_key(home.root)
    env = server_env(home.root, data_dir)
    port = free_port()
    args = ("serve", "--transport", "http", "--port", str(port))
    url = f"http://127.0.0.1:{port}/mcp"
    with anyio.fail_after(TIMEOUT * 2):
        async with nbamcp_proc(env, *args) as first:
            await first.wait_for("Uvicorn running on", timeout=TIMEOUT)
            answered = await answer(url, token)
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert sorted(c for _, c in answered) == [False] * len(GAMES) + [True] * len(GAMES)
        # Nothing reached the log before the kill: every event was still queued in memory.
        assert await logged(home.config().predlog_path) == {}
        async with nbamcp_proc(env, *args) as second:
            recovered = [
                await second.wait_event(
                    "prediction_event.recovered",
                    timeout=TIMEOUT,
                    where=lambda e, w=w: e["journal"].startswith(w),
                )
                for w in ("inference-", "cache-")
            ]
            assert [r["events"] for r in recovered] == [len(GAMES), len(GAMES)]
            await second.wait_event(
                "predlog.batch_written", timeout=TIMEOUT, where=lambda e: e["rows"] == 2 * len(GAMES)
            )
    counts = await logged(home.config().predlog_path)
    assert counts == {rid: 1 for rid, _ in answered}
    # The replayed journals are gone (the next start has nothing to send again).
    left = sorted(p.name for p in home.root.glob("*-journal/*.seg"))
    assert left == []
