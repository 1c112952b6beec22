"""Live data from stats.nba.com through ``nba_api``: LeagueGameLog for teams and players.

A response (the dict ``endpoint.get_dict()`` returns: ``resultSets`` with
``headers`` and ``rowSet``) becomes an ingest table in the same layouts as the
CSV exports, so the same loaders check and store it. Fetching runs in a thread
with a timeout; any network failure is an ``Unavailable`` that says so. Tests
feed recorded responses to the ``response=`` parameter and never touch the network.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbamcp.data.ingest.layouts import detect
from nbamcp.data.ingest.report import IngestReport
from nbamcp.data.ingest.runner import Table, ingest_tables
from nbamcp.data.queries.common import check_choice, parse_season, season_label
from nbamcp.data.store import Store
from nbamcp.errors import DataQualityError, Unavailable

NBA_SEASON_TYPES = {"regular": "Regular Season", "playoffs": "Playoffs", "playin": "PlayIn"}
HOST = "stats.nba.com"


def result_set(response: Any, name: str = "LeagueGameLog") -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of the named result set, checked; DataQualityError when the layout is wrong."""
    sets = response.get("resultSets") if isinstance(response, dict) else None
    if isinstance(sets, dict):  # a few endpoints answer with a single "resultSet"
        sets = [sets]
    if not isinstance(sets, list):
        raise DataQualityError(f"{HOST} answer has no resultSets: not an nba_api stats response")
    for rs in sets:
        if isinstance(rs, dict) and rs.get("name") == name:
            headers, rows = rs.get("headers"), rs.get("rowSet")
            if not isinstance(headers, list) or not isinstance(rows, list):
                raise DataQualityError(f"{HOST} result set {name} lacks headers/rowSet")
            bad = [i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != len(headers)]
            if bad:
                raise DataQualityError(f"{HOST} result set {name}: rows {bad[:5]} do not match the headers")
            return [str(h) for h in headers], rows
    names = [rs.get("name") for rs in sets if isinstance(rs, dict)]
    raise DataQualityError(f"{HOST} answer has no {name} result set (it has: {names})")


def _cell(v: Any) -> str:
    return "" if v is None else str(v)


def to_table(response: Any, source: str) -> Table:
    """A LeagueGameLog response as an ingest table (team or player layout, from the headers)."""
    headers, rows = result_set(response)
    layout, _ = detect(headers, Path(source))
    if layout not in ("nba_team_gamelog", "nba_player_gamelog"):
        raise DataQualityError(f"{source}: headers {headers[:6]}... are not a LeagueGameLog layout")
    return Table(source, layout, None, headers, rows=[[_cell(v) for v in r] for r in rows])


async def fetch(call: Callable[[], dict[str, Any]], timeout_s: float) -> dict[str, Any]:
    """One stats.nba.com call through nba_api, in a thread, within ``timeout_s`` (plus a second for
    the thread): every way it can fail means "no data now", an ``Unavailable`` naming the host."""
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            return await asyncio.to_thread(call)
    except TimeoutError:
        raise Unavailable(f"{HOST} unreachable: no answer within {timeout_s:g}s") from None
    except Exception as exc:  # boundary: requests, urllib3, json and nba_api errors all mean "no data"
        raise Unavailable(f"{HOST} unreachable: {type(exc).__name__}: {exc}") from exc


async def fetch_league_game_log(
    season: int | str, *, season_type: str = "regular", players: bool = False, timeout_s: float = 10.0
) -> dict[str, Any]:
    """LeagueGameLog for a season (team rows, or player rows with ``players``), as nba_api's dict."""
    s = parse_season(season)
    st = check_choice(season_type, "season_type", tuple(NBA_SEASON_TYPES))

    def call() -> dict[str, Any]:
        from nba_api.stats.endpoints.leaguegamelog import LeagueGameLog

        endpoint = LeagueGameLog(
            season=season_label(s),
            season_type_all_star=NBA_SEASON_TYPES[st],
            player_or_team_abbreviation="P" if players else "T",
            timeout=timeout_s,
        )
        return endpoint.get_dict()

    return await fetch(call, timeout_s)


async def ingest_live_games(
    store: Store,
    season: int | str,
    season_type: str = "regular",
    *,
    response: dict[str, Any] | None = None,
    today: dt.date | None = None,
    timeout_s: float = 10.0,
) -> IngestReport:
    """Fetch (or take the recorded ``response``) team game logs and ingest them like a file."""
    s = parse_season(season)
    if response is None:
        response = await fetch_league_game_log(s, season_type=season_type, timeout_s=timeout_s)
    table = to_table(response, f"nba_api:LeagueGameLog:T:{season_label(s)}:{season_type}")
    return await ingest_tables(store, [table], today=today)


async def ingest_live_player_stats(
    store: Store,
    season: int | str,
    season_type: str = "regular",
    *,
    response: dict[str, Any] | None = None,
    today: dt.date | None = None,
    timeout_s: float = 10.0,
) -> IngestReport:
    """Player game logs summed into player-season rows (per team, plus TOT), then ingested."""
    s = parse_season(season)
    if response is None:
        response = await fetch_league_game_log(s, season_type=season_type, players=True, timeout_s=timeout_s)
    table = to_table(response, f"nba_api:LeagueGameLog:P:{season_label(s)}:{season_type}")
    return await ingest_tables(store, [table], today=today)
