"""What the stats worker has told the other workers about the games, kept in its own store.

Every played game the workers have received (in the games dataset and a
``GamesIngested`` event) has its row hash in ``announced_games``. A game whose
row is not there, or differs, is news: after an ingest, after a crash between
the store's commit and the announcement, or when a correction changed a score.
Marking happens after the announcement, so a crash in between announces again
(the receivers are idempotent), never silence.
"""

from __future__ import annotations

from collections.abc import Sequence

from nbamcp.data.games import GameRow, load_games, row_hash
from nbamcp.data.store import Store


async def unannounced(store: Store, games: Sequence[GameRow] | None = None) -> list[GameRow]:
    """The played games (of ``games``, else of the whole store) not announced as they are now."""
    rows = list(games) if games is not None else await load_games(store.conn)
    known = {
        r["game_id"]: r["row_hash"]
        for r in await store.fetchall("SELECT game_id, row_hash FROM announced_games")
    }
    return [g for g in rows if known.get(g.game_id) != row_hash(g)]


async def mark_announced(store: Store, games: Sequence[GameRow]) -> None:
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO announced_games (game_id, row_hash) VALUES (?, ?) "
            "ON CONFLICT (game_id) DO UPDATE SET row_hash = excluded.row_hash",
            [(g.game_id, row_hash(g)) for g in games],
        )
