"""The live schedule (ScheduleLeagueV2) on a recorded answer; the only network use is the offline error."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nba_api.stats.endpoints._parsers.scheduleleaguev2 import NBAStatsScheduleLeagueV2Parser
from nba_api.stats.endpoints.scheduleleaguev2 import ScheduleLeagueV2

from nbamcp.data.live_rosters import nba_team_ids
from nbamcp.data.live_schedule import (
    current_season,
    fetch_schedule,
    ingest_live_schedule,
    scheduled_games,
)
from nbamcp.data.queries import schedule
from nbamcp.data.schedule import load_schedule
from nbamcp.data.store import Store
from nbamcp.errors import DataQualityError, Unavailable

RECORDING = Path(__file__).resolve().parent / "recordings" / "scheduleleaguev2_2026-27.json"
NOW = dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
REPO = Path(__file__).resolve().parents[2]


def recording() -> dict:
    return json.loads(RECORDING.read_text())


def test_the_recording_is_in_nba_apis_own_layout() -> None:
    # nba_api's parser reads it, and every game column it names (the pointsLeaders and broadcaster
    # columns exist only when some game has them: none has before it is played) is there.
    sets = NBAStatsScheduleLeagueV2Parser(recording()).get_data_sets()
    headers = sets["SeasonGames"]["headers"]
    expected = ScheduleLeagueV2.expected_data["SeasonGames"]
    core = [h for h in expected if not h.startswith("pointsLeaders") and "Broadcasters_" not in h]
    assert headers == core and len(sets["SeasonGames"]["data"]) == 13


def test_only_league_games_not_played_yet_are_kept() -> None:
    games, played, skipped = scheduled_games(recording(), season=2027, team_ids=nba_team_ids())
    assert (played, skipped) == (3, 3)  # two final and one in progress; preseason, a TBD knockout, Cup final
    assert [g.game_id for g in games] == [
        "0022600311", "0022600325", "0022600326", "0022600400", "0022600401", "0022600620", "0022600680",
    ]  # fmt: skip
    late = games[0]
    # 22:30 Eastern is the next day in UTC: the game's date is the league's (Eastern) day.
    assert (late.date, late.tip_utc, late.home, late.away) == (
        "2026-12-02",
        "2026-12-03T03:30:00Z",
        "DEN",
        "LAL",
    )
    paris = games[-1]
    assert paris.neutral and paris.season == 2027 and paris.season_type == "regular"


def test_a_malformed_or_other_season_answer_is_refused() -> None:
    ids = nba_team_ids()
    with pytest.raises(DataQualityError, match="no leagueSchedule"):
        scheduled_games({"resultSets": []}, season=2027, team_ids=ids)
    with pytest.raises(DataQualityError, match="is for 2026-27, not 2025-26"):
        scheduled_games(recording(), season=2026, team_ids=ids)
    broken = recording()
    del broken["leagueSchedule"]["gameDates"][1]["games"][0]["homeTeam"]
    with pytest.raises(DataQualityError, match=r"0022600301.*homeTeam\.teamId"):
        scheduled_games(broken, season=2027, team_ids=ids)


def test_the_current_season_turns_in_august() -> None:
    assert current_season(dt.date(2026, 12, 2)) == 2027
    assert current_season(dt.date(2027, 3, 1)) == 2027
    assert current_season(dt.date(2027, 8, 15)) == 2028


async def test_ingested_then_listed_and_a_played_game_leaves(empty_store: Store) -> None:
    report = await ingest_live_schedule(empty_store, 2027, response=recording(), now=NOW)
    assert (report.scheduled, report.first_date, report.last_date) == (7, "2026-12-02", "2027-01-22")
    assert "7 games not played yet" in report.summary
    day = await schedule(empty_store, "2026-12-04", today=TODAY)
    assert [(g.home, g.away) for g in day.games] == [("BOS", "NYK"), ("MIA", "PHI")]
    assert day.games[0].home_name == "Boston Celtics" and day.fetched_at == "2026-12-02T17:00:00Z"
    celtics = await schedule(empty_store, team="Celtics", days=60, today=TODAY)
    assert [g.date for g in celtics.games] == ["2026-12-04", "2026-12-25", "2027-01-14"]
    # A result in the store (from the game log) makes the game played: no longer scheduled.
    async with empty_store.transaction() as conn:
        await conn.execute(
            "INSERT INTO games (game_id, date, season, season_type, home, away, home_code, away_code, "
            "home_pts, away_pts, sources, nba_game_id) VALUES ('x1', '2026-12-04', 2027, 'regular', 'BOS', "
            "'NYK', 'BOS', 'NYK', 101, 99, 'nba_api', '0022600325')"
        )
    empty_store.bump()
    left = await load_schedule(empty_store.conn)
    assert "0022600325" not in {g.game_id for g in left} and len(left) == 6
    # Fetching again replaces the season's schedule: the same games, the played one left out.
    again = await ingest_live_schedule(empty_store, 2027, response=recording(), now=NOW)
    assert again.scheduled == 6


async def test_an_empty_schedule_says_why(empty_store: Store) -> None:
    none = await schedule(empty_store, "2026-12-04", today=TODAY)
    assert none.total == 0 and "nbamcp ingest --live" in none.note and none.schedule_through is None
    await ingest_live_schedule(empty_store, 2027, response=recording(), now=NOW)
    later = await schedule(empty_store, "2027-06-01", today=TODAY)
    assert later.total == 0 and "covers 2026-12-02 to 2027-01-22" in later.note
    quiet = await schedule(empty_store, "2026-12-03", today=TODAY)
    assert quiet.total == 0 and quiet.note == "no scheduled games on 2026-12-03"


async def test_offline_schedule_fetch_is_unavailable_with_a_clear_message() -> None:
    async with asyncio.timeout(15):
        with pytest.raises(Unavailable) as exc:
            await fetch_schedule(2027, timeout_s=2.0)
    assert str(exc.value).startswith("stats.nba.com unreachable") and exc.value.code == "unavailable"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {"NBAMCP_HOME": str(home), "NBAMCP_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", "ingest", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_live_ingest_offline_and_a_stray_season(tmp_path: Path) -> None:
    stray = _cli(tmp_path, "--season", "2027")
    assert stray.returncode == 1 and stray.stdout == ""
    assert stray.stderr.strip().splitlines()[-1] == (
        "nbamcp: invalid_input: --season goes with --live: nbamcp ingest --live --season 2027"
    )
    offline = _cli(tmp_path, "--live", "--season", "2027")
    assert offline.returncode == 1 and offline.stdout == ""
    last = offline.stderr.strip().splitlines()[-1]
    assert last.startswith("nbamcp: unavailable: stats.nba.com unreachable"), offline.stderr
    assert "Traceback" not in offline.stderr
