"""Opening a file one worker owns: SQLite, WAL, one writer, migrations by ``PRAGMA user_version``.

Every SQLite file of the project (the stats store, the registry, the prediction log, the
monitor's book, the in-process event outbox) opens through here: created when missing,
WAL with ``synchronous=NORMAL`` (a commit survives the process being killed), a busy
timeout, foreign keys on, then the pending migrations. Migration ``n`` brings the file to
``user_version = n`` in one transaction, so a crash leaves it at the previous version; a
file from newer code is refused (``Unavailable``) rather than guessed at.

``open_db`` gives an aiosqlite connection in autocommit mode (write through
``transaction``); ``open_sync`` the same file as a plain ``sqlite3`` connection, for a
writer that owns a thread of its own (the event outbox's group commits).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import aiosqlite
import msgspec
import structlog

from nbamcp.errors import InvalidInput, Unavailable

log = structlog.get_logger(__name__)

Step = str | Callable[[aiosqlite.Connection], Awaitable[None]]

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
)


class Migration(msgspec.Struct, frozen=True):
    version: int  # user_version once it ran: 1, 2, ... in order
    title: str
    steps: tuple[Step, ...]  # SQL statements (or scripts), or async functions of the connection


def scripts(*sql: str) -> tuple[Migration, ...]:
    """Migrations that are one SQL script each (script ``n`` is version ``n + 1``)."""
    return tuple(Migration(n + 1, f"schema v{n + 1}", (s,)) for n, s in enumerate(sql))


def statements(script: str) -> list[str]:
    """The SQL statements of ``script``, whole (``sqlite3.complete_statement`` decides where one ends):
    run one by one inside the migration's transaction (``executescript`` would commit first)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _check(current: int, latest: int, path: Path, what: str) -> None:
    if current > latest:
        raise Unavailable(
            f"the {what} at {path} has schema version {current}, newer than this code knows "
            f"({latest}); upgrade nbamcp or use another file"
        )


async def open_db(
    path: str | Path,
    migrations: Sequence[Migration],
    *,
    what: str,
    target_version: int | None = None,
    row_factory: type | None = None,
) -> aiosqlite.Connection:
    """Open (creating if needed) ``path`` in autocommit mode and apply pending migrations.

    ``target_version`` stops at an older schema (tests build old files with it).
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
        raise Unavailable(f"cannot open the {what} at {p}: {exc}") from exc
    if row_factory is not None:
        conn.row_factory = row_factory
    try:
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        async with conn.execute("PRAGMA user_version") as cur:
            (current,) = await cur.fetchone() or (0,)
        _check(int(current), latest, p, what)
        for m in migrations:
            if current < m.version <= target:
                async with transaction(conn):
                    for step in m.steps:
                        if isinstance(step, str):
                            for statement in statements(step):
                                await conn.execute(statement)
                        else:
                            await step(conn)
                    await conn.execute(f"PRAGMA user_version = {int(m.version)}")
                log.info("sqlite.migrated", what=what, path=str(p), version=m.version, title=m.title)
    except BaseException:
        await conn.close()
        raise
    return conn


def open_sync(path: str | Path, migrations: Sequence[Migration], *, what: str) -> sqlite3.Connection:
    """``open_db`` for a plain sqlite3 connection (SQL steps only), used from one thread."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise Unavailable(f"cannot open the {what} at {p}: {exc}") from exc
    try:
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        (current,) = conn.execute("PRAGMA user_version").fetchone() or (0,)
        latest = migrations[-1].version if migrations else 0
        _check(int(current), latest, p, what)
        for m in migrations:
            if current < m.version:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for step in m.steps:
                        if not isinstance(step, str):
                            raise InvalidInput(f"migration {m.version} of the {what}: SQL steps only here")
                        for statement in statements(step):
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(m.version)}")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.asynccontextmanager
async def transaction(conn: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """One write transaction (the connection is in autocommit mode); rolled back on any error."""
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
