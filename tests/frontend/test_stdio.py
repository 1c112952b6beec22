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


async def test_a_line_that_cannot_be_parsed_is_answered_and_the_session_goes_on() -> None:
    """A JSON-RPC request the server cannot read (a lone surrogate, nesting past the parser's limit,
    an integer of 5,000 digits, not JSON-RPC at all) gets an error reply carrying its id when the
    id can be read, so a client is never left waiting; the next request is served. The SDK's
    transport dropped such lines without a word (the client waited forever)."""
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }

    def call(rid: int, text: str) -> str:
        params = '{"name":"echo","arguments":{"text":' + text + "}}"
        return f'{{"jsonrpc":"2.0","id":{rid},"method":"tools/call","params":{params}}}'

    bad = {
        1: call(1, '"a\\ud800b"'),
        2: call(2, "[" * 1000 + "]" * 1000),
        3: call(3, "9" * 5000),
        4: '{"jsonrpc":"2.0","id":4,"no_method":true}',
    }
    proc = await anyio.open_process([sys.executable, "-c", SERVER])
    replies: dict[object, dict[str, object]] = {}
    try:
        with anyio.fail_after(60):
            assert proc.stdin is not None and proc.stdout is not None
            lines = [
                json.dumps(init),
                '{"jsonrpc":"2.0","method":"notifications/initialized"}',
                *bad.values(),
            ]
            lines += ["this is not json", call(5, '"ok"')]
            await proc.stdin.send("".join(line + "\n" for line in lines).encode())
            buffer = b""
            while 5 not in replies:
                buffer += await proc.stdout.receive()
                *done, buffer = buffer.split(b"\n")
                for raw in done:
                    reply = json.loads(raw)
                    replies[reply.get("id")] = reply
    finally:
        proc.terminate()
        with anyio.fail_after(30):
            await proc.wait()
    for rid in (1, 2, 3):
        error = replies[rid]["error"]
        assert isinstance(error, dict) and error["code"] == -32700, replies[rid]
        assert str(error["message"]).startswith("invalid JSON: "), error
        assert "pydantic" not in str(error["message"]), error
    assert replies[4]["error"]["code"] == -32600, replies[4]  # type: ignore[index]
    assert replies[None]["error"]["code"] == -32700, replies[None]  # type: ignore[index]
    assert replies[5]["result"]["content"][0]["text"] == "ko"  # type: ignore[index]
