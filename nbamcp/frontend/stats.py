"""Stats tools, resources and prompts: validate, ask the stats worker, shape the answer.

Arguments are validated by the SDK from these signatures (types, bounds,
choices) before anything reaches the bus; the stats worker checks the rest
(names, seasons) and says which ones exist.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import msgspec
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ContentBlock, ImageContent
from pydantic import Field

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import ADMIN, make_tool, tool_result
from nbamcp.messages import (
    ComparePlayersRequest,
    FindPlayerRequest,
    GameList,
    GamesRequest,
    HeadToHead,
    HeadToHeadRequest,
    IngestReply,
    IngestRequest,
    Leaders,
    LeagueLeadersRequest,
    PlayerCareer,
    PlayerCareerRequest,
    PlayerComparison,
    PlayerSearch,
    PlayerSeasonStats,
    PlayerSeasonStatsRequest,
    QualityReportRequest,
    RatingHistory,
    Standings,
    StandingsRequest,
    StatLine,
    TeamRatingHistoryRequest,
    TeamSeason,
    TeamSeasonRequest,
    TeamsRequest,
)

Season = Annotated[int | str, Field(description="season by its end year (2023 = 2022-23), or '2022-23'")]
SeasonType = Literal["regular", "playoffs"]
Per = Literal["game", "total", "per36"]
Limit = Annotated[int, Field(ge=1, le=100)]
ATTRIBUTION = "Data: FiveThirtyEight (CC BY 4.0), Basketball-Reference, stats.nba.com."


def _line(s: StatLine) -> str:
    def f(v: float | None, nd: int = 1) -> str:
        return "-" if v is None else f"{v:.{nd}f}"

    pct = f"FG {f(s.fg_pct, 3)} 3P {f(s.fg3_pct, 3)} FT {f(s.ft_pct, 3)}"
    return f"{s.gp or 0} gp, {f(s.pts)} pts, {f(s.reb)} reb, {f(s.ast)} ast, {pct}"


def stats_tools(gw: Gateway) -> list[Tool]:
    async def find_player(query: str, limit: Annotated[int, Field(ge=1, le=50)] = 10) -> CallToolResult:
        """Find players by name: case- and accent-insensitive, partial and misspelled names welcome."""
        r = await gw.call(ep.FIND_PLAYER, FindPlayerRequest(query=query, limit=limit))
        lines = [
            f"- {m.name}{' (HOF)' if m.hall_of_fame else ''} [{m.player_id}] {m.first_season}-{m.last_season}"
            for m in r.matches
        ]
        return tool_result(r, f"{len(r.matches)} match(es) for {query!r}:\n" + "\n".join(lines))

    async def player_season_stats(
        player: str, season: Season | None = None, season_type: SeasonType = "regular", per: Per = "game"
    ) -> CallToolResult:
        """A player's season (latest when no season is given): per game, totals or per 36 minutes.
        A traded player gets the season total and each team's part, labelled."""
        req = PlayerSeasonStatsRequest(player=player, season=season, season_type=season_type, per=per)
        r = await gw.call(ep.PLAYER_SEASON_STATS, req)
        text = [f"{r.name} {r.season_label} {r.season_type} ({r.per}): {_line(r.total)}"]
        text += [f"  {t.team_name or t.team}: {_line(t)}" for t in r.teams]
        return tool_result(r, "\n".join(text))

    async def player_career(player: str, season_type: SeasonType = "regular") -> CallToolResult:
        """A player's career season by season (traded seasons counted once), with totals."""
        r = await gw.call(ep.PLAYER_CAREER, PlayerCareerRequest(player=player, season_type=season_type))
        text = (
            f"{r.name} career ({r.season_type}, {len(r.seasons)} seasons): {_line(r.per_game)}. {r.coverage}"
        )
        return tool_result(r, text)

    async def compare_players(
        players: Annotated[list[str], Field(min_length=2, max_length=5)],
        season: Season | None = None,
        stats: list[str] | None = None,
    ) -> CallToolResult:
        """Compare 2-5 players side by side, for one season or their careers."""
        req = ComparePlayersRequest(players=players, season=season, stats=stats)
        r = await gw.call(ep.COMPARE_PLAYERS, req)
        rows = [
            f"- {p.name} ({p.label}): "
            + ", ".join(f"{k} {'-' if v is None else v}" for k, v in p.values.items())
            for p in r.players
        ]
        return tool_result(r, "\n".join(rows))

    async def team_season(team: str, season: Season) -> CallToolResult:
        """A team's season from its games: record, home/away, points, margin, playoff result."""
        r = await gw.call(ep.TEAM_SEASON, TeamSeasonRequest(team=team, season=season))
        text = (
            f"{r.name} {r.season_label}: {r.wins}-{r.losses} (home {r.home.wins}-{r.home.losses}, "
            f"away {r.away.wins}-{r.away.losses}), {r.pts_for:.1f} for / {r.pts_against:.1f} against, "
            f"margin {r.avg_margin:+.1f}. Playoffs: {r.playoffs.result}."
        )
        return tool_result(r, text)

    async def standings(season: Season, conference: str | None = None) -> CallToolResult:
        """League standings for a season, by conference (and division for the modern league)."""
        r = await gw.call(ep.STANDINGS, StandingsRequest(season=season, conference=conference))
        out = [f"Standings {r.season_label} (through {r.through})"]
        for g in r.groups:
            out.append(f"{g.name}:")
            out += [
                f"  {row.rank}. {row.name} {row.wins}-{row.losses} GB {row.games_behind}" for row in g.rows
            ]
        return tool_result(r, "\n".join(out))

    async def games(
        team: str | None = None,
        opponent: str | None = None,
        season: Season | None = None,
        date_from: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        date_to: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        season_type: Literal["all", "regular", "playoffs"] = "all",
        limit: Limit = 50,
    ) -> CallToolResult:
        """Games with their scores, filtered by team, opponent, season, dates and type."""
        req = GamesRequest(
            team=team,
            opponent=opponent,
            season=season,
            date_from=date_from,
            date_to=date_to,
            season_type=season_type,
            limit=limit,
        )
        r = await gw.call(ep.GAMES, req)
        rows = [f"{g.date} {g.away_name} {g.away_pts} @ {g.home_name} {g.home_pts}" for g in r.games]
        return tool_result(r, f"{r.total} game(s), showing {len(r.games)} ({r.order}):\n" + "\n".join(rows))

    async def head_to_head(
        team_a: str, team_b: str, season_from: Season | None = None, season_to: Season | None = None
    ) -> CallToolResult:
        """Two franchises' record against each other, playoff series included."""
        req = HeadToHeadRequest(team_a=team_a, team_b=team_b, season_from=season_from, season_to=season_to)
        r = await gw.call(ep.HEAD_TO_HEAD, req)
        text = (
            f"{r.team_a_name} vs {r.team_b_name}, {r.season_from}-{r.season_to}: {r.a_wins}-{r.b_wins} "
            f"in {r.games} games (playoffs {r.playoffs.wins}-{r.playoffs.losses}, "
            f"{len(r.playoff_series)} series)."
        )
        return tool_result(r, text)

    async def league_leaders(
        stat: str,
        season: Season,
        season_type: SeasonType = "regular",
        per: Per = "game",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> CallToolResult:
        """League leaders in a stat (pts, reb, ast, fg_pct, ...) with the qualifying minimum stated."""
        req = LeagueLeadersRequest(stat=stat, season=season, season_type=season_type, per=per, limit=limit)
        r = await gw.call(ep.LEAGUE_LEADERS, req)
        rows = [f"{x.rank}. {x.name} ({x.team}) {x.value}" for x in r.leaders]
        return tool_result(r, f"{r.stat} leaders {r.season_label} ({r.qualification}):\n" + "\n".join(rows))

    async def team_rating_history(team: str, season_from: Season, season_to: Season) -> CallToolResult:
        """A team's rating (the project's Elo) over time, as data and as a PNG chart."""
        req = TeamRatingHistoryRequest(team=team, season_from=season_from, season_to=season_to)
        r = await gw.call(ep.TEAM_RATING_HISTORY, req)
        h = r.history
        seasons = ", ".join(f"{s.season}: {s.end:.0f}" for s in h.seasons)
        extra: list[ContentBlock] = []
        if r.png:
            extra.append(
                ImageContent(type="image", data=base64.b64encode(r.png).decode(), mime_type="image/png")
            )
        return tool_result(h, f"{h.name} rating at season end ({h.method}): {seasons}", extra)

    async def ingest_games(path: str, format: str = "auto") -> CallToolResult:
        """Admin: ingest a results file or folder (538, nba_api game log, Basketball-Reference layouts).
        Idempotent; reports what was added and writes a data-quality report."""
        r = await gw.call(ep.INGEST, IngestRequest(paths=[path], format=format), timeout_s=300)
        return tool_result(r, r.report.summary)

    read: list[tuple[Callable[..., Awaitable[CallToolResult]], type[msgspec.Struct]]] = [
        (find_player, PlayerSearch),
        (player_season_stats, PlayerSeasonStats),
        (player_career, PlayerCareer),
        (compare_players, PlayerComparison),
        (team_season, TeamSeason),
        (standings, Standings),
        (games, GameList),
        (head_to_head, HeadToHead),
        (league_leaders, Leaders),
        (team_rating_history, RatingHistory),
    ]
    return [
        *(make_tool(fn, out) for fn, out in read),
        make_tool(ingest_games, IngestReply, annotations=ADMIN),
    ]


def register_stats_resources(server: MCPServer, gw: Gateway) -> None:
    @server.resource("nba://teams", name="teams", mime_type="application/json")
    async def teams() -> str:
        """Every franchise with its era names and the codes each source uses."""
        r = await gw.call(ep.TEAMS, TeamsRequest())
        return msgspec.json.encode(r).decode()

    @server.resource("nba://data/quality", name="data_quality", mime_type="application/json")
    async def quality() -> str:
        """The latest ingestion's data-quality report (counts per rule, quarantined rows)."""
        r = await gw.call(ep.QUALITY_REPORT, QualityReportRequest())
        return msgspec.json.encode(r).decode()

    @server.prompt(name="game_preview")
    def game_preview(home: str, away: str) -> str:
        """Preview a game between two teams with stats and the model's prediction."""
        return (
            f"Preview the NBA game {away} at {home}. Use the nbamcp tools: team_season for both teams' "
            f"current season, head_to_head for their history, team_rating_history for form, and "
            f"predict_game(home={home!r}, away={away!r}) for the win probability. Explain the "
            f"prediction's top factors plainly and say how confident it is. {ATTRIBUTION}"
        )

    @server.prompt(name="scouting_report")
    def scouting_report(player: str) -> str:
        """A scouting report on a player from his stats."""
        return (
            f"Write a scouting report on {player}. Use find_player to identify him, "
            f"player_career for the arc of his career, player_season_stats for his latest season "
            f"(per game and per36), and league_leaders to place him among his peers. "
            "Cover scoring, efficiency (ts_pct, fg3_pct), playmaking, rebounding and durability. "
            f"{ATTRIBUTION}"
        )
