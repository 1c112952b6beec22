"""Stats resources and prompts: what a client reads (``nba://...``) and the prompts it offers."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from pydantic import Field

from nbamcp import endpoints as ep
from nbamcp.endpoints import Endpoint
from nbamcp.errors import NbaError
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import QualityReportRequest, TeamsRequest
from nbamcp.messages.fields import NAME_MAX

ATTRIBUTION = "Data: FiveThirtyEight (CC BY 4.0), Basketball-Reference, stats.nba.com."
PromptTeam = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX, description="a team name, city or code, e.g. 'Celtics', 'BOS'"),
]
PromptPlayer = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX, description="a player's name, e.g. 'Nikola Jokic'")
]


async def _json(gw: Gateway, endpoint: Endpoint[Any], request: msgspec.Struct) -> str:
    try:
        r = await gw.call(endpoint, request)
    except NbaError as exc:
        # The SDK answers a ResourceError as JSON-RPC -32603 carrying this text.
        raise ResourceError(f"{exc.code}: {exc.message}") from None
    return msgspec.json.encode(r).decode()


def register_stats_resources(server: MCPServer, gw: Gateway) -> None:
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


def register_stats_prompts(server: MCPServer) -> None:
    @server.prompt(name="game_preview", title="Game preview")
    def game_preview(home: PromptTeam, away: PromptTeam) -> str:
        """Preview a game between two teams with stats and the model's prediction."""
        return (
            f"Preview the NBA game {away} at {home}. Use the nbamcp tools: team_season for both teams' "
            f"current season, head_to_head for their history, team_rating_history for form, and "
            f"predict_game(home={home!r}, away={away!r}) for the win probability. Explain the "
            f"prediction's top factors plainly and say how confident it is. {ATTRIBUTION}"
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
