"""The MCP front end in process over a real stats worker on a copy of the session's store.

``served`` yields an SDK client (``mcp.Client(server)``) talking to the real server built
by ``build_server``; the stats worker answers on an in-memory bus from a real SQLite file.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from nbamcp.actor import open_context
from nbamcp.bus import InMemoryBus
from nbamcp.config import Config, PathsConfig, StatsConfig
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from workers.stats import StatsWorker

WAIT = 60.0


@pytest.fixture
def stats_home(tmp_path: Path, ingested_store: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ingested_store, home / "store.sqlite")
    return home


@asynccontextmanager
async def served(home: Path, data_dir: Path, *, workers: bool = True) -> AsyncIterator[Client]:
    """A client of the real server; with ``workers``, the real stats worker behind it."""
    bus = InMemoryBus()
    async with AsyncExitStack() as stack:
        if workers:
            ctx = await stack.enter_async_context(open_context(bus, stats_config(home, data_dir)))
            worker = StatsWorker(ctx)
            with anyio.fail_after(WAIT):
                await worker.start()
            stack.push_async_callback(worker.stop, 5.0)
        gw = Gateway(bus, timeout_s=WAIT, expected_workers=["stats"] if workers else [])
        async with Client(build_server(gw, Config())) as client:
            yield client
    await bus.close()


def stats_config(home: Path, data_dir: Path) -> Config:
    """The stats worker of ``home`` on ``data_dir``, without the first-start ingest."""
    return Config(
        paths=PathsConfig(home=str(home), data_dir=str(data_dir)), stats=StatsConfig(auto_ingest=False)
    )


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))
