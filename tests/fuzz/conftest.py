"""One real ``nbamcp serve`` over stdio for the whole fuzz suite, driven from synchronous
hypothesis tests through an anyio blocking portal.

The server is a separate process: a call that hangs or a worker that blocks its event loop
cannot stall the client, whose bound (``CALL_BOUND_S``) then fails the test. The server's
stderr goes to a file the tests read afterwards (a ``tool.crashed`` line is a bug even
when the client saw a clean error).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, Tool

from tests.e2e.conftest import E2E_CONFIG
from tests.e2e.procs import server_env, stdio_params

# Generous: a loaded 2-core CI machine; a call that takes this long is a hang.
CALL_BOUND_S = 120.0
START_BOUND_S = 180.0


@dataclass
class Tally:
    """What the fuzz suite tried and what came back, printed at the end of the run."""

    calls: Counter[str] = field(default_factory=Counter)  # per tool
    outcomes: Counter[str] = field(default_factory=Counter)  # "ok", or the error code
    invalid_sent: int = 0  # calls whose arguments the published schema rejects


TALLY = Tally()


@dataclass
class FuzzServer:
    portal: BlockingPortal
    session: ClientSession
    tools: dict[str, Tool]
    log: Path

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        async def bounded() -> CallToolResult:
            with anyio.fail_after(CALL_BOUND_S):
                return await self.session.call_tool(name, arguments)

        TALLY.calls[name] += 1
        return self.portal.call(bounded)

    def request(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Any other request (prompts, resources, completions), bounded the same way; an MCP
        error is returned, not raised."""

        async def bounded() -> Any:
            with anyio.fail_after(CALL_BOUND_S):
                try:
                    return await call()
                except MCPError as exc:
                    return exc

        TALLY.calls[what] += 1
        return self.portal.call(bounded)


@asynccontextmanager
async def _session(home: Path, data_dir: Path, log: Path) -> AsyncIterator[ClientSession]:
    with log.open("w") as errlog:
        async with (
            stdio_client(stdio_params(server_env(home, data_dir), "serve"), errlog=errlog) as (r, w),
            ClientSession(r, w) as session,
        ):
            # The start is bounded here; every call bounds itself (FuzzServer.call).
            with anyio.fail_after(START_BOUND_S):
                await session.initialize()
                ready = await session.call_tool("health", {"wait_s": START_BOUND_S})  # every worker up
            assert not ready.is_error, ready.content
            yield session


@pytest.fixture(scope="package")  # stopped when tests/fuzz is done, not at the session end
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, ingested_store: Path, data_dir: Path
) -> Iterator[FuzzServer]:
    home = tmp_path_factory.mktemp("fuzz-home")
    shutil.copy(ingested_store, home / "store.sqlite")
    (home / "e2e.toml").write_text(E2E_CONFIG)
    log = home / "server.log"
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(_session(home, data_dir, log)) as session,
    ):
        tools = {t.name: t for t in portal.call(session.list_tools).tools}
        yield FuzzServer(portal, session, tools, log)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.calls:
        return
    tr = terminalreporter
    tr.section("fuzz")
    tr.write_line(
        f"{sum(TALLY.calls.values())} tool calls over stdio ({TALLY.invalid_sent} with arguments the "
        f"published schema rejects); outcomes: {dict(TALLY.outcomes.most_common())}"
    )
    tr.write_line("per tool: " + ", ".join(f"{k} {v}" for k, v in sorted(TALLY.calls.items())))
