"""Raw JSON-RPC lines over stdio, as a client that is not the Python SDK can send them.

The SDK's client cannot send a lone surrogate, nesting past its own limit or a line that is
not JSON; other clients can. Against the project's stdio transport (``run_stdio`` serving a
one-tool server, so the transport is what is tried): every request line whose id can be read
gets a reply with that id — a result, or a JSON-RPC error — and a ping sent after each line is
answered, so the session never hangs. Hypothesis builds the lines: a valid envelope around
hostile argument text (surrogates, deep nesting, huge integers, NaN, duplicate keys, trailing
garbage, truncation), and lines with no id at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import TALLY
from tests.fuzz.test_tools import FUZZ

SERVER = """
import anyio
from mcp.server.mcpserver import MCPServer
from nbamcp.frontend.stdio import run_stdio
from nbamcp.log import configure_logging

configure_logging("warning")
server = MCPServer("raw-lines")

@server.tool()
async def echo(text: str) -> str:
    return text[::-1]

anyio.run(run_stdio, server)
"""
REPLY_BOUND_S = 60.0
EXAMPLES = 60

ARGUMENT_TEXT = [
    '{"text":"a\\ud800b"}', '{"text":"\\udfff"}', '{"text":"\\u0000"}',
    '{"text":' + "[" * 300 + "]" * 300 + "}", '{"text":' + "9" * 5000 + "}",
    '{"text":NaN}', '{"text":Infinity}', '{"text":-Infinity}', '{"text":1e999}',
    '{"text":"a","text":"b"}', '{"text":"ok"} trailing', '{"text":"ok"', '{"text":"ok"}}', "[]", "null", "1",
    '{"text":"' + "x" * 200_000 + '"}', '{"text":"\\x41"}', '{"text":"\\', '{"text":"ok"}',
]  # fmt: skip
NO_ID = [
    "not json", "", "   ", "{", "}", "[]", "[1,2]", "null", "true", '"text"', '{"jsonrpc":"2.0"}',
    '{"jsonrpc":"2.0","method":"tools/call"}', "\x00", "\x1b[2J", "{}" * 1000, "[" * 100_000,
]  # fmt: skip


@dataclass
class RawSession:
    portal: BlockingPortal
    proc: Process
    buffer: bytes = b""

    def exchange(self, line: str, wanted: list[object]) -> dict[object, dict[str, Any]]:
        """Send ``line`` and a ping; return the replies until every id in ``wanted`` (and the
        ping's) has one, within the bound."""

        async def run() -> dict[object, dict[str, Any]]:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            ping = f"ping-{TALLY.calls['raw line']}"
            envelope = json.dumps({"jsonrpc": "2.0", "id": ping, "method": "ping"})
            await self.proc.stdin.send((line + "\n" + envelope + "\n").encode("utf-8", "surrogatepass"))
            replies: dict[object, dict[str, Any]] = {}
            with anyio.fail_after(REPLY_BOUND_S):
                while not all(w in replies for w in [*wanted, ping]):
                    self.buffer += await self.proc.stdout.receive()
                    *done, self.buffer = self.buffer.split(b"\n")
                    for raw in done:
                        reply = json.loads(raw)
                        replies[reply.get("id")] = reply
            return replies

        TALLY.calls["raw line"] += 1
        return self.portal.call(run)


@pytest.fixture(scope="module")
def raw_session() -> Iterator[RawSession]:
    init = {
        "jsonrpc": "2.0",
        "id": "init",
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    with start_blocking_portal("asyncio") as portal:
        proc = portal.call(anyio.open_process, [sys.executable, "-c", SERVER])
        session = RawSession(portal, proc)
        try:
            first = session.exchange(json.dumps(init), ["init"])
            assert "result" in first["init"], first
            session.exchange(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), [])
            yield session
        finally:
            proc.terminate()
            portal.call(proc.wait)


def _call(rid: int, arguments: str) -> str:
    params = '{"name":"echo","arguments":' + arguments + "}"
    return f'{{"jsonrpc":"2.0","id":{rid},"method":"tools/call","params":{params}}}'


@settings(FUZZ, max_examples=EXAMPLES)
@given(
    kind=st.sampled_from(["arguments", "arguments", "no id", "cut"]),
    arguments=st.sampled_from(ARGUMENT_TEXT),
    garbage=st.sampled_from(NO_ID),
    cut=st.integers(1, 200),
    rid=st.integers(1, 2**31),
)
def test_every_request_line_is_answered(
    raw_session: RawSession, kind: str, arguments: str, garbage: str, cut: int, rid: int
) -> None:
    if kind == "arguments":
        line, wanted = _call(rid, arguments), [rid]
    elif kind == "cut":  # a request cut short: its id comes before the cut
        full = _call(rid, arguments)
        line, wanted = full[: max(len(full) - cut, full.index('"method"'))], [rid]
    else:
        line, wanted = garbage, []
    replies = raw_session.exchange(line, wanted)
    for w in wanted:
        reply = replies[w]
        TALLY.outcomes["raw result" if "result" in reply else f"raw {reply['error']['code']}"] += 1
        if "error" in reply:
            assert reply["error"]["code"] in (-32700, -32600, -32602, -32601), reply
            assert "pydantic" not in reply["error"]["message"], reply
