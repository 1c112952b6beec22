"""A real MCP client drives `nbamcp serve`: stdio (both bus modes), SSE and HTTP."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.procs import make_key, nbamcp_proc, server_env, stdio_params

TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _check_health(session: ClientSession, bus: str) -> dict:
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert "health" in tools
    assert tools["health"].output_schema is not None
    result = await session.call_tool("health", {"wait_s": TIMEOUT})  # every worker up
    assert not result.is_error, result.content
    health = result.structured_content
    assert health is not None
    assert health["bus"] == bus
    assert health["status"] == "ok", health
    assert health["missing"] == []
    names = {w["name"] for w in health["workers"]}
    assert "stats" in names
    for w in health["workers"]:
        assert w["status"] == "ok" and w["bus"] == bus and w["version"] and w["uptime_s"] >= 0
    assert health["request_id"]
    return health


async def test_stdio_embedded(home: Path, data_dir: Path) -> None:
    env = server_env(home, data_dir)
    with anyio.fail_after(TIMEOUT):
        async with stdio_client(stdio_params(env, "serve")) as (r, w), ClientSession(r, w) as session:
            await _check_health(session, "memory")


async def test_stdio_with_workers_on_nats(home: Path, data_dir: Path, nats_server) -> None:
    # This deployment runs one worker process: the front end expects just that one.
    (home / "e2e.toml").write_text((home / "e2e.toml").read_text() + '\n[workers]\nembedded = ["stats"]\n')
    env = server_env(home, data_dir)
    with anyio.fail_after(TIMEOUT):
        async with nbamcp_proc(env, "worker", "stats", "--bus", nats_server.url) as worker:
            await worker.wait_event("actor.started")
            params = stdio_params(env, "serve", "--bus", nats_server.url)
            async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
                health = await _check_health(session, "nats")
            # The worker is its own process: its pid is in its instance name, not ours.
            import os

            assert all(f"-{os.getpid()}-" not in w["instance"] for w in health["workers"])
        assert worker.proc.returncode == 0, "\n".join(worker.lines)
        assert any(e.get("event") == "actor.stopped" for e in worker.events())


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_remote_transports(home: Path, data_dir: Path, transport: str) -> None:
    port = free_port()
    env = server_env(home, data_dir)
    headers = {"Authorization": f"Bearer {make_key(home)}"}
    with anyio.fail_after(TIMEOUT):
        async with nbamcp_proc(env, "serve", "--transport", transport, "--port", str(port)) as server:
            await server.wait_for("Uvicorn running on")
            if transport == "http":
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT, read=300)) as http,
                    streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (r, w),
                    ClientSession(r, w) as session,
                ):
                    await _check_health(session, "memory")
            else:
                async with (
                    sse_client(f"http://127.0.0.1:{port}/sse", headers=headers) as (r, w),
                    ClientSession(r, w) as session,
                ):
                    await _check_health(session, "memory")
