"""SIGTERM drains the front end: a tool call in flight finishes and is answered before the bus closes.

Before, the stop closed the bus under running calls (12 of 16 failed with ``bus_closed``). A real
``nbamcp serve --transport http`` runs a training job for a real MCP client (its progress
notifications say it is in flight); SIGTERM arrives; the job's call is answered with its model,
a call that arrives meanwhile is refused with ``unavailable: ... shutting down``, and the
process then exits cleanly.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.procs import make_key, nbamcp_proc, server_env

pytestmark = pytest.mark.slow

TIMEOUT = 240.0
CONFIG = """
[trainer]
auto_train = false
budget = "tiny"
train_from = 2019
valid_seasons = 1

[workers]
embedded = ["stats", "trainer"]

[server]
drain_s = 240.0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_lets_a_running_call_finish_and_refuses_new_ones(home: Path, data_dir: Path) -> None:
    (home / "e2e.toml").write_text(CONFIG)
    env = server_env(home, data_dir)
    port = _free_port()
    headers = {"Authorization": f"Bearer {make_key(home)}"}
    with anyio.fail_after(TIMEOUT * 2):
        async with nbamcp_proc(env, "serve", "--transport", "http", "--port", str(port)) as server:
            await server.wait_for("Uvicorn running on", timeout=TIMEOUT)
            async with (
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT, read=TIMEOUT)) as http,
                streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (r, w, *_),
                ClientSession(r, w) as session,
            ):
                await session.initialize()
                in_flight = asyncio.Event()

                async def progress(done: float, total: float | None, message: str | None) -> None:
                    in_flight.set()

                job = asyncio.create_task(session.call_tool("train_model", {}, progress_callback=progress))
                async with asyncio.timeout(TIMEOUT):
                    await in_flight.wait()  # the trainer reports: the call is running at the server
                server.proc.send_signal(signal.SIGTERM)
                draining = await server.wait_event("serve.draining", timeout=TIMEOUT)
                assert draining["inflight"] >= 1

                refused = await session.call_tool("health", {})
                text = "\n".join(getattr(c, "text", "") for c in refused.content)
                assert refused.is_error and text.startswith("unavailable: the server is shutting down"), text

                async with asyncio.timeout(TIMEOUT):
                    result = await job
                text = "\n".join(getattr(c, "text", "") for c in result.content)
                assert not result.is_error, text  # answered, not bus_closed
                assert result.structured_content is not None and result.structured_content["version"] == 1
            drained = await server.wait_event("serve.drained", timeout=TIMEOUT)
            assert drained["still_running"] == 0 and drained["refused"] >= 1
            async with asyncio.timeout(TIMEOUT):
                code = await server.proc.wait()
        assert code == 0, "\n".join(server.lines[-30:])
        events = [e.get("event") for e in server.events()]
        # The bus closed after the call was answered, never under it.
        assert events.index("serve.drained") < events.index("bus.closed")
