"""The anomaly hold, kept in the stats worker's own store (table ``held_games``, migration 9).

A held "new" game is in ``games`` but is left out of what the other workers are told
(``Announcer`` drops ``open_new_holds``): no features, no training, no feedback join until
an admin accepts it. A held "rescored" game keeps its announced row in ``games``; accepting
it writes the held score there, which the next announcement carries as a corrected row.
Accepted holds stay in the table (who accepted, when): the audit of what was let through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from nbamcp.data.store import Store
from nbamcp.messages import HeldGame

_COLS = (
    "h.game_id, g.date, g.season, g.home, g.away, h.home_pts, h.away_pts, h.kind, h.rules, h.reason, "
    "h.held_at, h.was_home_pts, h.was_away_pts"
)


@dataclass(frozen=True, slots=True)
class Hold:
    game_id: str
    kind: str  # "new" | "rescored"
    home_pts: int
    away_pts: int
    rules: Sequence[str]
    reason: str
    was_home_pts: int | None = None
    was_away_pts: int | None = None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


async def hold(store: Store, holds: Sequence[Hold]) -> None:
    """Hold these results (again: a new hold of a game replaces its old one, accepted or not)."""
    at = now_iso()
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO held_games (game_id, kind, home_pts, away_pts, was_home_pts, was_away_pts, rules, "
            "reason, held_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (game_id) DO UPDATE SET "
            "kind = excluded.kind, home_pts = excluded.home_pts, away_pts = excluded.away_pts, "
            "was_home_pts = excluded.was_home_pts, was_away_pts = excluded.was_away_pts, "
            "rules = excluded.rules, reason = excluded.reason, held_at = excluded.held_at, "
            "accepted_at = NULL, accepted_by = NULL",
            [
                (
                    h.game_id,
                    h.kind,
                    h.home_pts,
                    h.away_pts,
                    h.was_home_pts,
                    h.was_away_pts,
                    ",".join(h.rules),
                    h.reason,
                    at,
                )
                for h in holds
            ],
        )


async def open_new_holds(store: Store) -> set[str]:
    """The ids of the games in ``games`` that must not be announced (held, not accepted)."""
    rows = await store.fetchall("SELECT game_id FROM held_games WHERE accepted_at IS NULL AND kind = 'new'")
    return {r[0] for r in rows}


async def held_games(store: Store, limit: int) -> tuple[list[HeldGame], int]:
    """The open holds, in date order (at most ``limit``), and how many there are."""
    where = "FROM held_games h JOIN games g ON g.game_id = h.game_id WHERE h.accepted_at IS NULL"
    total = await store.fetchone(f"SELECT count(*) {where}")
    rows = await store.fetchall(f"SELECT {_COLS} {where} ORDER BY g.date, h.game_id LIMIT ?", (limit,))
    games = [
        HeldGame(
            game_id=r[0],
            date=r[1],
            season=r[2],
            home=r[3],
            away=r[4],
            home_pts=r[5],
            away_pts=r[6],
            kind=r[7],
            rules=r[8].split(","),
            reason=r[9],
            held_at=r[10],
            was_home_pts=r[11],
            was_away_pts=r[12],
        )
        for r in rows
    ]
    return games, int(total[0]) if total else 0


async def accept(store: Store, game_ids: Sequence[str], actor: str) -> tuple[list[str], list[str]]:
    """Accept open holds: (accepted ids, ids that were not held). A rescored game gets its new score."""
    wanted = list(dict.fromkeys(game_ids))
    marks = ", ".join("?" * len(wanted))
    rows = await store.fetchall(
        f"SELECT game_id, kind, home_pts, away_pts FROM held_games "
        f"WHERE accepted_at IS NULL AND game_id IN ({marks})",
        wanted,
    )
    found = {r[0]: (r[1], r[2], r[3]) for r in rows}
    at = now_iso()
    async with store.transaction() as conn:
        await conn.executemany(
            "UPDATE games SET home_pts = ?, away_pts = ? WHERE game_id = ?",
            [(hp, ap, gid) for gid, (kind, hp, ap) in found.items() if kind == "rescored"],
        )
        await conn.executemany(
            "UPDATE held_games SET accepted_at = ?, accepted_by = ? WHERE game_id = ?",
            [(at, actor, gid) for gid in found],
        )
    if any(kind == "rescored" for kind, _, _ in found.values()):
        store.bump()  # the store's answers change with the scores
    return [g for g in wanted if g in found], [g for g in wanted if g not in found]
