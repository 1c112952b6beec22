"""The usage store: SQLite and its in-memory twin pass the same tests (sums, reports, batch ids once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbamcp.messages import UsageDelta
from nbamcp.usage.store import MemoryUsageStore, SqliteUsageStore, UsageStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):
    s: UsageStore = (
        MemoryUsageStore()
        if request.param == "memory"
        else await SqliteUsageStore.open(tmp_path / "u.sqlite")
    )
    try:
        yield s
    finally:
        await s.close()


def d(hour: str, tenant: str, key: str, tool: str, **n: float) -> UsageDelta:
    return UsageDelta(hour=hour, tenant=tenant, key_id=key, tool=tool, **n)  # type: ignore[arg-type]


async def test_sums_reports_and_batches_once(store: UsageStore) -> None:
    assert await store.add("b1", [
        d("2026-01-31T22", "alice", "k1", "find_player", calls=2, errors=1, units=2, seconds=0.03),
        d("2026-01-31T23", "alice", "k1", "predict_games", calls=1, units=5, games=50, seconds=0.5),
        d("2026-02-01T00", "bob", "k2", "find_player", calls=1, units=1, seconds=0.01),
    ])  # fmt: skip
    assert not await store.add("b1", [d("2026-01-31T22", "alice", "k1", "find_player", calls=9)])  # a retry
    assert await store.add("b2", [d("2026-01-31T22", "alice", "k1", "find_player", calls=1, units=1)])
    rows = await store.report(None, "")
    assert [(r.tenant, r.tool, r.calls, r.errors, r.units, r.games) for r in rows] == [
        ("alice", "find_player", 3, 1, 3, 0),
        ("alice", "predict_games", 1, 0, 5, 50),
        ("bob", "find_player", 1, 0, 1, 0),
    ]
    assert rows[0].seconds == pytest.approx(0.03)
    assert [r.tenant for r in await store.report("bob", "")] == ["bob"]
    assert [r.tenant for r in await store.report(None, "2026-02-01T00")] == ["bob"]
    assert await store.report("carol", "") == []
    assert await store.key_units("2026-01-31") == {"k1": 8}
    assert await store.key_units("2026-02-01") == {"k2": 1}


async def test_sqlite_store_survives_a_reopen(tmp_path: Path) -> None:
    s = await SqliteUsageStore.open(tmp_path / "u.sqlite")
    await s.add("b1", [d("2026-01-31T22", "alice", "k1", "find_player", calls=1, units=3)])
    await s.close()
    again = await SqliteUsageStore.open(tmp_path / "u.sqlite")
    try:
        assert await again.key_units("2026-01-31") == {"k1": 3}
        assert not await again.add("b1", [])
    finally:
        await again.close()
