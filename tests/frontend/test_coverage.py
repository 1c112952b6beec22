"""Answers that say what the data holds: the coverage resource and instructions, data_through and
notes where a question reaches past the data, team tools over the team-season table, the
game_preview prompt's season, completions, and a missing data folder named in the error.

Expected values come from the raw CSV files, never from the store.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from nbamcp.actor import open_context
from nbamcp.bus import InMemoryBus
from nbamcp.config import Config, PathsConfig
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from tests.frontend.conftest import WAIT, served, stats_config, text
from workers.stats import StatsWorker


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def raw(data_dir: Path) -> dict[str, Any]:
    games = _rows(data_dir / "games" / "games_538_1947_2023.csv")
    log = _rows(data_dir / "gamelogs" / "team_gamelog_2022-23.csv")
    teams = _rows(data_dir / "teams" / "team_seasons_1990_2024.csv")
    return {
        "first": min(r["date"] for r in games),
        "last": max(r["date"] for r in games),
        "log_first": min(r["game_date"] for r in log),
        "log_last": max(r["game_date"] for r in log),
        "team_seasons": (min(int(r["Year"]) for r in teams), max(int(r["Year"]) for r in teams)),
        "celtics_2024": next((r["W"], r["L"]) for r in teams if r["Year"] == "2024" and r["Tm"] == "Celtics"),
    }


@asynccontextmanager
async def stats_worker(bus: InMemoryBus, config: Config) -> AsyncIterator[StatsWorker]:
    """A started stats worker on ``bus``, stopped (and the bus closed) at the end."""
    try:
        async with open_context(bus, config) as ctx:
            worker = StatsWorker(ctx)
            await worker.start()
            try:
                yield worker
            finally:
                await worker.stop(5.0)
    finally:
        with anyio.CancelScope(shield=True):
            await bus.close()


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    r = await client.call_tool(tool, args)
    assert not r.is_error, (tool, text(r))
    assert r.structured_content is not None
    return {"_text": text(r), **r.structured_content}


async def test_coverage_resource_and_instructions(stats_home: Path, data_dir: Path, raw: dict) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            cov = json.loads((await client.read_resource("nba://data/coverage")).contents[0].text)
            instructions = client.instructions or ""
    assert cov["data_through"] == raw["last"] and cov["first_game"] == raw["first"]
    sources = {s["source"]: s for s in cov["game_sources"]}
    assert (sources["538"]["first_date"], sources["538"]["last_date"]) == (raw["first"], raw["last"])
    assert (sources["nba_api"]["first_date"], sources["nba_api"]["last_date"]) == (
        raw["log_first"],
        raw["log_last"],
    )
    (teams,) = [t for t in cov["tables"] if t["table"] == "team_seasons"]
    assert (teams["first_season"], teams["last_season"]) == raw["team_seasons"]
    assert cov["latest_season"] == raw["team_seasons"][1] == 2024
    assert f"to {raw['last']}" in instructions and "team seasons 1990-2024" in instructions


async def test_instructions_follow_every_ingest(stats_home: Path, data_dir: Path, raw: dict) -> None:
    """A game after the data's end is ingested: the next session's instructions say the new end."""
    header = (data_dir / "games" / "games_538_1947_2023.csv").read_text().splitlines()[0]
    new = stats_home / "more" / "games_538_2024.csv"
    new.parent.mkdir()
    new.write_text(f"{header}\n2023-10-24,2024,0,0,DEN,LAL,119,107,,,,,,,,,,\n")
    bus = InMemoryBus()
    server = build_server(Gateway(bus, timeout_s=WAIT, expected_workers=["stats"]), Config(), home=stats_home)
    with anyio.fail_after(WAIT):
        async with stats_worker(bus, stats_config(stats_home, data_dir)):
            async with Client(server) as first:
                before = first.instructions or ""
                r = await first.call_tool("ingest_games", {"paths": [str(new)]})
                assert not r.is_error, text(r)
            async with Client(server) as second:
                after = second.instructions or ""
                games = await call(second, "games", team="Nuggets", season=2024)
    assert f"to {raw['last']}" in before and "to 2023-10-24" in after
    assert games["total"] == 1 and games["data_through"] == "2023-10-24" and games["note"] == ""
    # The front end keeps what it learnt in its own home for the next start.
    assert json.loads((stats_home / "frontend-coverage.json").read_text())["data_through"] == "2023-10-24"


async def test_answers_say_where_the_data_ends(stats_home: Path, data_dir: Path, raw: dict) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            later = await call(client, "games", team="Celtics", season=2024)
            dates = await call(client, "games", team="Celtics", date_from="2023-05-01", date_to="2024-01-01")
            h2h = await call(client, "head_to_head", team_a="Celtics", team_b="Lakers", season_from=2020,
                             season_to=2025)  # fmt: skip
            career = await call(client, "player_career", player="Michael Jordan")
            cmp_ = await call(client, "compare_players", players=["LeBron James", "Michael Jordan"])
            inside = await call(client, "games", team="Celtics", season=2023, limit=1)
    last = raw["last"]
    assert later["total"] == 0 and later["data_through"] == last and last in later["note"]
    assert "season 2024" in later["note"] and last in later["_text"]
    assert dates["total"] > 0 and "date_to 2024-01-01" in dates["note"]
    assert h2h["season_to"] == 2023 and "season 2025" in h2h["note"] and "Note:" in h2h["_text"]
    assert inside["note"] == "" and inside["data_through"] == last
    assert career["missing_seasons"] == [1985, 1986, 1987, 1988, 1989]
    assert "1985-1989 are missing" in career["coverage"] and "1985-1989" in career["_text"]
    (mj,) = [p for p in cmp_["players"] if p["name"] == "Michael Jordan"]
    assert mj["missing_seasons"] == [1985, 1986, 1987, 1988, 1989]
    assert any("Michael Jordan" in n and "1985-1989" in n for n in cmp_["notes"])
    assert "1985-1989" in cmp_["_text"]


async def test_team_tools_over_the_team_season_table(stats_home: Path, data_dir: Path, raw: dict) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            bos = await call(client, "team_season", team="Celtics", season=2024)
            east = await call(client, "standings", season="2023-24", conference="East")
            league = await call(client, "standings", season=2024)
            from_games = await call(client, "team_season", team="Celtics", season=2023)
            nothing = await client.call_tool("team_season", {"team": "Celtics", "season": 1900})
    w, lo = raw["celtics_2024"]
    assert (bos["wins"], bos["losses"]) == (int(w), int(lo)) and bos["source"] == "team_seasons"
    assert bos["home"] is None and bos["pts_for"] is None and bos["playoffs"]["champion"] is True
    assert bos["ratings"]["srs"] is not None and "Basketball-Reference" in bos["_text"]
    assert east["source"] == "team_seasons" and east["groups"][0]["rows"][0]["team"] == "BOS"
    assert (east["groups"][0]["rows"][0]["wins"], east["groups"][0]["rows"][0]["losses"]) == (int(w), int(lo))
    assert league["source"] == "team_seasons" and "Basketball-Reference" in league["_text"]
    assert sum(len(g["rows"]) for g in league["groups"]) == 30
    assert from_games["source"] == "games" and from_games["home"] is not None and from_games["ratings"]
    assert nothing.is_error and text(nothing).startswith(
        "invalid_input: season: no team data for season 1900"
    )
    assert "team seasons 1990-2024" in text(nothing)


async def test_game_preview_uses_the_latest_season(stats_home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            await client.read_resource("nba://data/coverage")  # the book learns the coverage
            preview = await client.get_prompt("game_preview", {"home": "Celtics", "away": "Knicks"})
    body = preview.messages[0].content.text  # type: ignore[union-attr]
    assert "2024 season (the latest the data has" in body and "current season" not in body


async def test_completions_for_teams_players_stats_and_seasons(stats_home: Path, data_dir: Path) -> None:
    preview, scout = PromptReference(name="game_preview"), PromptReference(name="scouting_report")
    leaders = ResourceTemplateReference(uri="nba://leaders/{season}/{stat}")
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            await client.read_resource("nba://data/coverage")
            teams = await client.complete(preview, {"name": "home", "value": "cel"})
            cities = await client.complete(preview, {"name": "away", "value": "new"})
            players = await client.complete(scout, {"name": "player", "value": "lebr"})
            stats = await client.complete(leaders, {"name": "stat", "value": "as"})
            seasons = await client.complete(leaders, {"name": "season", "value": "201"})
            hostile = await client.complete(scout, {"name": "player", "value": "x" * 100_000})
            leaders_2016 = json.loads(
                (await client.read_resource("nba://leaders/2016/assists")).contents[0].text
            )
    assert teams.completion.values == ["Boston Celtics"]
    assert {"New York Knicks", "New Orleans Pelicans"} <= set(cities.completion.values)
    assert players.completion.values[0] == "LeBron James"
    assert stats.completion.values == ["ast", "assist", "assists"]
    assert seasons.completion.values == [str(s) for s in range(2019, 2009, -1)]
    assert hostile.completion.values == []
    assert leaders_2016["stat"] == "ast" and leaders_2016["leaders"][0]["name"] == "Rajon Rondo"


async def test_a_missing_data_folder_is_named_in_the_tool_error(tmp_path: Path) -> None:
    bus = InMemoryBus()
    config = Config(paths=PathsConfig(home=str(tmp_path), data_dir=str(tmp_path / "nowhere")))
    server = build_server(Gateway(bus, timeout_s=WAIT, expected_workers=["stats"]))
    with anyio.fail_after(WAIT):
        async with stats_worker(bus, config), Client(server) as c:
            r = await c.call_tool("team_season", {"team": "Celtics", "season": 2016})
            p = await c.call_tool("find_player", {"query": "jokic"})
            career = await c.call_tool("player_career", {"player": "LeBron James"})
    for result in (r, p, career):
        assert result.is_error and text(result).startswith("unavailable: ")
        assert "NBAMCP_DATA_DIR (paths.data_dir) names a folder that does not exist" in text(result)
        assert str(tmp_path) not in text(result)
        assert "closest: ;" not in text(result)  # no empty list of closest names
