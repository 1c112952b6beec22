"""Loaders for player facts: Basketball-Reference player info and FiveThirtyEight RAPTOR.

Both key players by the Basketball-Reference id (``Pk`` / ``player_id``). RAPTOR
reaches back to 1977, so it also names players the 1990+ player files never see.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from nbamcp.data.ingest.checks import Checks, Row, RowError, in_range, opt_float, opt_int, req_int, text

INFO_REQUIRED = frozenset({"Pk", "Pos", "Ht", "Wt"})
RAPTOR_REQUIRED = frozenset({"player_name", "player_id", "season", "raptor_total", "war_total"})
RAPTOR_FLOATS = (
    "raptor_offense", "raptor_defense", "raptor_total", "war_total", "war_reg_season", "war_playoffs",
    "predator_offense", "predator_defense", "predator_total", "pace_impact",
)  # fmt: skip
RAPTOR_COLS = ("poss", "mp", *RAPTOR_FLOATS)
_HEIGHT = re.compile(r"^(\d)-(\d{1,2})$")


class Rows(msgspec.Struct):
    rows: list[tuple[Any, ...]]
    players: dict[str, tuple[str, int]]  # player_id -> (name, hall_of_fame); empty for info


def height_inches(value: str) -> int:
    m = _HEIGHT.match(value)
    if m is None or int(m.group(2)) > 11:
        raise RowError("types", "bad_height", f"Ht={value!r} is not feet-inches like 6-10")
    inches = int(m.group(1)) * 12 + int(m.group(2))
    in_range(inches, 60, 96, "Ht (inches)", rule="height_range")
    return inches


def _dedupe(
    key: tuple[Any, ...], rec: tuple[Any, ...], row_no: int, row: Row, seen: dict, checks: Checks
) -> bool:
    if key in seen:
        first_no, first = seen[key]
        rule = "duplicate_row" if first == rec else "conflicting_duplicate"
        checks.reject(row_no, RowError("duplicates", rule, f"{key} already given by row {first_no}"), row)
        return False
    seen[key] = (row_no, rec)
    return True


def load_info(rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date) -> Rows:
    seen: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    for row_no, row in rows:
        try:
            pid = text(row, "Pk")
            pos = (row.get("Pos") or "").strip() or None
            ht = (row.get("Ht") or "").strip()
            height = height_inches(ht) if ht else None
            weight = opt_int(row, "Wt")
            in_range(weight, 120, 400, "Wt", rule="weight_range")
        except RowError as err:
            checks.reject(row_no, err, row)
            continue
        if height is None or weight is None:
            checks.flag("nulls", "missing_body", f"{pid}: height or weight empty", severity="info")
        _dedupe((pid,), (pid, pos, height, weight), row_no, row, seen, checks)
    return Rows([rec for _, rec in seen.values()], {})


def _raptor_fast(row: Row, max_year: int) -> tuple[Any, ...]:
    pid, name = row["player_id"], row["player_name"]
    season = int(row["season"])
    p, m = row["poss"], row["mp"]
    poss, mp = (int(p) if p else None), (int(m) if m else None)
    if not pid or not name or not 1947 <= season <= max_year or (poss or 0) < 0 or (mp or 0) < 0:
        raise ValueError
    return (pid, season, poss, mp, *(float(v) if (v := row[c]) else None for c in RAPTOR_FLOATS))


def _raptor_checked(row: Row, today: dt.date) -> tuple[Any, ...]:
    pid = text(row, "player_id")
    text(row, "player_name")
    season = req_int(row, "season")
    in_range(season, 1947, today.year + 1, "season", rule="season_range")
    poss, mp = opt_int(row, "poss"), opt_int(row, "mp")
    if (mp is not None and mp < 0) or (poss is not None and poss < 0):
        raise RowError("ranges", "negative_minutes", f"mp={mp} / poss={poss} is negative")
    return (pid, season, poss, mp, *(opt_float(row, c) for c in RAPTOR_FLOATS))


def load_raptor(rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date) -> Rows:
    seen: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    players: dict[str, tuple[str, int]] = {}
    max_year = today.year + 1
    for row_no, row in rows:
        try:
            rec = _raptor_fast(row, max_year)
        except (ValueError, KeyError, TypeError):
            try:
                rec = _raptor_checked(row, today)
            except RowError as err:
                checks.reject(row_no, err, row)
                continue
        if _dedupe(rec[:2], rec, row_no, row, seen, checks):
            players[rec[0]] = (row["player_name"].strip(), 0)
    recs = [rec for _, rec in seen.values()]
    for i, col in enumerate(RAPTOR_FLOATS, start=4):
        n = sum(1 for r in recs if r[i] is None)
        checks.flag("nulls", f"empty_{col}", "value left empty", severity="info", n=n)
    return Rows(recs, players)
