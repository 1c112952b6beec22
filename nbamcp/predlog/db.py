"""Opening a worker-owned SQLite file: WAL, one writer, migrations by ``PRAGMA user_version``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite

from nbamcp.errors import Unavailable


async def open_db(path: str | Path, migrations: Sequence[str], *, what: str) -> aiosqlite.Connection:
    """Open (creating if needed) ``path`` in autocommit mode and apply pending migrations.

    Migration ``n`` (0-based) brings the file to ``user_version = n + 1`` in one
    transaction, so a crash leaves the file at the previous version. A file
    from newer code is refused rather than guessed at.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(p, isolation_level=None)
    except Exception as exc:  # sqlite3 raises several types for unusable paths
        raise Unavailable(f"cannot open the {what} at {p}: {exc}") from exc
    try:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA foreign_keys = ON")
        async with conn.execute("PRAGMA user_version") as cur:
            (current,) = await cur.fetchone() or (0,)
        if current > len(migrations):
            raise Unavailable(
                f"the {what} at {p} has schema version {current}, newer than this code knows "
                f"({len(migrations)}); upgrade nbamcp or use another file"
            )
        for n in range(current, len(migrations)):
            await conn.executescript(f"BEGIN;\n{migrations[n]}\nPRAGMA user_version = {n + 1};\nCOMMIT;")
    except BaseException:
        await conn.close()
        raise
    return conn


@contextlib.asynccontextmanager
async def transaction(conn: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """One write transaction (the connection is in autocommit mode)."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def scalar(conn: aiosqlite.Connection, sql: str, args: Sequence[object] = ()) -> object:
    async with conn.execute(sql, args) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def count(conn: aiosqlite.Connection, sql: str, args: Sequence[object] = ()) -> int:
    """The integer a ``SELECT COUNT(...)`` returns (0 for no row)."""
    value = await scalar(conn, sql, args)
    return int(value) if isinstance(value, int) else 0
