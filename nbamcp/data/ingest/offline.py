"""``nbamcp ingest``: ingest files (or a live season's games or rosters) into the store, offline.

``--live`` fetches a season from stats.nba.com through nba_api: its schedule (the games
not played yet), its results (the team game log) and its player stats (the player game
log), in that order, each ingested as soon as it is fetched. Offline, the first fetch
fails with one ``unavailable: stats.nba.com unreachable ...`` line and nothing is written.

A running server learns of new results through its ``ingest_games`` tool,
which also announces them on the bus; this command only writes the store (a
running stats worker publishes the schedule and the games at its next
reconciliation, ``[data] reconcile_s``, or its next start). The anomaly screen holds what it
flags in the same store (out of the games dataset until accept_games), as the stats worker does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import msgspec

from nbamcp.config import Config
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.live import ingest_live_games, ingest_live_player_stats
from nbamcp.data.live_rosters import RosterReport, ingest_live_rosters
from nbamcp.data.live_schedule import ScheduleReport, current_season, ingest_live_schedule
from nbamcp.data.store import Store, open_store
from nbamcp.errors import InvalidInput
from nbamcp.messages import IngestReport
from nbamcp.progress import cli_progress

Report = IngestReport | RosterReport | ScheduleReport
# The anomaly screen of what an ingest brought (``nbamcp.dataplane.screen``, passed in by the
# CLI: the data layer knows no ML): (store, report, first ingest of the store) -> one line.
Screen = Callable[[Store, IngestReport, bool], Awaitable[str]]


async def run_ingest(
    config: Config,
    paths: list[str],
    fmt: str,
    live: int | None,
    as_json: bool,
    rosters: int | None = None,
    *,
    today: dt.date | None = None,
    screen: Screen | None = None,
) -> str:
    """``live``: None = no live fetch, 0 = the current season, else that season."""
    if not paths and live is None and rosters is None:
        raise InvalidInput(
            "nothing to ingest: give files or folders, --live [--season SEASON] or --live-rosters SEASON"
        )
    season = (live or current_season(today or dt.date.today())) if live is not None else None
    async with await open_store(config.store_path) as store:
        reports: list[Report] = []
        lines: list[str] = []
        row = await store.fetchone("SELECT count(*) FROM games")
        first = bool(row and row[0] == 0)  # the store's first ingest: its latest days are screened
        if paths:
            with cli_progress("ingest") as shown:

                async def progress(fraction: float, message: str) -> None:
                    shown(fraction, message)

                reports.append(report := await ingest_paths(store, paths, fmt=fmt, progress=progress))
            if screen is not None:
                lines.append(await screen(store, report, first))
        if season is not None:
            # The schedule first: it is what a season in progress adds (results and players follow).
            with cli_progress("ingest.live") as step:
                step(0.0, f"{season}: the schedule")
                reports.append(await ingest_live_schedule(store, season))
                step(1 / 3, f"{season}: the results (team game log)")
                reports.append(games := await ingest_live_games(store, season))
                step(2 / 3, f"{season}: the player stats (player game log)")
                reports.append(await ingest_live_player_stats(store, season))
                step(1.0, f"{season}: done")
            if screen is not None:
                lines.append(await screen(store, games, first and not paths))
        if rosters is not None:
            reports.append(await ingest_live_rosters(store, rosters))
    if as_json:
        return msgspec.json.encode(reports[0] if len(reports) == 1 else reports).decode()
    return "\n".join([*(r.summary for r in reports), *lines])
