"""League leaders for a season, with the qualifying minimum a basketball reader expects.

Rules (stated in every result):

* per-game and per-36 counting stats, regular season: at least 70% of the
  season's games (the NBA rule: 58 of 82), scaled for short seasons (1999: 50
  games, 2012: 66, 2020 and 2021: 72);
* shooting percentages: the NBA's made-shot minimums scaled the same way: FG% and
  eFG%/TS% 300 field goals, 3P% 82 threes, FT% 125 free throws;
* advanced rates (PER, USG%, WS/48, BPM): 1,500 minutes, scaled;
* totals (``per="total"``, WS, VORP, games): no minimum;
* playoffs: per game, at least half the most playoff games anyone played that
  year; the other minimums scale with that many games instead of 82.
"""

from __future__ import annotations

import math
from typing import Any

from nbamcp.data.queries.common import (
    PER_MODES,
    SEASON_TYPES,
    check_choice,
    check_limit,
    require_season,
    season_label,
)
from nbamcp.data.queries.statline import ADV_RATES, ADV_TOTALS, COUNTING, PCTS
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.messages import Leader, Leaders
from nbamcp.messages.fields import STAT_NAMES

SEASON_GAMES = {1999: 50, 2012: 66, 2020: 72, 2021: 72}
FULL_SEASON = 82
GAMES_SHARE = 0.70
PCT_MADE = {"fg_pct": ("fgm", 300), "efg_pct": ("fgm", 300), "ts_pct": ("fgm", 300),
            "fg3_pct": ("fg3m", 82), "ft_pct": ("ftm", 125)}  # fmt: skip
RATE_MINUTES = 1500
PLAYOFF_GAMES_SHARE = 0.5


def _scale(season: int, season_type: str, max_gp: int) -> tuple[float, str]:
    if season_type == "playoffs":
        return max_gp / FULL_SEASON, f"the most playoff games anyone played in {season} ({max_gp})"
    games = SEASON_GAMES.get(season, FULL_SEASON)
    article = "an" if str(games).startswith(("8", "11", "18")) else "a"
    return games / FULL_SEASON, f"{article} {games}-game season"


def _rule(stat: str, per: str, season: int, season_type: str, max_gp: int) -> tuple[str, int, str]:
    """(column to test, minimum, text) for ``stat``; minimum 0 = no minimum."""
    scale, basis = _scale(season, season_type, max_gp)
    if stat in PCT_MADE:
        col, made = PCT_MADE[stat]
        need = math.ceil(made * scale)
        return col, need, f"at least {need} {col.upper()} ({made} per 82 games, scaled to {basis})"
    if stat in ADV_RATES or stat in ("per",):
        need = math.ceil(RATE_MINUTES * scale)
        return "min", need, f"at least {need} minutes ({RATE_MINUTES} per 82 games, scaled to {basis})"
    if stat in ADV_TOTALS or stat in ("gp", "gs") or per == "total":
        return "gp", 0, "season totals: no minimum"
    if season_type == "playoffs":
        need = math.ceil(PLAYOFF_GAMES_SHARE * max_gp)
        return "gp", need, f"at least {need} games (half of {basis})"
    need = math.ceil(GAMES_SHARE * SEASON_GAMES.get(season, FULL_SEASON))
    return "gp", need, f"at least {need} games (70% of {basis}; the NBA rule is 58 of 82)"


def _value(r: dict[str, Any], stat: str, per: str) -> float | None:
    """The exact value (ranked on); rounding is for display only."""
    v = r.get(stat)
    if v is None:
        return None
    if stat in COUNTING or stat == "min":
        if per == "game":
            return v / r["gp"] if r["gp"] else None
        if per == "per36":
            return v * 36.0 / r["min"] if r["min"] else None
    return float(v)


def _shown(v: float, stat: str, per: str) -> float:
    if stat in COUNTING or stat == "min":
        return float(v) if per == "total" else round(v, 1)
    return round(v, 3 if stat in PCTS or stat == "ws_per48" else 1)


async def league_leaders(
    store: Store,
    stat: str,
    season: int | str,
    season_type: str = "regular",
    per: str = "game",
    limit: int = 10,
) -> Leaders:
    """The top ``limit`` qualified players in ``stat`` (a TOT row for traded players)."""
    if stat not in STAT_NAMES:
        raise InvalidInput(
            f"unknown stat {stat!r}; accepted: {', '.join(STAT_NAMES)}",
            details={"accepted": ",".join(STAT_NAMES)},
        )
    season_type = check_choice(season_type, "season_type", SEASON_TYPES)
    per = check_choice(per, "per", PER_MODES)
    check_limit(limit)
    s = await require_season(store, season, table="player_seasons")
    col = "per" if stat == "per" else stat
    # Only the columns ranking needs: ``stat`` is one of STAT_NAMES, all player_seasons columns.
    cols = dict.fromkeys(("player_id", "team_code", "is_total", "gp", "min", "fgm", "fg3m", "ftm", col))
    rows = [
        dict(zip(("name", *cols), r, strict=True))
        for r in await store.fetchall(
            f"""
            SELECT p.name, {", ".join(f"ps.{c}" for c in cols)}
            FROM player_seasons ps JOIN players p USING (player_id)
            WHERE ps.season = ? AND ps.season_type = ?
            ORDER BY ps.player_id, ps.stint
            """,
            (s, season_type),
        )
    ]
    if not rows:
        raise NotFound(f"no {season_type} player stats for {s}")
    teams: dict[str, list[str]] = {}
    has_tot = set()
    for r in rows:
        if r["is_total"]:
            has_tot.add(r["player_id"])
        else:
            teams.setdefault(r["player_id"], []).append(r["team_code"])
    season_rows = [r for r in rows if r["is_total"] or r["player_id"] not in has_tot]
    max_gp = max(r["gp"] or 0 for r in season_rows)
    test_col, need, text = _rule(stat, per, s, season_type, max_gp)
    qualified = [r for r in season_rows if (r.get(test_col) or 0) >= need]
    scored = [(v, r) for r in qualified if (v := _value(r, col, per)) is not None]
    # Highest first for every stat, as the league lists them (turnovers too).
    scored.sort(key=lambda vr: (-vr[0], vr[1]["name"]))
    out: list[Leader] = []
    prev: float | None = None
    for i, (v, r) in enumerate(scored[:limit]):
        rank = out[-1].rank if out and prev == v else i + 1
        prev = v
        out.append(
            Leader(
                rank,
                r["player_id"],
                r["name"],
                r["team_code"],
                teams.get(r["player_id"], []),
                r["gp"],
                _shown(v, stat, per),
            )
        )
    shown_per = per if (stat in COUNTING or stat == "min") else "n/a"
    return Leaders(stat, s, season_label(s), season_type, shown_per, text, len(scored), out)
