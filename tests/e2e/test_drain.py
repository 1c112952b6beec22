"""SIGTERM drains the front end: a tool call in flight finishes and is answered before the bus closes.

Before, the stop closed the bus under running calls (12 of 16 failed with ``bus_closed``). A real
``nbamcp serve --transport http`` on a real nats-server, with a real ``nbamcp worker stats``
process behind it, gets a ``standings`` call from a real MCP client while the stats worker is
held with SIGSTOP, so that the call stays in flight for as long as the test needs it: nothing
races the drain (the first version held the call with a tiny training job, which at times
finished before the refused call got there, and the closed listener failed the client with a
ConnectError). SIGTERM arrives; a call that arrives meanwhile is refused with
``unavailable: ... shutting down``; the worker is let go (SIGCONT), the held call is answered,
and the process then exits cleanly with the bus closed after the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import NatsServer, stop_process
from tests.e2e.procs import make_key, nbamcp_proc, server_env

pytestmark = pytest.mark.slow

TIMEOUT = 240.0
SHUTTING_DOWN = "unavailable: the server is shutting down"
CONFIG = """
[trainer]
auto_train = false

[workers]
embedded = ["stats"]

[bus]
request_timeout_s = 240.0

[server]
call_deadline_s = 240.0
drain_s = 240.0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _held(pid: int) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block, and let go whatever happens in it."""
    stop_process(pid)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


async def test_sigterm_lets_a_running_call_finish_and_refuses_new_ones(
    tmp_path: Path, home: Path, data_dir: Path, nats_server: NatsServer
) -> None:
    config = tmp_path / "drain.toml"
    config.write_text(CONFIG)
    front_home = tmp_path / "frontend"
    front_home.mkdir()
    port = _free_port()
    headers = {"Authorization": f"Bearer {make_key(front_home)}"}
    worker_env = server_env(home, data_dir, NBAMCP_CONFIG=str(config))
    # Debug: the front end logs `call.started` when a tool call is counted in flight.
    front_env = server_env(front_home, data_dir, NBAMCP_CONFIG=str(config), NBAMCP_LOG_LEVEL="debug")
    with anyio.fail_after(TIMEOUT * 3):
        async with nbamcp_proc(worker_env, "worker", "stats", "--bus", nats_server.url) as stats:
            await stats.wait_event("actor.started", timeout=TIMEOUT)
            async with nbamcp_proc(
                front_env, "serve", "--transport", "http", "--port", str(port), "--bus", nats_server.url
            ) as server:
                await server.wait_for("Uvicorn running on", timeout=TIMEOUT)
                timeout = httpx2.Timeout(TIMEOUT, read=TIMEOUT)
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
                    streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (r, w, *_),
                    ClientSession(r, w) as session,
                ):
                    await session.initialize()
                    warm = await session.call_tool("standings", {"season": 2023})
                    assert not warm.is_error, warm.content
                    with _held(stats.proc.pid):
                        mark = len(server.lines)
                        job = asyncio.create_task(session.call_tool("standings", {"season": 2022}))
                        # The call is counted at the front end; its worker cannot answer it yet.
                        await server.wait_event("call.started", timeout=TIMEOUT, after=mark)
                        server.proc.send_signal(signal.SIGTERM)
                        draining = await server.wait_event("serve.draining", timeout=TIMEOUT)
                        assert draining["inflight"] == 1, draining
                        refused = await session.call_tool("health", {})
                        text = "\n".join(getattr(c, "text", "") for c in refused.content)
                        assert refused.is_error and text.startswith(SHUTTING_DOWN), text
                        assert not job.done()
                    async with asyncio.timeout(TIMEOUT):
                        result = await job
                    text = "\n".join(getattr(c, "text", "") for c in result.content)
                    assert not result.is_error, text  # answered, not bus_closed
                    assert result.structured_content is not None
                    assert result.structured_content["season"] == 2022, result.structured_content
                drained = await server.wait_event("serve.drained", timeout=TIMEOUT)
                assert drained["still_running"] == 0 and drained["refused"] >= 1
                async with asyncio.timeout(TIMEOUT):
                    code = await server.proc.wait()
            assert code == 0, "\n".join(server.lines[-30:])
            events = [e.get("event") for e in server.events()]
            # The bus closed after the call was answered, never under it.
            assert events.index("serve.drained") < events.index("bus.closed")
