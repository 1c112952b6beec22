"""Fixtures for the data-layer tests: the shared data dir and ONE full ingest per session.

The full store is built once (in its own thread and event loop, so no test loop
is disturbed) into a session temp dir; each test opens it read-only-by-convention
through ``store``. Tests that write use their own store in ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nbamcp.data.ingest import IngestReport, ingest_paths
from nbamcp.data.store import Store, open_store

# Fixed "today" so the future-date rule is deterministic.
TODAY = dt.date(2024, 12, 1)


def _data_dir() -> Path:
    env = os.environ.get("NBAMCP_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir().resolve()
    if not (d / "games" / "games_538_1947_2023.csv").exists():
        pytest.skip(f"shared data not found at {d} (set NBAMCP_DATA_DIR)")
    return d


async def _build(path: Path, data: Path) -> IngestReport:
    store = await open_store(path)
    try:
        return await ingest_paths(store, [data], today=TODAY)
    finally:
        await store.close()


@pytest.fixture(scope="session")
def full_ingest(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, IngestReport]:
    path = tmp_path_factory.mktemp("store") / "nba.db"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        report = pool.submit(asyncio.run, _build(path, data_dir)).result(timeout=300)
    return path, report


@pytest.fixture
async def store(full_ingest: tuple[Path, IngestReport]) -> AsyncIterator[Store]:
    s = await open_store(full_ingest[0])
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def empty_store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "empty.db")
    try:
        yield s
    finally:
        await s.close()
