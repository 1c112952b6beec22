"""Loader for Basketball-Reference team seasons (W/L, SRS, ratings, playoff result).

The file names teams by today's nickname only ("Hornets" for the 2005 Bobcats,
"Pelicans" for the 2003 New Orleans Hornets, "Wizards" for the Bullets), so the
nickname is resolved without a season: its current franchise. Kept as a
cross-check; W/L and playoff results the tools show are computed from games.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from nbamcp.data.franchises import resolve_team
from nbamcp.data.ingest.checks import Checks, Row, RowError, in_range, opt_float, opt_int, req_int, text
from nbamcp.data.ingest.player_info import Rows
from nbamcp.errors import NbaError

REQUIRED = frozenset({"Year", "Tm", "W", "L", "SRS", "ORtg", "DRtg"})
COLS = ("nickname", "w", "l", "finish", "srs", "pace", "ortg", "drtg", "nrtg", "playoffs", "sw", "sl")


def load(rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date) -> Rows:
    seen: dict[tuple[str, int], tuple[int, tuple[Any, ...]]] = {}
    for row_no, row in rows:
        try:
            season = req_int(row, "Year")
            in_range(season, 1947, today.year + 1, "Year", rule="season_range")
            nickname = text(row, "Tm")
            try:
                fid = resolve_team(nickname).id
            except NbaError as exc:
                raise RowError("integrity", "unknown_team", f"Tm={nickname!r}: {exc}") from None
            w, losses = req_int(row, "W"), req_int(row, "L")
            in_range(w, 0, 82, "W", rule="games_played_range")
            in_range(losses, 0, 82, "L", rule="games_played_range")
            in_range(w + losses, 1, 82, "W+L", rule="games_played_range")
            rec = (
                fid, season, nickname, w, losses, (row.get("Finish") or "").strip() or None,
                opt_float(row, "SRS"), opt_float(row, "Pace"), opt_float(row, "ORtg"),
                opt_float(row, "DRtg"), opt_float(row, "NRtg"), (row.get("Playoffs") or "").strip() or None,
                opt_int(row, "SW"), opt_int(row, "SL"),
            )  # fmt: skip
        except RowError as err:
            checks.reject(row_no, err, row)
            continue
        key = (fid, season)
        if key in seen:
            first_no, first = seen[key]
            rule = "duplicate_row" if first == rec else "conflicting_duplicate"
            checks.reject(row_no, RowError("duplicates", rule, f"{key} already given by row {first_no}"), row)
            continue
        seen[key] = (row_no, rec)
    return Rows([rec for _, rec in seen.values()], {})
