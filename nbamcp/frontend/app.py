"""Build the MCP server: tools, resources and prompts over a Gateway."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from nbamcp import __version__
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.health import health_tools

INSTRUCTIONS = (
    "NBA statistics from the league's history (players, teams, games, standings, leaders) "
    "and calibrated game predictions. Team and player names are resolved loosely "
    "('Nets', 'BKN', 'jokic'); seasons are named by the year they end (2023 = 2022-23)."
)


def build_server(gw: Gateway, *, bus_url: str, health_timeout_s: float) -> MCPServer:
    tools = [*health_tools(gw, bus_url=bus_url, timeout_s=health_timeout_s)]
    server: MCPServer = MCPServer(
        name="nbamcp",
        title="NBA stats and predictions",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=tools,
    )
    return server
