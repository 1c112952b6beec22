"""Build the MCP server: tools, resources and prompts over a Gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from nbamcp import __version__
from nbamcp.config import Config
from nbamcp.frontend.alerts import alert_tools
from nbamcp.frontend.catalog import register_stats_prompts, register_stats_resources
from nbamcp.frontend.completions import register_completions
from nbamcp.frontend.coverage import CoverageBook
from nbamcp.frontend.drift import drift_tools
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.health import health_tools
from nbamcp.frontend.models import model_tools, register_model_resources
from nbamcp.frontend.predict import predict_tools
from nbamcp.frontend.protocol import ProtocolGuard
from nbamcp.frontend.retraining import retraining_tools
from nbamcp.frontend.stats import stats_tools
from nbamcp.frontend.status import status_tools
from nbamcp.frontend.tooling import ToolSpec, build_tool

COVERAGE_SNAPSHOT = "frontend-coverage.json"
INSTRUCTIONS = (
    "NBA statistics from the league's history (players, teams, games, standings, leaders) "
    "and calibrated game predictions. Team and player names are resolved loosely "
    "('Nets', 'BKN', 'jokic'); seasons are named by the year they end (2023 = 2022-23). "
    "A prediction for a game the data does not reach says how old its ratings are (stale, "
    "data_through, days_since_data and a caveat): tell the user."
)


def build_server(
    gw: Gateway,
    config: Config | None = None,
    *,
    home: Path | None = None,
    extra_tools: list[ToolSpec] | None = None,
    **mcp_options: Any,
) -> MCPServer:
    """The MCP server over ``gw``. ``home``: the front end's own folder (a snapshot of the data's
    coverage lives there; None keeps nothing on disk). ``extra_tools`` and ``mcp_options`` (auth,
    middleware) come from the launcher."""
    config = config or Config()
    specs = [
        *health_tools(gw, bus_url=config.bus.url, timeout_s=config.server.health_timeout_s),
        *stats_tools(gw),
        *status_tools(gw, health_timeout_s=config.server.health_timeout_s),
        *drift_tools(gw),
        *predict_tools(gw, config.inference, config.cache),
        *model_tools(gw),
        *retraining_tools(gw),
        *alert_tools(gw),
        *(extra_tools or []),
    ]
    deadline = config.server.call_deadline_s
    # No tool waits for every worker: a call waits in the gateway for the one its endpoint needs.
    tools = [build_tool(spec, deadline_s=deadline, inflight=gw.inflight) for spec in specs]
    server: MCPServer = MCPServer(
        name="nbamcp",
        title="NBA stats and predictions",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=tools,
        **mcp_options,
    )
    book = CoverageBook(gw, home / COVERAGE_SNAPSHOT if home is not None else None)
    register_stats_resources(server, gw, book)
    register_stats_prompts(server, book)
    register_model_resources(server, gw)
    register_completions(server, gw, book)

    async def instructions() -> str:
        await book.refresh()
        return f"{INSTRUCTIONS}\n\nData coverage: {book.summary()}"

    server.middleware.append(ProtocolGuard(server, instructions))
    return server
