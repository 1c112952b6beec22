"""Player seasons as the roster model reads them: one line per player and season.

A traded player's season is his total row (minutes, rating) with the first and
last teams he played for; a player with one team has that team's row.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from nbamcp.data.players import PlayerSeason


class SeasonLine(msgspec.Struct, frozen=True):
    """A player's whole season (the total row of a traded player, else his one team row)."""

    player_id: str
    season: int
    age: int | None
    games: int
    minutes: float
    bpm: float | None
    raptor: float | None
    first_team: str | None  # the first team he played for that season
    last_team: str | None  # the team he finished it with


def season_lines(players: Iterable[PlayerSeason]) -> dict[int, dict[str, SeasonLine]]:
    """season -> player_id -> his season line; a player with no usable row (no team row) is left out."""
    by_ps: dict[tuple[int, str], list[PlayerSeason]] = {}
    for p in players:
        by_ps.setdefault((p.season, p.player_id), []).append(p)
    out: dict[int, dict[str, SeasonLine]] = {}
    for (season, pid), rows in by_ps.items():
        stints = sorted((r for r in rows if r.team is not None), key=lambda r: r.stint)
        if not stints:
            continue
        total = next((r for r in rows if r.team is None), None)
        line = total if total is not None else stints[0]
        ages = [r.age for r in (line, *stints) if r.age is not None]
        out.setdefault(season, {})[pid] = SeasonLine(
            player_id=pid,
            season=season,
            age=ages[0] if ages else None,
            games=line.games,
            minutes=line.minutes,
            bpm=line.bpm,
            raptor=line.raptor if line.raptor is not None else stints[0].raptor,
            first_team=stints[0].team,
            last_team=stints[-1].team,
        )
    return out
