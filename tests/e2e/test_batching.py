"""Concurrent predictions over stdio share the micro-batcher's flushes (a real `nbamcp serve`).

In process the calls reach the batcher in the same loop turn; over stdio they do not: the SDK
hands each message through zero-buffer streams (every send and receive yields once) and a
prediction crosses the bus twice before it is scored, so they arrive turns apart and a
"flush when a turn brings no request" rule flushed one row at a time (docs/benchmarks.md).

The requests are written to the server's stdin in one write, so that all of them are in the pipe
before the server reads the first: how they reach the batcher then depends on the server alone,
not on when a loaded machine lets a client process write its next line.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from tests.e2e.procs import server_env

TIMEOUT = 120
N = 24  # below workers.concurrency (32): a batch also closes once it holds that many requests
TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL"]
INIT = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def _call(rid: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


class _Wire:
    """JSON-RPC lines to and from the server's stdio."""

    def __init__(self, proc: Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.replies: dict[str, dict[str, Any]] = {}
        self._buffer = b""

    async def send(self, *messages: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.send("".join(json.dumps(m) + "\n" for m in messages).encode())

    async def wait(self, *ids: str) -> list[dict[str, Any]]:
        assert self.proc.stdout is not None
        while not all(i in self.replies for i in ids):
            self._buffer += await self.proc.stdout.receive()
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                reply = json.loads(line)
                if "id" in reply:  # notifications (logging, progress) carry none
                    self.replies[reply["id"]] = reply
        return [self.replies[i] for i in ids]

    async def batcher(self, rid: str) -> dict[str, str]:
        await self.send(_call(rid, "health", {"wait_s": TIMEOUT}))
        (reply,) = await self.wait(rid)
        health = reply["result"]["structuredContent"]
        (inference,) = [w for w in health["workers"] if w["name"] == "inference"]
        return dict(inference["detail"])


async def test_concurrent_predictions_over_stdio_share_flushes(home: Path, data_dir: Path) -> None:
    # A long bound (1 s): the flushes counted are those of "nothing else ready", not of a timer, on
    # however slow a machine.
    config = home / "e2e.toml"
    config.write_text(config.read_text() + "\n[inference]\nmax_wait_ms = 1000.0\n")
    games = [{"home": h, "away": a, "date": "2023-04-09"} for h, a in itertools.permutations(TEAMS, 2)][:N]
    ids = [f"p{i}" for i in range(N)]
    proc = await anyio.open_process(
        [sys.executable, "-m", "nbamcp.cli", "serve"], env=server_env(home, data_dir), stderr=None
    )
    try:
        with anyio.fail_after(TIMEOUT):
            wire = _Wire(proc)
            await wire.send(INIT)
            (init,) = await wire.wait("init")
            assert "result" in init, init
            await wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            before = await wire.batcher("h0")  # every worker up
            await wire.send(*(_call(rid, "predict_game", g) for rid, g in zip(ids, games, strict=True)))
            answers = await wire.wait(*ids)
            after = await wire.batcher("h1")
    finally:
        proc.terminate()
        with anyio.fail_after(30):
            await proc.wait()
    for a in answers:
        assert "result" in a and not a["result"].get("isError"), a
        assert not a["result"]["structuredContent"]["cached"], a
    requests = int(after["batch_requests"]) - int(before["batch_requests"])
    flushes = int(after["batches"]) - int(before["batches"])
    assert requests == N
    assert flushes <= N // 2, f"{N} concurrent predictions over stdio took {flushes} flushes"
