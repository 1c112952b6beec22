"""What the stats worker has told the other workers about the games, kept in its own store.

Per season, the version (``partition_version``) it announced last; per game, the row
hash. A season whose version changed holds news: its games whose row is not there as
they are now (new games, corrected rows). A start with no news reads the games once
and hashes no game. Marking happens after the announcement, so a crash in between
announces again (the receivers are idempotent), never silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nbamcp.data.games import GameRow, partition_version, row_hash
from nbamcp.data.store import Store


async def unannounced(
    store: Store, seasons: Mapping[str, Sequence[GameRow]]
) -> tuple[list[GameRow], dict[str, str]]:
    """(the games of ``seasons`` not announced as they are now, the versions of the seasons with news)."""
    versions = {key: partition_version(rows) for key, rows in seasons.items()}
    known = {r[0]: r[1] for r in await store.fetchall("SELECT key, version FROM announced_partitions")}
    stale = {key: v for key, v in versions.items() if known.get(key) != v}
    if not stale:
        return [], {}
    hashes = {r[0]: r[1] for r in await store.fetchall("SELECT game_id, row_hash FROM announced_games")}
    news = [g for key in sorted(stale) for g in seasons[key] if hashes.get(g.game_id) != row_hash(g)]
    return news, stale


async def mark_announced(store: Store, games: Sequence[GameRow], versions: Mapping[str, str]) -> None:
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO announced_games (game_id, row_hash) VALUES (?, ?) "
            "ON CONFLICT (game_id) DO UPDATE SET row_hash = excluded.row_hash",
            [(g.game_id, row_hash(g)) for g in games],
        )
        await conn.executemany(
            "INSERT INTO announced_partitions (key, version) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET version = excluded.version",
            sorted(versions.items()),
        )
