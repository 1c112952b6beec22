"""Writes game candidates into the store, merging the same game told by several sources.

A game is identified by (date, home, away, seq); ``game_id`` is
``f"{date}-{away}-{home}-{seq}"`` with franchise ids, so it is the same whichever
source brought it first. When a second source brings a known game, the scores (and
season type) must agree, else the row is quarantined; otherwise the sources are
merged (538's probabilities, nba_api's game id). A neutral-site game may be
oriented differently by two sources: it is then matched with home and away swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from nbamcp.data.ingest.checks import Checks, RowError
from nbamcp.data.ingest.games_common import GameCandidate, reject_game

_COLS = (
    "game_id", "date", "season", "season_type", "home", "away", "home_code", "away_code",
    "home_pts", "away_pts", "neutral", "playin", "elo538_home_prob", "raptor538_home_prob",
    "sources", "nba_game_id",
)  # fmt: skip
_MERGED = ("neutral", "playin", "elo538_home_prob", "raptor538_home_prob", "sources", "nba_game_id")


def make_game_id(date: str, away: str, home: str, seq: int) -> str:
    return f"{date}-{away}-{home}-{seq}"


class WriteCounts:
    def __init__(self) -> None:
        self.inserted = self.updated = self.unchanged = 0
        self.new_game_ids: list[str] = []
        # (game id, home pts, away pts, source): a known game told with another score
        self.rescored: list[tuple[str, int, int, str]] = []


async def _existing(
    conn: aiosqlite.Connection, first: str, last: str
) -> dict[tuple[str, str, str, int], dict]:
    sql = f"SELECT {', '.join(_COLS)} FROM games WHERE date BETWEEN ? AND ?"
    out: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    cur = await conn.cursor()
    cur.row_factory = None  # plain tuples: ~3x cheaper than Row objects for 70k rows
    try:
        await cur.execute(sql, (first, last))
        rows = await cur.fetchall()
    finally:
        await cur.close()
    for row in rows:
        rec = dict(zip(_COLS, row, strict=True))
        out[(row[1], row[4], row[5], int(row[0].rsplit("-", 1)[1]))] = rec
    return out


def _unchanged(old: dict[str, Any], g: GameCandidate) -> bool:
    """The common re-run case: this source already told exactly this (same orientation)."""
    return (
        old["home_pts"] == g.home_pts
        and old["away_pts"] == g.away_pts
        and old["season_type"] == g.season_type
        and g.source in old["sources"].split(",")
        and old["neutral"] >= g.neutral
        and old["playin"] >= g.playin
        and (g.nba_game_id is None or old["nba_game_id"] == g.nba_game_id)
        and (g.elo538_home_prob is None or old["elo538_home_prob"] == g.elo538_home_prob)
        and (g.raptor538_home_prob is None or old["raptor538_home_prob"] == g.raptor538_home_prob)
    )


def _merge(old: dict[str, Any], g: GameCandidate, swapped: bool) -> dict[str, Any]:
    """The stored game after ``g`` is merged in; raises RowError on a conflict."""
    hp, ap = (g.away_pts, g.home_pts) if swapped else (g.home_pts, g.away_pts)
    if (old["home_pts"], old["away_pts"]) != (hp, ap):
        raise RowError(
            "conflicts",
            "score_conflict",
            f"{g.source} says {old['home']} {hp}-{ap} {old['away']}, the store has "
            f"{old['home_pts']}-{old['away_pts']} from {old['sources']} (game {old['game_id']})",
        )
    if old["season_type"] != g.season_type:
        raise RowError(
            "conflicts",
            "season_type_conflict",
            f"{g.source} says {g.season_type}, the store has {old['season_type']} (game {old['game_id']})",
        )
    if old["nba_game_id"] and g.nba_game_id and old["nba_game_id"] != g.nba_game_id:
        raise RowError(
            "conflicts",
            "nba_game_id_conflict",
            f"nba game id {g.nba_game_id} vs stored {old['nba_game_id']} (game {old['game_id']})",
        )
    new = dict(old)
    new["sources"] = ",".join(sorted(set(old["sources"].split(",")) | {g.source}))
    new["neutral"] = max(old["neutral"], g.neutral)
    new["playin"] = max(old["playin"], g.playin)
    if g.nba_game_id is not None:
        new["nba_game_id"] = g.nba_game_id
    for col in ("elo538_home_prob", "raptor538_home_prob"):
        p = getattr(g, col)
        if p is not None:
            # Probabilities are the stored home side's: flip them when the source saw it the other way.
            new[col] = round(1.0 - p, 6) if swapped else p
    return new


async def write_games(
    conn: aiosqlite.Connection, games: Sequence[GameCandidate], checks: Checks
) -> WriteCounts:
    """Insert new games, merge known ones; call inside a transaction."""
    counts = WriteCounts()
    if not games:
        return counts
    existing = await _existing(conn, min(g.date for g in games), max(g.date for g in games))
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for g in games:
        key = (g.date, g.home, g.away, g.seq)
        old, swapped = existing.get(key), False
        if old is not None and _unchanged(old, g):
            counts.unchanged += 1
            continue
        if old is None:
            alt = existing.get((g.date, g.away, g.home, g.seq))
            if alt is not None and (alt["neutral"] or g.neutral):
                old, swapped = alt, True
        if old is None:
            gid = make_game_id(g.date, g.away, g.home, g.seq)
            rec = {
                "game_id": gid, "date": g.date, "season": g.season, "season_type": g.season_type,
                "home": g.home, "away": g.away, "home_code": g.home_code, "away_code": g.away_code,
                "home_pts": g.home_pts, "away_pts": g.away_pts, "neutral": g.neutral, "playin": g.playin,
                "elo538_home_prob": g.elo538_home_prob, "raptor538_home_prob": g.raptor538_home_prob,
                "sources": g.source, "nba_game_id": g.nba_game_id,
            }  # fmt: skip
            existing[key] = rec
            inserts.append(tuple(rec[c] for c in _COLS))
            counts.inserted += 1
            counts.new_game_ids.append(gid)
            continue
        try:
            new = _merge(old, g, swapped)
        except RowError as err:
            reject_game(checks, g, err)
            if err.rule == "score_conflict":
                hp, ap = (g.away_pts, g.home_pts) if swapped else (g.home_pts, g.away_pts)
                counts.rescored.append((old["game_id"], hp, ap, g.source))
            continue
        if new == old:
            counts.unchanged += 1
            continue
        updates.append((*(new[c] for c in _MERGED), old["game_id"]))
        old.update(new)
        counts.updated += 1
    placeholders = ", ".join("?" * len(_COLS))
    await conn.executemany(f"INSERT INTO games ({', '.join(_COLS)}) VALUES ({placeholders})", inserts)
    sets = ", ".join(f"{c} = ?" for c in _MERGED)
    await conn.executemany(f"UPDATE games SET {sets} WHERE game_id = ?", updates)
    return counts
