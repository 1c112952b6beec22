"""What the stats worker has told the other workers about the games, kept in its own store.

Per season, the version (``partition_version``) it announced last; per game, the row
hash. A season whose version changed holds news: its games whose row is not there as
they are now (new games, corrected rows). A start with no news reads the games once
and hashes no game. Marking happens after the announcement, so a crash in between
announces again (the receivers are idempotent), never silence.

A game that left the store (a season's version changed and the game is in no season)
is forgotten: if the same row comes back it is news again, or the consumers that act
on news (the monitor's feedback join) would never hear of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nbamcp.data.games import GameRow, partition_version, row_hash
from nbamcp.data.store import Store


@dataclass(frozen=True, slots=True)
class Unannounced:
    news: list[GameRow]  # games not announced as they are now (new, corrected)
    versions: dict[str, str]  # the versions of the seasons that changed
    gone: list[str]  # announced games no longer in the store
    gone_seasons: list[str]  # announced seasons no longer in the store


async def unannounced(store: Store, seasons: Mapping[str, Sequence[GameRow]]) -> Unannounced:
    """What ``seasons`` (every season the store holds) has that was not announced as it is now."""
    versions = {key: partition_version(rows) for key, rows in seasons.items()}
    known = {r[0]: r[1] for r in await store.fetchall("SELECT key, version FROM announced_partitions")}
    stale = {key: v for key, v in versions.items() if known.get(key) != v}
    gone_seasons = sorted(known.keys() - versions.keys())
    if not stale and not gone_seasons:
        return Unannounced([], {}, [], [])
    hashes = {r[0]: r[1] for r in await store.fetchall("SELECT game_id, row_hash FROM announced_games")}
    news = [g for key in sorted(stale) for g in seasons[key] if hashes.get(g.game_id) != row_hash(g)]
    present = {g.game_id for rows in seasons.values() for g in rows}
    return Unannounced(news, stale, sorted(hashes.keys() - present), gone_seasons)


async def record(store: Store, told: Unannounced) -> None:
    """Record an announcement: its news and versions told, the games and seasons gone forgotten."""
    async with store.transaction() as conn:
        await conn.executemany("DELETE FROM announced_games WHERE game_id = ?", [(g,) for g in told.gone])
        await conn.executemany(
            "DELETE FROM announced_partitions WHERE key = ?", [(k,) for k in told.gone_seasons]
        )
        await conn.executemany(
            "INSERT INTO announced_games (game_id, row_hash) VALUES (?, ?) "
            "ON CONFLICT (game_id) DO UPDATE SET row_hash = excluded.row_hash",
            [(g.game_id, row_hash(g)) for g in told.news],
        )
        await conn.executemany(
            "INSERT INTO announced_partitions (key, version) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET version = excluded.version",
            sorted(told.versions.items()),
        )
