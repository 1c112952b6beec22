"""Loader for Basketball-Reference player totals and advanced stats (regular season or playoffs).

One row per player-season-team; a player traded mid-season also has a ``Tm = TOT``
row summing his teams (stored with ``is_total=1`` and no franchise). Hall of Fame
players carry a trailing ``*`` on the name: stripped, kept as ``hall_of_fame``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec

from nbamcp.data.franchises import code_to_franchise
from nbamcp.data.ingest.checks import (
    Checks,
    Row,
    RowError,
    in_range,
    opt_float,
    opt_int,
    req_int,
    text,
)

SOURCE = "bref"
TOTALS_REQUIRED = frozenset({"Pk", "Year", "Player", "Tm", "G", "GS", "MP", "FG", "FGA", "PTS"})
ADVANCED_REQUIRED = frozenset({"Pk", "Year", "Player", "Tm", "G", "MP", "PER", "TS%", "WS", "BPM"})
KEYS = ("player_id", "season", "season_type", "team_code")
COMMON = ("franchise_id", "is_total", "pos", "age", "gp", "min", "stint")

# (source column, store column)
TOTALS_INT = (
    ("GS", "gs"), ("FG", "fgm"), ("FGA", "fga"), ("3P", "fg3m"), ("3PA", "fg3a"), ("2P", "fg2m"),
    ("2PA", "fg2a"), ("FT", "ftm"), ("FTA", "fta"), ("ORB", "oreb"), ("DRB", "dreb"), ("TRB", "reb"),
    ("AST", "ast"), ("STL", "stl"), ("BLK", "blk"), ("TOV", "tov"), ("PF", "pf"), ("PTS", "pts"),
)  # fmt: skip
# (source column, store column, low, high): shooting percentages are fractions;
# eFG% counts a three as 1.5 makes, so it reaches 1.5.
TOTALS_PCT = (
    ("FG%", "fg_pct", 0.0, 1.0), ("3P%", "fg3_pct", 0.0, 1.0), ("2P%", "fg2_pct", 0.0, 1.0),
    ("eFG%", "efg_pct", 0.0, 1.5), ("FT%", "ft_pct", 0.0, 1.0),
)  # fmt: skip
_INF = float("inf")
ADVANCED = (
    ("PER", "per", -_INF, _INF), ("TS%", "ts_pct", 0.0, 1.5), ("3PAr", "fg3a_rate", 0.0, 1.0),
    ("FTr", "fta_rate", 0.0, 20.0), ("ORB%", "oreb_pct", 0.0, 100.0), ("DRB%", "dreb_pct", 0.0, 100.0),
    ("TRB%", "reb_pct", 0.0, 100.0), ("AST%", "ast_pct", 0.0, 100.0), ("STL%", "stl_pct", 0.0, 100.0),
    ("BLK%", "blk_pct", 0.0, 100.0), ("TOV%", "tov_pct", 0.0, 100.0), ("USG%", "usg_pct", 0.0, 100.0),
    ("OWS", "ows", -_INF, _INF), ("DWS", "dws", -_INF, _INF), ("WS", "ws", -_INF, _INF),
    ("WS/48", "ws_per48", -_INF, _INF), ("OBPM", "obpm", -_INF, _INF), ("DBPM", "dbpm", -_INF, _INF),
    ("BPM", "bpm", -_INF, _INF), ("VORP", "vorp", -_INF, _INF),
)  # fmt: skip
TOTALS_COLS = tuple(c for _, c in TOTALS_INT) + tuple(c for _, c, _, _ in TOTALS_PCT)
ADVANCED_COLS = tuple(c for _, c, _, _ in ADVANCED)
MAX_GAMES = {"regular": 90, "playoffs": 30}
# 48 minutes plus up to ~12 of overtime a night on average is already absurd.
MAX_MINUTES_PER_GAME = 60


class PlayerSeasons(msgspec.Struct):
    """What a file yields: rows for ``player_seasons`` and the players they name."""

    kind: str  # 'totals' | 'advanced'
    season_type: str
    cols: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    players: dict[str, tuple[str, int]]  # player_id -> (name, hall_of_fame)


def split_name(raw: str) -> tuple[str, int]:
    name = raw.strip()
    hof = name.endswith("*")
    return name.rstrip("*").strip(), int(hof)


def _common(row: Row, season_type: str, codes: dict[str, str], today: dt.date) -> list[Any]:
    pid = text(row, "Pk")
    season = req_int(row, "Year")
    in_range(season, 1947, today.year + 1, "Year", rule="season_range")
    tm = text(row, "Tm").upper()
    is_total = int(tm == "TOT")
    fid = None if is_total else codes.get(tm)
    if fid is None and not is_total:
        raise RowError("integrity", "unknown_team_code", f"Tm={tm!r} is not a known team code")
    gp = req_int(row, "G")
    in_range(gp, 1, MAX_GAMES[season_type], "G", rule="games_played_range")
    minutes = opt_int(row, "MP")
    if minutes is not None and minutes < 0:
        raise RowError("ranges", "negative_minutes", f"MP={minutes} is negative")
    in_range(minutes, 0, MAX_MINUTES_PER_GAME * gp, "MP", rule="minutes_range")
    age = opt_int(row, "Age")
    in_range(age, 15, 50, "Age", rule="age_range")
    text(row, "Player")
    pos = (row.get("Pos") or "").strip() or None
    return [pid, season, season_type, tm, fid, is_total, pos, age, gp, minutes, 0]


def _totals(row: Row, checks: Checks) -> list[Any]:
    v: dict[str, Any] = {}
    for src, col in TOTALS_INT:
        x = opt_int(row, src)
        if x is not None and x < 0:
            raise RowError("ranges", "negative_count", f"{src}={x} is negative")
        v[col] = x
    gs = v["gs"]
    if gs is not None and gs > int(row["G"]):
        raise RowError("impossible", "starts_gt_games", f"GS={gs} > G={row['G']}")
    for made, att in (("fgm", "fga"), ("fg3m", "fg3a"), ("fg2m", "fg2a"), ("ftm", "fta")):
        if v[made] is not None and v[att] is not None and v[made] > v[att]:
            raise RowError("impossible", "made_gt_attempted", f"{made}={v[made]} > {att}={v[att]}")
    if (
        None not in (v["pts"], v["fgm"], v["fg3m"], v["ftm"])
        and v["pts"] != 2 * v["fgm"] + v["fg3m"] + v["ftm"]
    ):
        raise RowError("impossible", "points_mismatch", f"PTS={v['pts']} != 2*FG + 3P + FT")
    if None not in (v["reb"], v["oreb"], v["dreb"]) and v["reb"] != v["oreb"] + v["dreb"]:
        raise RowError("impossible", "rebounds_mismatch", f"TRB={v['reb']} != ORB + DRB")
    pcts: list[float | None] = []
    for src, _col, lo, hi in TOTALS_PCT:
        pct = opt_float(row, src)
        in_range(pct, lo, hi, src, rule="percentage_range")
        pcts.append(pct)
    return [*(v[c] for _, c in TOTALS_INT), *pcts]


def _advanced(row: Row, checks: Checks) -> list[Any]:
    out = []
    for src, _col, lo, hi in ADVANCED:
        x = opt_float(row, src)
        in_range(x, lo, hi, src, rule="percentage_range")
        out.append(x)
    return out


_TOTALS_INT_SRC = tuple(src for src, _ in TOTALS_INT)
_I = {col: i for i, (_, col) in enumerate(TOTALS_INT)}
_MADE_ATT = tuple(
    (_I[m], _I[a]) for m, a in (("fgm", "fga"), ("fg3m", "fg3a"), ("fg2m", "fg2a"), ("ftm", "fta"))
)


def _fast(row: Row, season_type: str, codes: dict[str, str], max_year: int, kind: str) -> tuple[Any, ...]:
    """Good rows in plain conversions; anything odd raises and the checked path explains."""
    pid, tm = row["Pk"], row["Tm"]
    if not pid or not row["Player"]:
        raise ValueError
    season, gp = int(row["Year"]), int(row["G"])
    is_total = tm == "TOT"
    fid = None if is_total else codes[tm]
    mp, age_s = row.get("MP"), row.get("Age")
    minutes, age = (int(mp) if mp else None), (int(age_s) if age_s else None)
    if not (
        1947 <= season <= max_year
        and 1 <= gp <= MAX_GAMES[season_type]
        and (minutes is None or 0 <= minutes <= MAX_MINUTES_PER_GAME * gp)
        and (age is None or 15 <= age <= 50)
    ):
        raise ValueError
    head = (pid, season, season_type, tm, fid, int(is_total), row.get("Pos") or None, age, gp, minutes, 0)
    if kind == "totals":
        v = [int(row[src]) for src in _TOTALS_INT_SRC]
        fgm, fg3m, ftm, pts = v[_I["fgm"]], v[_I["fg3m"]], v[_I["ftm"]], v[_I["pts"]]
        if (
            min(v) < 0
            or v[_I["gs"]] > gp
            or any(v[m] > v[a] for m, a in _MADE_ATT)
            or pts != 2 * fgm + fg3m + ftm
            or v[_I["reb"]] != v[_I["oreb"]] + v[_I["dreb"]]
        ):
            raise ValueError
        tail: list[Any] = v
        specs: tuple[tuple[str, str, float, float], ...] = TOTALS_PCT
    else:
        tail, specs = [], ADVANCED
    for src, _, lo, hi in specs:
        x = row[src]
        if x:
            f = float(x)
            if not lo <= f <= hi:
                raise ValueError
            tail.append(f)
        else:
            tail.append(None)
    return (*head, *tail)


def load(
    rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date, *, kind: str, season_type: str
) -> PlayerSeasons:
    codes = code_to_franchise()
    parse = _totals if kind == "totals" else _advanced
    out: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    players: dict[str, tuple[int, str, int]] = {}
    max_year = today.year + 1
    for row_no, row in rows:
        try:
            rec = _fast(row, season_type, codes, max_year, kind)
        except (ValueError, KeyError, TypeError):
            try:
                rec = tuple(_common(row, season_type, codes, today) + parse(row, checks))
            except RowError as err:
                checks.reject(row_no, err, row)
                continue
        key = rec[:4]
        if key in out:
            first_no, first = out[key]
            rule = "duplicate_row" if first == rec else "conflicting_duplicate"
            checks.reject(row_no, RowError("duplicates", rule, f"{key} already given by row {first_no}"), row)
            continue
        out[key] = (row_no, rec)
        name, hof = split_name(row["Player"])
        prev = players.get(key[0])
        if prev is None or key[1] >= prev[0]:
            players[key[0]] = (key[1], name, max(hof, prev[2] if prev else 0))
    recs = _number_stints([rec for _, rec in out.values()])
    cols = COMMON + (TOTALS_COLS if kind == "totals" else ADVANCED_COLS)
    _flag_nulls(recs, cols, checks, kind)
    _check_totals_rows(recs, checks, kind)
    return PlayerSeasons(
        kind, season_type, cols, recs, {pid: (name, hof) for pid, (_, name, hof) in players.items()}
    )


def _number_stints(recs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Team rows of a player-season numbered 1, 2... in file order (the order he played); TOT is 0."""
    at = len(KEYS) + COMMON.index("stint")
    seen: dict[tuple[str, int], int] = {}
    out = []
    for r in recs:
        if r[3] == "TOT":
            stint = 0
        else:
            stint = seen[(r[0], r[1])] = seen.get((r[0], r[1]), 0) + 1
        out.append((*r[:at], stint, *r[at + 1 :]))
    return out


def _flag_nulls(recs: list[tuple[Any, ...]], cols: tuple[str, ...], checks: Checks, kind: str) -> None:
    """Empty percentages are normal (no attempts, few minutes): counted as info."""
    names = [c for _, c, _, _ in (TOTALS_PCT if kind == "totals" else ADVANCED)]
    base = len(KEYS)
    for name in names:
        i = base + cols.index(name)
        n = sum(1 for r in recs if r[i] is None)
        why = "no attempts" if kind == "totals" else "too few minutes or attempts"
        checks.flag("nulls", f"empty_{name}", f"{why}: left empty", severity="info", n=n)
    if kind == "advanced":
        i = base + cols.index("bpm")
        for r in recs:
            if r[i] is not None and abs(r[i]) > 100:
                checks.flag("ranges", "extreme_bpm", f"{r[0]} {r[1]}: BPM {r[i]} (few minutes)")


def _check_totals_rows(recs: list[tuple[Any, ...]], checks: Checks, kind: str) -> None:
    """A TOT row must sum its team rows; a player with several teams needs one."""
    by_ps: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for r in recs:
        by_ps.setdefault((r[0], r[1]), []).append(r)
    gp_at = len(KEYS) + COMMON.index("gp")
    pts_at = len(KEYS) + len(COMMON) + TOTALS_COLS.index("pts") if kind == "totals" else None
    for (pid, season), rs in by_ps.items():
        tot = [r for r in rs if r[3] == "TOT"]
        teams = [r for r in rs if r[3] != "TOT"]
        if len(teams) > 1 and not tot:
            checks.flag("integrity", "missing_tot", f"{pid} {season}: {len(teams)} teams, no TOT row")
        if tot and teams:
            bad = sum(r[gp_at] for r in teams) != tot[0][gp_at]
            if pts_at is not None and all(r[pts_at] is not None for r in (*teams, tot[0])):
                bad = bad or sum(r[pts_at] for r in teams) != tot[0][pts_at]
            if bad:
                checks.flag(
                    "integrity", "tot_mismatch", f"{pid} {season}: TOT is not the sum of the team rows"
                )
