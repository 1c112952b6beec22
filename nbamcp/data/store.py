"""The NBA store: one SQLite file (WAL, foreign keys) opened through aiosqlite.

``open_store`` applies the pending migrations and keeps the franchise tables in
step with :mod:`nbamcp.data.franchises`. One ``Store`` per owner (the stats worker,
an ingest command): it is the only writer of its file.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.migrations import LATEST_VERSION, MIGRATIONS, Migration
from nbamcp.sqlite import open_db, transaction

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Store:
    """An open store. ``conn`` is in autocommit mode: write through ``transaction()``.

    ``generation`` grows after every ingest; queries key their in-memory caches
    (player names, season ranges) on it.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.generation = 0
        self.cache: dict[str, Any] = {}

    def bump(self) -> None:
        """The data changed: drop the caches."""
        self.generation += 1
        self.cache.clear()

    async def kept(
        self, name: str, key: Hashable, compute: Callable[[], Awaitable[T]], *, max_entries: int
    ) -> T:
        """``compute()``'s value kept under (``name``, ``key``) for this generation of the data.

        For what several questions read (a season's player table): at most ``max_entries``
        per ``name``, least recently used out first; an ingest (``bump``) drops them all. A
        value computed while the data changed is returned but not kept.
        """
        kept: OrderedDict[Hashable, Any] = self.cache.setdefault(f"kept:{name}", OrderedDict())
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        generation = self.generation
        value = await compute()
        if self.generation == generation and max_entries > 0:
            kept = self.cache.setdefault(f"kept:{name}", OrderedDict())
            kept[key] = value
            while len(kept) > max_entries:
                kept.popitem(last=False)
        return value

    def peek(self, name: str, key: Hashable) -> Any | None:
        """What ``kept`` holds under (``name``, ``key``) now, else None (nothing computed)."""
        kept = self.cache.get(f"kept:{name}")
        return None if kept is None else kept.get(key)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        return transaction(self.conn)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        # One trip to aiosqlite's thread (execute and fetch there), not three (execute, fetch,
        # close the cursor): each trip is a thread hand-over, ~0.1 ms of CPU on a loaded machine.
        return list(await self.conn.execute_fetchall(sql, args))

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        """The first row of a query that yields one (an aggregate, a look-up by key)."""
        rows = await self.conn.execute_fetchall(sql, args)
        return next(iter(rows), None)

    async def analyze(self) -> None:
        """Refresh the query planner's statistics (``sqlite_stat1``) after the data changed.

        Without them SQLite guesses every index alike and picks the first that fits: a team's
        games of a season went through ``games_season`` (a whole season's 1,300 rows read and
        filtered) instead of ``games_home``/``games_away`` (the team's 80), ~0.5 ms of SQL per
        ``games`` call instead of ~0.1 ms. A full ANALYZE of the store takes ~40 ms of CPU.
        """
        await self.conn.execute("ANALYZE")
        log.info("store.analyzed", path=str(self.path))

    async def analyzed(self) -> bool:
        """Whether the planner has statistics for this store (a store ingested before they were kept
        has none)."""
        row = await self.fetchone(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        )
        return row is not None

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_store(
    path: str | Path, *, target_version: int | None = None, migrations: Sequence[Migration] = MIGRATIONS
) -> Store:
    """Open (creating if needed) the store at ``path`` and migrate it (``nbamcp.sqlite``).

    ``target_version`` stops at an older schema (tests build old files with it).
    """
    conn = await open_db(
        path, migrations, what="store", target_version=target_version, row_factory=aiosqlite.Row
    )
    store = Store(conn, Path(path))
    try:
        if await store.schema_version() >= 1:
            await sync_franchises(store)
            if not await store.analyzed():
                await store.analyze()  # once per store: later, each ingest that changes rows does it
    except BaseException:
        await conn.close()
        raise
    return store


def _franchise_rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    franchises, codes = [], []
    for f in FRANCHISES.values():
        franchises.append((f.id, f.name, int(f.active), f.first_season, f.last_season))
        for era in f.eras:
            for code in era.codes:
                codes.append((code, f.id, era.city, era.nickname, era.league, era.first, era.last))
    return sorted(franchises), sorted(codes)


async def sync_franchises(store: Store) -> bool:
    """Make the franchise tables equal the static table; True when something was written."""
    want_f, want_c = _franchise_rows()
    have_f = sorted(tuple(r) for r in await store.fetchall("SELECT * FROM franchises"))
    have_c = sorted(tuple(r) for r in await store.fetchall("SELECT * FROM team_codes"))
    if have_f == want_f and have_c == want_c:
        return False
    async with store.transaction() as conn:
        # Upsert, never delete: games reference franchises.
        await conn.executemany(
            "INSERT INTO franchises VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "name = excluded.name, active = excluded.active, first_season = excluded.first_season, "
            "last_season = excluded.last_season",
            want_f,
        )
        await conn.execute("DELETE FROM team_codes")
        await conn.executemany("INSERT INTO team_codes VALUES (?, ?, ?, ?, ?, ?, ?)", want_c)
    return True


__all__ = ["LATEST_VERSION", "Store", "open_store", "sync_franchises"]
