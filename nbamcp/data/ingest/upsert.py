"""Keyed upsert that knows what it changed: inserted, updated or unchanged, per row.

Reads the existing rows once, compares in Python, then writes with two
``executemany`` calls: the fast path SQLite offers inside one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite


class UpsertCounts:
    def __init__(self) -> None:
        self.inserted = self.updated = self.unchanged = 0


async def upsert(
    conn: aiosqlite.Connection,
    table: str,
    keys: Sequence[str],
    cols: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    where: str = "",
    args: Sequence[Any] = (),
    fill_from: int = 0,
) -> UpsertCounts:
    """Rows are ``(*key values, *col values)``. ``where`` narrows the rows read back.

    A stored row whose ``cols[fill_from:]`` are all NULL counts as inserted when
    filled: the advanced-stats file fills the columns of rows the totals file created.
    """
    counts = UpsertCounts()
    nk = len(keys)
    sql = f"SELECT {', '.join((*keys, *cols))} FROM {table}" + (f" WHERE {where}" if where else "")
    existing: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    cur = await conn.cursor()
    cur.row_factory = None  # plain tuples, compared as they come
    try:
        await cur.execute(sql, args)
        for t in await cur.fetchall():
            existing[t[:nk]] = t[nk:]
    finally:
        await cur.close()
    inserts, updates = [], []
    for r in rows:
        k, v = r[:nk], r[nk:]
        old = existing.get(k)
        if old is None:
            inserts.append(r)
            counts.inserted += 1
        elif old != v:
            updates.append((*v, *k))
            if all(x is None for x in old[fill_from:]):
                counts.inserted += 1
            else:
                counts.updated += 1
        else:
            counts.unchanged += 1
        existing[k] = v
    # Updating in key order keeps the primary-key index walk local: about twice as fast.
    updates.sort(key=lambda r: r[len(cols) :])
    if inserts:
        marks = ", ".join("?" * (nk + len(cols)))
        await conn.executemany(f"INSERT INTO {table} ({', '.join((*keys, *cols))}) VALUES ({marks})", inserts)
    if updates:
        sets = ", ".join(f"{c} = ?" for c in cols)
        cond = " AND ".join(f"{k} = ?" for k in keys)
        await conn.executemany(f"UPDATE {table} SET {sets} WHERE {cond}", updates)
    return counts
