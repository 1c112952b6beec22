"""The event-loop stdio transport: the SDK's protocol, its fd claim, its fallback for files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

# A real MCPServer on nbamcp's transport; its tool writes to stdout the ways stray code does.
SERVER = """
import os, sys, anyio
from mcp.server.mcpserver import MCPServer
from nbamcp.frontend.stdio import run_stdio
from nbamcp.log import configure_logging

configure_logging("warning")
server = MCPServer("stdio-test")

@server.tool()
async def echo(text: str) -> str:
    print("stray print")
    os.write(1, b"stray write to fd 1\\n")
    return text[::-1]

anyio.run(run_stdio, server)
"""


async def test_requests_answered_in_any_number_and_stray_output_misses_the_wire() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-c", SERVER])
    with anyio.fail_after(60):
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            results: dict[int, str] = {}

            async def one(i: int) -> None:
                res = await session.call_tool("echo", {"text": f"call {i} " + "x" * 100_000})
                assert not res.is_error, res.content
                results[i] = res.content[0].text  # type: ignore[union-attr]

            async with anyio.create_task_group() as tg:
                for i in range(64):
                    tg.start_soon(one, i)
    assert results == {i: (f"call {i} " + "x" * 100_000)[::-1] for i in range(64)}


def test_a_regular_file_on_stdin_is_served_by_the_sdk_transport(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    requests.write_text(json.dumps(init) + "\n")
    with requests.open() as stdin:
        out = subprocess.run(
            [sys.executable, "-c", SERVER], stdin=stdin, capture_output=True, text=True, timeout=60
        )
    (reply,) = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    # (The event loop cannot watch a regular file: without the fallback this fails at once.)
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "stdio-test"
