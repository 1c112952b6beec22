"""Live nba_api parsing on recorded responses; the only network use is asserting the offline error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from nbamcp.data.ingest import ingest_paths
from nbamcp.data.live import fetch_league_game_log, ingest_live_games, ingest_live_player_stats, result_set
from nbamcp.data.store import Store
from nbamcp.errors import DataQualityError, Unavailable
from tests.data.conftest import TODAY

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def recording(name: str) -> dict:
    return json.loads((RECORDINGS / name).read_text())


async def test_recorded_team_game_log_is_ingested_like_the_csv(empty_store: Store, data_dir: Path) -> None:
    rec = recording("leaguegamelog_team_2022-23.json")
    report = await ingest_live_games(empty_store, "2022-23", response=rec, today=TODAY)
    f = report.files[0]
    assert f.layout == "nba_team_gamelog" and f.path.startswith("nba_api:LeagueGameLog:T:2022-23")
    assert (f.rows_read, f.inserted, f.quarantined) == (24, 12, 0)
    g = await empty_store.fetchone("SELECT * FROM games WHERE nba_game_id = '0022200001'")
    assert (g["date"], g["home"], g["away"], g["home_pts"], g["away_pts"]) == (
        "2022-10-18",
        "BOS",
        "PHI",
        126,
        117,
    )
    # The full CSV export later adds only the games the live call did not have.
    full = await ingest_paths(empty_store, [data_dir / "gamelogs"], today=TODAY)
    assert (full.inserted, full.unchanged) == (1218, 12)
    assert len(full.new_game_ids) == 1218 and "added 1218 games" in full.files[0].summary


async def test_recorded_player_game_log_becomes_season_rows_with_tot(empty_store: Store) -> None:
    async with empty_store.transaction() as conn:
        await conn.execute("INSERT INTO players (player_id, name) VALUES ('duranke01', 'Kevin Durant')")
        await conn.execute("INSERT INTO players (player_id, name) VALUES ('jokicni01', 'Nikola Jokic')")
    rec = recording("leaguegamelog_player_2022-23.json")
    report = await ingest_live_player_stats(empty_store, 2023, response=rec, today=TODAY)
    f = report.files[0]
    assert f.layout == "nba_player_gamelog" and f.rows_read == 5 and f.inserted == 4 and f.quarantined == 0
    rows = await empty_store.fetchall(
        "SELECT player_id, team_code, is_total, gp, pts, fgm, fga, min FROM player_seasons "
        "ORDER BY player_id, team_code"
    )
    got = {(r["player_id"], r["team_code"]): tuple(r)[2:] for r in rows}
    assert got[("duranke01", "BKN")][:2] == (0, 2) and got[("duranke01", "PHX")][:2] == (0, 1)
    tot = got[("duranke01", "TOT")]
    assert tot[:2] == (1, 3)
    assert tot[2] == got[("duranke01", "BKN")][2] + got[("duranke01", "PHX")][2]
    assert got[("jokicni01", "DEN")][:4] == (0, 2, 2 * 15 + 1 + 11, 15)  # accents ignored in the name match
    again = await ingest_live_player_stats(empty_store, 2023, response=rec, today=TODAY)
    assert again.inserted == 0 and again.unchanged == 4


def test_result_set_rejects_malformed_responses() -> None:
    rec = recording("leaguegamelog_team_2022-23.json")
    headers, rows = result_set(rec)
    assert headers[0] == "SEASON_ID" and len(rows) == 24
    with pytest.raises(DataQualityError, match="no resultSets"):
        result_set({"message": "blocked"})
    with pytest.raises(DataQualityError, match="no LeagueGameLog"):
        result_set({"resultSets": [{"name": "Other", "headers": [], "rowSet": []}]})
    broken = {"resultSets": [{"name": "LeagueGameLog", "headers": ["A", "B"], "rowSet": [[1]]}]}
    with pytest.raises(DataQualityError, match="do not match"):
        result_set(broken)


async def test_offline_fetch_is_unavailable_with_a_clear_message() -> None:
    async with asyncio.timeout(15):
        with pytest.raises(Unavailable) as exc:
            await fetch_league_game_log(2023, timeout_s=2.0)
    assert str(exc.value).startswith("stats.nba.com unreachable")
    assert exc.value.code == "unavailable"
