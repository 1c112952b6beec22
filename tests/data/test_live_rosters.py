"""Live team rosters (nba_api CommonTeamRoster) on recorded answers: stored, read, and a trade
moving the roster model's strength from the day it was seen."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nbamcp.data.ingest import ingest_paths
from nbamcp.data.live_rosters import fetch_team_roster, ingest_live_rosters, nba_team_ids
from nbamcp.data.players import load_player_seasons
from nbamcp.data.rosters import load_rosters
from nbamcp.data.store import Store, open_store
from nbamcp.errors import DataQualityError, InvalidInput, Unavailable
from nbamcp.ml.rosters import build_roster_book, snapshots_from_entries, team_strength

RECORDINGS = Path(__file__).resolve().parent / "recordings"
OPENING, DEADLINE = dt.date(2022, 10, 18), dt.date(2023, 2, 10)
BKN, PHX, DAL = 1610612751, 1610612756, 1610612742


def answers(moment: str) -> dict[int, dict[str, Any]]:
    raw = json.loads((RECORDINGS / f"commonteamroster_2022-23_{moment}.json").read_text())
    return {int(k): v for k, v in raw.items()}


def with_players(games_store: Path, data_dir: Path, root: Path) -> Path:
    """A copy of ``games_store`` in ``root`` plus the players (Basketball-Reference's advanced table,
    1990-2024) and the 2023 opening-night rosters: the store a roster-priors (fs2) test starts from."""
    shutil.copy(games_store, root / "store.sqlite")
    (root / "players").mkdir()
    shutil.copy(data_dir / "players" / "player_advanced_regular_1990_2024.csv", root / "players")

    async def build() -> None:
        store = await open_store(root / "store.sqlite")
        try:
            await ingest_paths(store, [root / "players"], today=dt.date(2024, 12, 1))
            await ingest_live_rosters(store, 2023, responses=answers("opening"), today=OPENING)
        finally:
            await store.close()

    asyncio.run(build())
    return root / "store.sqlite"


@pytest.fixture
async def store(empty_store: Store, data_dir: Path, tmp_path: Path) -> Store:
    """A store that knows the players (names to match, seasons to project from)."""
    src = tmp_path / "players"
    src.mkdir()
    shutil.copy(data_dir / "players" / "player_advanced_regular_1990_2024.csv", src)
    await ingest_paths(empty_store, [src], today=dt.date(2024, 12, 1))
    return empty_store


async def test_recorded_rosters_are_stored_as_of_the_day_they_were_seen(store: Store) -> None:
    opening = await ingest_live_rosters(store, "2022-23", responses=answers("opening"), today=OPENING)
    assert (opening.season, opening.as_of, opening.teams) == (2023, "2022-10-18", ["BKN", "DAL", "PHX"])
    assert opening.players == 18 + 15 + 19 and opening.unmatched == []  # accents too: Luka Dončić
    assert "rosters 2022-23 as of 2022-10-18: 3 teams, 52 players" in opening.summary
    await ingest_live_rosters(store, 2023, responses=answers("deadline"), today=DEADLINE)
    entries = await load_rosters(store.conn, season=2023)
    on: dict[tuple[str, str], set[str]] = {}
    for e in entries:
        on.setdefault((e.team, e.as_of), set()).add(e.player_id)
    assert {"duranke01", "irvinky01"} <= on[("BKN", "2022-10-18")]
    assert not {"duranke01", "irvinky01"} & on[("BKN", "2023-02-10")]
    assert {"bridgmi01", "johnsca02"} <= on[("BKN", "2023-02-10")]
    assert "duranke01" in on[("PHX", "2023-02-10")] and "irvinky01" in on[("DAL", "2023-02-10")]
    assert "doncilu01" in on[("DAL", "2022-10-18")]
    durant = next(e for e in entries if e.player_id == "duranke01" and e.team == "PHX")
    assert (durant.nba_player_id, durant.name, durant.source) == (
        201142,
        "Kevin Durant",
        "nba_api:CommonTeamRoster",
    )
    # The same day again replaces that day's snapshot, it does not add to it.
    again = await ingest_live_rosters(store, 2023, responses=answers("deadline"), today=DEADLINE)
    assert again.players == 58 and len(await load_rosters(store.conn, season=2023)) == len(entries)


async def test_a_trade_seen_live_moves_strength_from_that_day_on(store: Store) -> None:
    await ingest_live_rosters(store, 2023, responses=answers("opening"), today=OPENING)
    await ingest_live_rosters(store, 2023, responses=answers("deadline"), today=DEADLINE)
    players = await load_player_seasons(store.conn, season_to=2022)  # what was known before 2022-23
    live = snapshots_from_entries(await load_rosters(store.conn))
    assert [(s.team, s.as_of, s.source) for s in live][:2] == [("BKN", "2022-10-18", "nba_api"),
                                                              ("BKN", "2023-02-10", "nba_api")]  # fmt: skip
    book = build_roster_book(players, extra=live)
    # 2022-23 has no table here: from the season's start, last season's rosters; then what was seen.
    assert book.snapshot("BKN", 2023, "2022-10-01").source == "previous-season"
    opening = {t: book.strength(t, 2023, "2022-10-18") for t in ("BKN", "PHX", "DAL")}
    for day in ("2022-10-19", "2023-02-09"):
        assert {t: book.strength(t, 2023, day) for t in opening} == opening
    # From the deadline on: exactly the strength of the roster seen that day.
    proj = book.projections[2023]
    for snap in (s for s in live if s.as_of == "2023-02-10"):
        after = book.strength(snap.team, 2023, "2023-02-10")
        assert after == pytest.approx(team_strength(snap.players, proj)) and after != opening[snap.team]
        assert book.strength(snap.team, 2023, "2023-04-09") == after
    assert "duranke01" in book.snapshot("PHX", 2023, "2023-02-10").players


async def test_an_unknown_player_keeps_his_nba_id(store: Store) -> None:
    rec = answers("opening")
    rookie = copy.deepcopy(rec[BKN])
    row = list(rookie["resultSets"][0]["rowSet"][0])
    row[3], row[14] = "Made Up Rookie", 1641999
    rookie["resultSets"][0]["rowSet"].append(row)
    report = await ingest_live_rosters(store, 2023, responses={BKN: rookie}, today=OPENING)
    assert report.unmatched == ["Made Up Rookie"] and report.teams == ["BKN"]
    ids = {e.player_id for e in await load_rosters(store.conn)}
    assert "nba:1641999" in ids


async def test_malformed_answers_are_refused_and_nothing_is_written(store: Store) -> None:
    rec = answers("opening")
    with pytest.raises(DataQualityError, match="no CommonTeamRoster result set"):
        await ingest_live_rosters(store, 2023, responses={BKN: {"resultSets": []}}, today=OPENING)
    with pytest.raises(DataQualityError, match=r"SEASON '2022' is not 2023-24"):
        await ingest_live_rosters(store, 2024, responses={BKN: rec[BKN]}, today=OPENING)
    with pytest.raises(DataQualityError, match="another team's players"):
        await ingest_live_rosters(store, 2023, responses={PHX: rec[BKN]}, today=OPENING)
    bad = copy.deepcopy(rec[BKN])
    bad["resultSets"][0]["rowSet"][0][0] = 42
    with pytest.raises(DataQualityError, match="TeamID 42 is not a known NBA team"):
        await ingest_live_rosters(store, 2023, responses={BKN: bad}, today=OPENING)
    headless = copy.deepcopy(rec[BKN])
    headless["resultSets"][0]["headers"] = ["TeamID", "SEASON"]
    headless["resultSets"][0]["rowSet"] = [[BKN, "2022"]]
    with pytest.raises(DataQualityError, match="lacks columns PLAYER, PLAYER_ID"):
        await ingest_live_rosters(store, 2023, responses={BKN: headless}, today=OPENING)
    with pytest.raises(InvalidInput, match="no roster responses"):
        await ingest_live_rosters(store, 2023, responses={}, today=OPENING)
    assert await load_rosters(store.conn) == []
    assert len(nba_team_ids()) == 30 and nba_team_ids()[BKN] == "BKN" and nba_team_ids()[DAL] == "DAL"


async def test_offline_fetch_is_unavailable_with_a_clear_message() -> None:
    async with asyncio.timeout(15):
        with pytest.raises(Unavailable) as exc:
            await fetch_team_roster(BKN, 2023, timeout_s=2.0)
    assert str(exc.value).startswith("stats.nba.com unreachable")
