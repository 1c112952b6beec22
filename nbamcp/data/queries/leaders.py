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

import heapq
import math
from dataclasses import dataclass

import numpy as np

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
# Season tables kept per version of the data (at most ~0.2 MB each): another per mode or limit in
# a season already asked ranks without reading the store again, another stat reads one column.
SEASONS_KEPT = 16
# The columns every ranking reads: games and minutes (per game, per 36), the qualifying makes.
_BASE = ("gp", "min", "fgm", "fg3m", "ftm")
_SEASON_ROWS = """
FROM player_seasons ps JOIN players p USING (player_id)
WHERE ps.season = ? AND ps.season_type = ?
ORDER BY ps.player_id, ps.stint
"""


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


def _values(t: _SeasonTable, stat: str, per: str) -> np.ndarray:
    """The exact values ranked on (NaN: no value), as ``v / gp`` and ``v * 36.0 / min`` in Python."""
    v = t.columns[stat]
    if (stat in COUNTING or stat == "min") and per in ("game", "per36"):
        denom = t.columns["gp" if per == "game" else "min"]
        num = v if per == "game" else v * 36.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.nan_to_num(denom) != 0, num / denom, np.nan)
    return v


@dataclass(frozen=True)
class _SeasonTable:
    """A season's rows that rank (a traded player's TOT row, else his one team row), by column."""

    player_ids: list[str]
    names: list[str]
    team_codes: list[str]
    gp: list[int]  # as stored (the leader's games)
    chosen: list[int]  # their places among all the season's rows (in ``_SEASON_ROWS`` order)
    columns: dict[str, np.ndarray]  # float64, NaN for a missing value; a stat's added when asked
    teams: dict[str, list[str]]  # a traded player's teams, in the order he played for them
    max_gp: int


def _floats(values: list[tuple[object, ...]]) -> np.ndarray:
    """Rows of numbers (or None) as float64 columns, NaN for None (numpy's cast): one pass."""
    return np.array(values, dtype=np.float64).reshape(len(values), -1).T.copy()  # columns contiguous


async def _season_table(store: Store, season: int, season_type: str, stat: str) -> _SeasonTable | None:
    cols = tuple(dict.fromkeys((*_BASE, stat)))
    rows = await store.fetchall(
        f"SELECT p.name, ps.player_id, ps.team_code, ps.is_total, {', '.join(f'ps.{c}' for c in cols)}"
        + _SEASON_ROWS,
        (season, season_type),
    )
    if not rows:
        return None
    teams: dict[str, list[str]] = {}
    has_tot = set()
    for r in rows:
        if r[3]:
            has_tot.add(r[1])
        else:
            teams.setdefault(r[1], []).append(r[2])
    at = [i for i, r in enumerate(rows) if r[3] or r[1] not in has_tot]
    chosen = [rows[i] for i in at]
    matrix = _floats([tuple(r)[4:] for r in chosen])
    gp = [r[4] for r in chosen]
    return _SeasonTable(
        player_ids=[r[1] for r in chosen],
        names=[r[0] for r in chosen],
        team_codes=[r[2] for r in chosen],
        gp=gp,
        chosen=at,
        columns={c: matrix[i] for i, c in enumerate(cols)},
        teams=teams,
        max_gp=max(g or 0 for g in gp),
    )


async def _column(store: Store, t: _SeasonTable, season: int, season_type: str, stat: str) -> np.ndarray:
    """``stat``'s column of a kept season table, read (once per version of the data) when first asked."""
    if stat not in t.columns:
        rows = await store.fetchall(f"SELECT ps.{stat}" + _SEASON_ROWS, (season, season_type))
        t.columns[stat] = _floats([(rows[i][0],) for i in t.chosen])[0]
    return t.columns[stat]


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
    t = await store.kept(
        "leader_seasons",
        (s, season_type),
        lambda: _season_table(store, s, season_type, stat),
        max_entries=SEASONS_KEPT,
    )
    if t is None:
        raise NotFound(f"no {season_type} player stats for {s}")
    await _column(store, t, s, season_type, stat)
    test_col, need, text = _rule(stat, per, s, season_type, t.max_gp)
    values = _values(t, stat, per)
    qualified = np.flatnonzero((np.nan_to_num(t.columns[test_col]) >= need) & ~np.isnan(values))
    # Highest first for every stat, as the league lists them (turnovers too); ties by name.
    vals = values[qualified].tolist()
    top = heapq.nsmallest(limit, range(len(vals)), key=lambda j: (-vals[j], t.names[qualified[j]]))
    out: list[Leader] = []
    prev: float | None = None
    for i, j in enumerate(top):
        v, k = vals[j], int(qualified[j])
        rank = out[-1].rank if out and prev == v else i + 1
        prev = v
        pid = t.player_ids[k]
        out.append(
            Leader(
                rank, pid, t.names[k], t.team_codes[k], t.teams.get(pid, []), t.gp[k], _shown(v, stat, per)
            )
        )
    shown_per = per if (stat in COUNTING or stat == "min") else "n/a"
    return Leaders(stat, s, season_label(s), season_type, shown_per, text, len(vals), out)
