"""Shared pieces of the stats queries: argument checks, season ranges, team lookup.

Every check raises an ``NbaError`` that says what was wrong and what is accepted,
so a tool can hand it to the client as is.
"""

from __future__ import annotations

import re
from typing import Any

from nbamcp.data.franchises import Franchise, resolve_team
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound, Unavailable

MAX_LIMIT = 100
SEASON_TYPES = ("regular", "playoffs")
PER_MODES = ("game", "total", "per36")
_SEASON_TEXT = re.compile(r"^\s*(\d{4})\s*(?:[-/]\s*(\d{2}|\d{4}))?\s*$")


def check_limit(limit: int, *, hi: int = MAX_LIMIT) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= hi:
        raise InvalidInput(f"limit must be an integer from 1 to {hi}, got {limit!r}")
    return limit


def check_choice(value: str, name: str, accepted: tuple[str, ...]) -> str:
    v = value.strip().lower() if isinstance(value, str) else value
    if v not in accepted:
        raise InvalidInput(f"{name} must be one of {', '.join(accepted)}; got {value!r}")
    return str(v)


def parse_season(value: int | str) -> int:
    """A season as its end year: 2023, '2023', '2022-23' and '2022-2023' are all 2023."""
    if isinstance(value, bool):
        raise InvalidInput(f"season must be a year like 2023 or '2022-23', got {value!r}")
    if isinstance(value, int):
        return value
    m = _SEASON_TEXT.match(str(value))
    if m is None:
        raise InvalidInput(
            f"season must be a year like 2023 or '2022-23' (the 2022-23 season), got {value!r}"
        )
    start, end = int(m.group(1)), m.group(2)
    if end is None:
        return start
    end_year = int(end) if len(end) == 4 else (start // 100) * 100 + int(end)
    if end_year < start:
        end_year += 100
    if end_year != start + 1:
        raise InvalidInput(f"season {value!r}: the end year must follow the start year, like '2022-23'")
    return end_year


def season_label(season: int) -> str:
    return f"{season - 1}-{season % 100:02d}"


async def season_span(store: Store, table: str = "games") -> tuple[int, int]:
    """(first, last) season present in ``games`` or ``player_seasons``; cached per store generation."""
    key = f"span:{table}"
    span = store.cache.get(key)
    if span is None:
        row = await store.fetchone(f"SELECT MIN(season), MAX(season) FROM {table}")
        if row is None or row[0] is None:
            what = "games" if table == "games" else "player stats"
            raise Unavailable(f"the store has no {what} yet: ingest the data first (nbamcp ingest)")
        span = store.cache[key] = (int(row[0]), int(row[1]))
    return span


async def require_season(store: Store, season: int | str, *, table: str = "games") -> int:
    s = parse_season(season)
    first, last = await season_span(store, table)
    if not first <= s <= last:
        what = "games" if table == "games" else "player stats"
        raise InvalidInput(
            f"no {what} for season {s}: the data has seasons {first}-{last} "
            f"(a season is named by its end year: 2023 = {season_label(2023)})",
            details={"first": str(first), "last": str(last)},
        )
    return s


def team(query: str, season: int | None = None) -> Franchise:
    return resolve_team(query, season)


def rnd(value: Any, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


__all__ = [
    "MAX_LIMIT",
    "PER_MODES",
    "SEASON_TYPES",
    "NotFound",
    "check_choice",
    "check_limit",
    "parse_season",
    "require_season",
    "rnd",
    "season_label",
    "season_span",
    "team",
]
