"""The nba_api LeagueGameLog player layout, summed into Basketball-Reference totals rows.

One row per player per game becomes one row per player-season-team, plus a ``TOT``
row for a player with several teams: exactly the totals layout, so the same loader
checks and stores it. nba_api's numeric ``PLAYER_ID`` is mapped to the
Basketball-Reference id through an exact (accent/case-insensitive) name match with a
player already in the store; a player with no unique match keeps ``nba:<PLAYER_ID>``.
Games started and age are not in the game log and stay empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nbamcp.data.ingest.checks import Checks, Row, RowError, opt_float, req_int, text
from nbamcp.data.ingest.gamelog import season_of

REQUIRED = frozenset({"season_id", "player_id", "player_name", "team_abbreviation", "game_id", "min", "pts"})
_SUMS = (
    ("fgm", "FG"), ("fga", "FGA"), ("fg3m", "3P"), ("fg3a", "3PA"), ("ftm", "FT"), ("fta", "FTA"),
    ("oreb", "ORB"), ("dreb", "DRB"), ("reb", "TRB"), ("ast", "AST"), ("stl", "STL"), ("blk", "BLK"),
    ("tov", "TOV"), ("pf", "PF"), ("pts", "PTS"),
)  # fmt: skip


def _pct(made: int, att: int) -> str:
    return f"{made / att:.3f}" if att else ""


def _bref_row(pid: str, name: str, season: int, team: str, games: int, minutes: float, s: dict) -> dict:
    fg2m, fg2a = s["FG"] - s["3P"], s["FGA"] - s["3PA"]
    efg = f"{(s['FG'] + 0.5 * s['3P']) / s['FGA']:.3f}" if s["FGA"] else ""
    return {
        "Pk": pid, "Year": str(season), "Player": name, "Pos": "", "Age": "", "Tm": team,
        "G": str(games), "GS": "", "MP": str(round(minutes)),
        **{k: str(v) for k, v in s.items()},
        "2P": str(fg2m), "2PA": str(fg2a),
        "FG%": _pct(s["FG"], s["FGA"]), "3P%": _pct(s["3P"], s["3PA"]), "2P%": _pct(fg2m, fg2a),
        "eFG%": efg, "FT%": _pct(s["FT"], s["FTA"]),
    }  # fmt: skip


def to_bref_rows(
    rows: Iterable[tuple[int, Row]], checks: Checks, name_to_id: dict[str, str]
) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """season type -> totals rows (row number = the player's first game-log row)."""
    acc: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    names: dict[str, str] = {}
    for row_no, row in rows:
        try:
            season, season_type, playin = season_of(text(row, "season_id"))
            if playin:
                checks.flag(
                    "integrity",
                    "playin_player_rows",
                    "play-in games are not in player totals",
                    severity="info",
                )
                continue
            nba_id, name = text(row, "player_id"), text(row, "player_name")
            team = text(row, "team_abbreviation").upper()
            minutes = opt_float(row, "min") or 0.0
            if minutes < 0:
                raise RowError("ranges", "negative_minutes", f"min={minutes} is negative")
            stats = {src: req_int(row, col) for col, src in _SUMS}
        except RowError as err:
            checks.reject(row_no, err, row)
            continue
        names[nba_id] = name
        key = (season_type, season, nba_id, team)
        a = acc.setdefault(key, {"row_no": row_no, "games": set(), "min": 0.0, "s": dict.fromkeys(stats, 0)})
        a["games"].add(text(row, "game_id"))
        a["min"] += minutes
        for k, v in stats.items():
            a["s"][k] += v
    from nbamcp.data.franchises import normalize

    out: dict[str, list[tuple[int, dict[str, str]]]] = {}
    per_player: dict[tuple[str, int, str], list[tuple[str, dict[str, Any]]]] = {}
    for (stype, season, nba_id, team), a in acc.items():
        per_player.setdefault((stype, season, nba_id), []).append((team, a))
    for (stype, season, nba_id), teams in per_player.items():
        name = names[nba_id]
        pid = name_to_id.get(normalize(name), f"nba:{nba_id}")
        rows_out = out.setdefault(stype, [])
        for team, a in teams:
            rows_out.append(
                (a["row_no"], _bref_row(pid, name, season, team, len(a["games"]), a["min"], a["s"]))
            )
        if len(teams) > 1:
            total = {k: sum(a["s"][k] for _, a in teams) for k in teams[0][1]["s"]}
            games = len(set().union(*(a["games"] for _, a in teams)))
            minutes = sum(a["min"] for _, a in teams)
            first = min(a["row_no"] for _, a in teams)
            rows_out.append((first, _bref_row(pid, name, season, "TOT", games, minutes, total)))
    return out
