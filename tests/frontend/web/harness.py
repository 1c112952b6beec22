"""The HTTP front end in this process: real uvicorn on a real socket, real workers on an in-memory bus.

Everything ``nbamcp serve --transport http|sse`` assembles, but with the
limiter's clocks injected (tests move time instead of sleeping) and a clean
stop. Clients are the SDK's streamable-HTTP and SSE clients, and httpx2.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import msgspec
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from nbamcp.actor import Actor, open_context
from nbamcp.bus.memory import InMemoryBus
from nbamcp.config import Config
from nbamcp.frontend.app import build_server
from nbamcp.frontend.auth.keys import FileKeyStore, KeyLimits
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.service import FrontEndService
from nbamcp.launch import build_worker, stop_actors

WAIT = 60.0
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Harness:
    url: str
    transport: str
    config: Config
    service: FrontEndService
    clock: FakeClock
    wall: FakeClock
    keys: FileKeyStore
    actors: list[Actor]

    def key(self, tenant: str, scopes: str = "read", **limits: Any) -> str:
        return self.keys.create(tenant, scopes.split(","), KeyLimits(**limits))[1]

    @property
    def endpoint(self) -> str:
        return self.url + ("/mcp" if self.transport == "http" else "/sse")

    def http(self, token: str | None = None, **headers: str) -> httpx2.AsyncClient:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=WAIT)


def make_config(home: Path, data_dir: Path, workers: Sequence[str], overrides: dict[str, Any]) -> Config:
    raw: dict[str, Any] = {
        "paths": {"home": str(home), "data_dir": str(data_dir)},
        "trainer": {"auto_train": False},
        "workers": {"embedded": list(workers)},
        "limits": {"usage_flush_s": 3600.0},
    }
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return msgspec.convert(raw, Config)


def new_home(tmp_path: Path, ingested_store: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ingested_store, home / "store.sqlite")
    return home


@asynccontextmanager
async def serving(
    home: Path,
    data_dir: Path,
    *,
    transport: str = "http",
    workers: Sequence[str] = ("stats", "usage"),
    no_auth: bool = False,
    **overrides: dict[str, Any],
) -> AsyncIterator[Harness]:
    config = make_config(home, data_dir, workers, overrides)
    keys = FileKeyStore(config.keys_path)
    if not keys.list_keys():
        keys.create("setup", ["read", "predict", "admin", "metrics"])  # no first-start banner in tests
    clock, wall = FakeClock(1_000.0), FakeClock(1_800_000_000.0)
    bus = InMemoryBus()
    gw = Gateway(bus, timeout_s=10.0, expected_workers=list(workers))
    actors: list[Actor] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    stack = AsyncExitStack()
    try:
        ctx = await stack.enter_async_context(open_context(bus, config))
        with anyio.fail_after(WAIT):
            for name in workers:
                actor = build_worker(ctx, name)
                await actor.start()
                actors.append(actor)
        service = FrontEndService(
            config,
            gw,
            transport=transport,
            host="127.0.0.1",
            port=port,
            no_auth=no_auth,
            clock=clock,
            wall=wall,
        )
        async with service.running():
            server = build_server(gw, config, extra_tools=service.tools(), **service.mcp_options())
            service.attach(server)
            front = service.http(server, workers_started=lambda: True)
            task = asyncio.create_task(front.serve([sock]))
            try:
                yield Harness(
                    f"http://127.0.0.1:{port}", transport, config, service, clock, wall, keys, actors
                )
            finally:
                front.stop()
                with anyio.fail_after(WAIT):
                    await task
    finally:
        sock.close()
        await stop_actors(actors, 5.0)
        await stack.aclose()
        await bus.close()


@asynccontextmanager
async def mcp_session(h: Harness, token: str | None, **headers: str) -> AsyncIterator[ClientSession]:
    """An initialized MCP session over the harness's transport, sending ``token`` as a bearer key."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if h.transport == "http":
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(WAIT, read=300)) as http,
            streamable_http_client(h.endpoint, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session
    else:
        async with (
            sse_client(h.endpoint, headers=headers) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, **args: Any) -> tuple[bool, str, Any]:
    """(is_error, text, structured content) of one tool call."""
    result = await session.call_tool(tool, args)
    text = result.content[0].text if result.content and result.content[0].type == "text" else ""
    return bool(result.is_error), text, result.structured_content
