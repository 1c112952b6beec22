"""Stats resources and prompts: what a client reads (``nba://...``) and the prompts it offers."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

from nbamcp import endpoints as ep
from nbamcp.endpoints import Endpoint
from nbamcp.errors import USER_ERRORS, ErrorCode, NbaError
from nbamcp.frontend.arguments import parse_arguments
from nbamcp.frontend.coverage import CoverageBook
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import QualityReportRequest, TeamsRequest
from nbamcp.messages.fields import NAME_MAX, canonical_stat
from nbamcp.messages.validation import inline_refs

ATTRIBUTION = "Data: FiveThirtyEight (CC BY 4.0), Basketball-Reference, stats.nba.com."
PromptTeam = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX, description="a team name, city or code, e.g. 'Celtics', 'BOS'"),
]
PromptPlayer = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX, description="a player's name, e.g. 'Nikola Jokic'")
]


def resource_error(exc: NbaError) -> Exception:
    """What a resource handler raises for ``exc``, the code first: the caller's mistakes (a wrong
    part of the URI, a name or season the data lacks) as JSON-RPC -32602, the server's trouble
    (a worker unavailable, a timeout) as -32603 (the SDK's answer to a ResourceError)."""
    text = f"{exc.code}: {exc.message}"
    if exc.code == ErrorCode.NOT_FOUND:
        return ResourceNotFoundError(text)  # -32602, as the SDK answers an unknown resource
    if exc.code in USER_ERRORS:
        return MCPError(code=INVALID_PARAMS, message=text)
    return ResourceError(text)


async def _json(gw: Gateway, endpoint: Endpoint[Any], request: msgspec.Struct) -> str:
    try:
        r = await gw.call(endpoint, request)
    except NbaError as exc:
        raise resource_error(exc) from None
    return msgspec.json.encode(r).decode()


def register_stats_resources(server: MCPServer, gw: Gateway, book: CoverageBook) -> None:
    @server.resource(
        "nba://teams",
        name="teams",
        title="Franchises",
        description="Every franchise (30 active, then defunct) with its era names, conferences and the "
        "codes each source uses (BRK / BKN, PHO / PHX...).",
        mime_type="application/json",
    )
    async def teams() -> str:
        return await _json(gw, ep.TEAMS, TeamsRequest())

    @server.resource(
        "nba://data/quality",
        name="data_quality",
        title="Data-quality report",
        description="The latest ingestion's data-quality report: counts per rule, quarantined rows.",
        mime_type="application/json",
    )
    async def quality() -> str:
        return await _json(gw, ep.QUALITY_REPORT, QualityReportRequest())

    @server.resource(
        "nba://data/coverage",
        name="data_coverage",
        title="Data coverage",
        description="What the data holds, computed from the store after every ingest: game results per "
        "source (first and last date, seasons), player seasons, RAPTOR and team seasons (first and last "
        "season), the latest season any table knows, and a summary. Answers about games after "
        "data_through are not in the data.",
        mime_type="application/json",
    )
    async def coverage() -> str:
        try:
            cov = await book.fetch()
        except NbaError as exc:
            raise resource_error(exc) from None
        return msgspec.json.encode(cov).decode()

    leaders_schema = inline_refs(msgspec.json.schema(ep.LEAGUE_LEADERS.request))

    @server.resource(
        "nba://leaders/{season}/{stat}",
        name="season_leaders",
        title="Season leaders",
        description="The top 10 qualified players of a regular season in a stat, per game, e.g. "
        "nba://leaders/2016/pts or nba://leaders/2023/assists (stat: an NBA abbreviation or a common "
        "word, as league_leaders takes it).",
        mime_type="application/json",
    )
    async def season_leaders(season: str, stat: str) -> str:
        args = {"season": season, "stat": canonical_stat(stat)}
        try:
            request = parse_arguments(ep.LEAGUE_LEADERS.request, leaders_schema, args)
        except NbaError as exc:
            raise resource_error(exc) from None
        return await _json(gw, ep.LEAGUE_LEADERS, request)


def register_stats_prompts(server: MCPServer, book: CoverageBook) -> None:
    @server.prompt(name="game_preview", title="Game preview")
    def game_preview(home: PromptTeam, away: PromptTeam) -> str:
        """Preview a game between two teams with stats and the model's prediction."""
        latest = book.latest_season()
        season = (
            f"their {latest} season (the latest the data has; {book.summary()})"
            if latest
            else "their latest season in the data (read nba://data/coverage for what it holds)"
        )
        return (
            f"Preview the NBA game {away} at {home}. Use the nbamcp tools: team_season for both teams' "
            f"{season}, head_to_head for their history, team_rating_history for form, and "
            f"predict_game(home={home!r}, away={away!r}) for the win probability. Explain the "
            f"prediction's top factors plainly and say how confident it is, and how old its data is. "
            f"{ATTRIBUTION}"
        )

    @server.prompt(name="scouting_report", title="Scouting report")
    def scouting_report(player: PromptPlayer) -> str:
        """A scouting report on a player from his stats."""
        return (
            f"Write a scouting report on {player}. Use find_player to identify him, "
            f"player_career for the arc of his career, player_season_stats for his latest season "
            f"(per game and per36), and league_leaders to place him among his peers. "
            "Cover scoring, efficiency (ts_pct, fg3_pct), playmaking, rebounding and durability. "
            f"{ATTRIBUTION}"
        )
