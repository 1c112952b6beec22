"""Every stats tool, resource and prompt over stdio, checked against facts computed here from the raw CSV.

One server, one MCP session: a real `nbamcp serve` subprocess driven by the SDK's
`stdio_client`. Expected values never come from the store.
"""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from nbamcp.data.charts import CHART_POINTS
from tests.e2e.procs import server_env, stdio_params

TIMEOUT = 120


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Raw:
    """Facts from the raw files."""

    def __init__(self, data: Path) -> None:
        self.games = _csv(data / "games" / "games_538_1947_2023.csv")
        self.totals = _csv(data / "players" / "player_totals_regular_1990_2024.csv")

    def record(self, codes: set[str], season: int) -> tuple[int, int]:
        w = lo = 0
        for r in self.games:
            if int(r["season"]) != season or r["playoff"] == "1":
                continue
            for me, mine, other in (("team1", "score1", "score2"), ("team2", "score2", "score1")):
                if r[me] in codes:
                    w, lo = (w + 1, lo) if int(r[mine]) > int(r[other]) else (w, lo + 1)
        return w, lo

    def meetings(self, a: set[str], b: set[str]) -> int:
        return sum(
            1
            for r in self.games
            if (r["team1"] in a and r["team2"] in b) or (r["team1"] in b and r["team2"] in a)
            if int(r["score1"]) > 0 and int(r["score2"]) > 0  # the 1972 forfeit is quarantined
        )

    def team_games(self, codes: set[str], seasons: range) -> int:
        return sum(
            1
            for r in self.games
            if int(r["season"]) in seasons and (r["team1"] in codes or r["team2"] in codes)
        )

    def player_rows(self, name: str, year: int) -> list[dict[str, str]]:
        return [r for r in self.totals if r["Player"].rstrip("*") == name and int(r["Year"]) == year]


@pytest.fixture(scope="module")
def raw(data_dir: Path) -> Raw:
    return Raw(data_dir)


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, args)
    assert not result.is_error, (tool, result.content)
    assert result.content and result.content[0].type == "text" and result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


async def error(session: ClientSession, tool: str, **args: Any) -> str:
    result = await session.call_tool(tool, args)
    assert result.is_error, (tool, result.structured_content)
    return result.content[0].text


def ppg(row: dict[str, str]) -> float:
    return round(int(row["PTS"]) / int(row["G"]), 1)


async def test_every_stats_tool_resource_and_prompt(home: Path, data_dir: Path, raw: Raw) -> None:
    with anyio.fail_after(TIMEOUT):
        params = stdio_params(server_env(home, data_dir), "serve")
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            for name in (
                "find_player",
                "player_season_stats",
                "player_career",
                "compare_players",
                "team_season",
                "standings",
                "games",
                "head_to_head",
                "league_leaders",
                "team_rating_history",
                "ingest_games",
            ):
                assert tools[name].output_schema and tools[name].output_schema["type"] == "object", name
            assert tools["find_player"].annotations.read_only_hint is True

            # find_player: accents and misspellings.
            for query, expected in (("jokic", "Nikola Jokić"), ("giannis", "Giannis Antetokounmpo")):
                found = await call(s, "find_player", query=query, limit=5)
                assert found["matches"][0]["name"] == expected
            lebron = await call(s, "find_player", query="lebron")
            assert lebron["matches"][0]["name"] == "LeBron James"

            # player_season_stats: Jordan 1995-96 per game.
            (mj,) = raw.player_rows("Michael Jordan", 1996)
            season = await call(s, "player_season_stats", player="Michael Jordan", season=1996)
            assert season["total"]["pts"] == ppg(mj) == 30.4
            assert season["total"]["gp"] == int(mj["G"])
            totals = await call(
                s, "player_season_stats", player="Michael Jordan", season="1995-96", per="total"
            )
            assert totals["total"]["pts"] == int(mj["PTS"])

            # A traded player: the TOT row plus each team's part, labelled.
            tot = next(r for r in raw.totals if r["Year"] == "2023" and r["Tm"] == "TOT")
            parts = [
                r for r in raw.totals if r["Pk"] == tot["Pk"] and r["Year"] == "2023" and r["Tm"] != "TOT"
            ]
            traded = await call(s, "player_season_stats", player=tot["Player"].rstrip("*"), season=2023)
            assert traded["traded"] is True
            assert traded["total"]["gp"] == int(tot["G"])
            assert sorted(t["team"] for t in traded["teams"]) == sorted(p["Tm"] for p in parts)
            assert sum(t["gp"] for t in traded["teams"]) == int(tot["G"])

            # player_career: one row per season, traded seasons once.
            mj_years = {r["Year"] for r in raw.totals if r["Player"].rstrip("*") == "Michael Jordan"}
            career = await call(s, "player_career", player="Michael Jordan")
            assert len(career["seasons"]) == len(mj_years)

            # compare_players.
            cmp_ = await call(s, "compare_players", players=["LeBron James", "Stephen Curry"], season=2016)
            by_name = {p["name"]: p["values"] for p in cmp_["players"]}
            assert by_name["Stephen Curry"]["pts"] == ppg(raw.player_rows("Stephen Curry", 2016)[0])

            # team_season, from the games: the 73-9 Warriors.
            gsw = await call(s, "team_season", team="Warriors", season=2016)
            assert (gsw["wins"], gsw["losses"]) == raw.record({"GSW"}, 2016) == (73, 9)

            # standings: the West of 2022-23, Denver first.
            st = await call(s, "standings", season=2023, conference="west")
            top = st["groups"][0]["rows"][0]
            assert top["team"] == "DEN" and (top["wins"], top["losses"]) == raw.record({"DEN"}, 2023)

            # games: every Nets game of 2022-23 (regular, play-in, playoffs) in the 538 file.
            nets = await call(s, "games", team="Brooklyn", season=2023, limit=3)
            assert nets["total"] == raw.team_games({"BRK"}, range(2023, 2024))
            assert len(nets["games"]) == 3

            # head_to_head follows the franchise: Minneapolis and Los Angeles Lakers.
            h2h = await call(s, "head_to_head", team_a="Celtics", team_b="Lakers")
            assert h2h["games"] == raw.meetings({"BOS"}, {"MNL", "LAL"})

            # league_leaders, with the qualifying rule stated.
            lead = await call(s, "league_leaders", stat="pts", season=1996, limit=3)
            assert lead["leaders"][0]["name"] == "Michael Jordan" and lead["leaders"][0]["value"] == 30.4
            assert "58" in lead["qualification"]

            # team_rating_history: data and a PNG.
            res = await s.call_tool(
                "team_rating_history", {"team": "BKN", "season_from": 2010, "season_to": 2014}
            )
            assert not res.is_error
            history = res.structured_content
            assert history["games"] == raw.team_games({"NJN", "BRK"}, range(2010, 2015))
            assert 1 < len(history["points"]) <= CHART_POINTS < history["games"]
            text = next(c.text for c in res.content if c.type == "text")
            assert f"Points: {len(history['points'])} of {history['games']} games, thinned" in text
            (image,) = [c for c in res.content if c.type == "image"]
            assert image.mime_type == "image/png"
            assert base64.b64decode(image.data)[:8] == b"\x89PNG\r\n\x1a\n"

            # ingest_games: the shared game log again changes nothing (idempotent).
            again = await call(
                s, "ingest_games", paths=[str(data_dir / "gamelogs" / "team_gamelog_2022-23.csv")]
            )
            assert again["new_games"] == 0 and again["report"]["inserted"] == 0

            # Resources.
            teams = json.loads((await s.read_resource("nba://teams")).contents[0].text)
            active = [f for f in teams["franchises"] if f["active"]]
            assert len(active) == 30
            nets_f = next(f for f in active if f["id"] == "BKN")
            assert {"NJN", "BRK", "BKN"} <= set(nets_f["codes"])
            quality = json.loads((await s.read_resource("nba://data/quality")).contents[0].text)
            assert quality["rows_read"] > 0 and isinstance(quality["by_rule"], dict)

            # Prompts.
            prompts = {p.name for p in (await s.list_prompts()).prompts}
            assert {"game_preview", "scouting_report"} <= prompts
            preview = await s.get_prompt("game_preview", {"home": "Celtics", "away": "Lakers"})
            assert "Celtics" in preview.messages[0].content.text
            scout = await s.get_prompt("scouting_report", {"player": "Nikola Jokic"})
            assert "Nikola Jokic" in scout.messages[0].content.text

            # Bad input: clear errors with codes and what is accepted.
            assert "not_found" in await error(s, "find_player", query="Xqzvbnm Wwwjjj")
            msg = await error(s, "team_season", team="Nets", season=1900)
            assert "1947-2023" in msg
            unknown_team = await error(s, "team_season", team="Warriorz FC", season=2016)
            assert "not_found" in unknown_team and "Golden State Warriors" in unknown_team
            assert "ambiguous" in (await error(s, "team_season", team="Los Angeles", season=2016)).lower()
            assert "limit" in (await error(s, "games", team="BOS", limit=5000)).lower()
            assert "accepted" in await error(s, "league_leaders", stat="dunks", season=2016)
            outside = await error(s, "ingest_games", paths=["/etc/passwd"])
            assert "outside the folders" in outside


def test_raw_facts_are_what_we_think(raw: Raw) -> None:
    # Guards the oracle itself: if these fail, the data changed, not the server.
    assert raw.record({"GSW"}, 2016) == (73, 9)
    assert Counter(r["Tm"] for r in raw.player_rows("Michael Jordan", 1996)) == Counter({"CHI": 1})
