"""The NBA store: one SQLite file (WAL, foreign keys) opened through aiosqlite.

``open_store`` applies the pending migrations and keeps the franchise tables in
step with :mod:`nbamcp.data.franchises`. One ``Store`` per owner (the stats worker,
an ingest command): it is the only writer of its file.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.migrations import LATEST_VERSION, MIGRATIONS, Migration
from nbamcp.errors import InvalidInput, Unavailable

log = structlog.get_logger(__name__)


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

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, args) as cur:
            return await cur.fetchone()

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
    """Open (creating if needed) the store at ``path`` and migrate it.

    ``target_version`` stops at an older schema (tests build old files with it).
    A file from a newer version of the code is refused rather than guessed at.
    """
    p = Path(path)
    latest = migrations[-1].version if migrations else 0
    target = latest if target_version is None else target_version
    if not 0 <= target <= latest:
        raise InvalidInput(f"target_version must be in 0..{latest}, got {target_version}")
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(p, isolation_level=None)
    except Exception as exc:  # sqlite3 raises several types for unusable paths
        raise Unavailable(f"cannot open the store at {p}: {exc}") from exc
    conn.row_factory = aiosqlite.Row
    store = Store(conn, p)
    try:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA busy_timeout = 5000")
        await _migrate(store, migrations, target)
        if target >= 1:
            await sync_franchises(store)
    except BaseException:
        await conn.close()
        raise
    return store


async def _migrate(store: Store, migrations: Sequence[Migration], target: int) -> None:
    current = await store.schema_version()
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise Unavailable(
            f"the store at {store.path} has schema version {current}, newer than this code knows "
            f"({latest}); upgrade nbamcp or use another store file"
        )
    for m in migrations:
        if current < m.version <= target:
            async with store.transaction() as conn:
                for step in m.steps:
                    if isinstance(step, str):
                        await conn.execute(step)
                    else:
                        await step(conn)
                await conn.execute(f"PRAGMA user_version = {int(m.version)}")
            log.info("store.migrated", path=str(store.path), version=m.version, title=m.title)


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
