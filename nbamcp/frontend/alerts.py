"""Alerts and the anomaly hold over MCP: ``alerts``, ``held_games`` and ``accept_games`` (admin).

``alerts`` asks the alerts worker (``nba.alerts.list``) for what it stored, one per condition
per dedupe window; ``held_games`` and ``accept_games`` go to the stats worker, which owns the
hold: an accepted game then reaches features and training like any ingested result.
"""

from __future__ import annotations

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import READ_ONLY, ToolSpec, admin, tool_result
from nbamcp.messages import (
    AcceptedGames,
    AcceptGamesRequest,
    AlertList,
    AlertsRequest,
    HeldGames,
    HeldGamesRequest,
)

SHOWN = 20  # lines of text per answer; structuredContent has them all


def render_alerts(r: AlertList) -> str:
    if not r.alerts:
        return f"No alerts{' matching the filter' if r.total == 0 else ''}."
    window = f"{r.dedupe_window_s / 60:g} min"
    lines = [f"{r.total} alert(s), newest first (one per condition per {window}; webhook {r.webhook}):"]
    for a in r.alerts[:SHOWN]:
        again = f" (+{a.repeats} repeat(s), last {a.last_seen})" if a.repeats else ""
        lines.append(f"- [{a.severity}] {a.raised_at} {a.key} from {a.source}: {a.reason}{again}")
    if len(r.alerts) > SHOWN:
        lines.append(f"... and {len(r.alerts) - SHOWN} more in the structured result.")
    return "\n".join(lines)


def render_held(r: HeldGames) -> str:
    if not r.games:
        return "No results are held: every ingested game has reached features and training."
    lines = [f"{r.total} result(s) held out of features and training (accept_games releases them):"]
    for g in r.games[:SHOWN]:
        was = f" (announced as {g.was_home_pts}-{g.was_away_pts})" if g.kind == "rescored" else ""
        score = f"{g.home} {g.home_pts}-{g.away_pts} {g.away}{was}"
        lines.append(f"- {g.game_id}: {score} [{', '.join(g.rules)}] {g.reason}")
    if len(r.games) > SHOWN:
        lines.append(f"... and {len(r.games) - SHOWN} more in the structured result.")
    return "\n".join(lines)


def alert_tools(gw: Gateway) -> list[ToolSpec]:
    async def alerts(req: AlertsRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.ALERTS_LIST, req)
        return tool_result(r, render_alerts(r))

    async def held_games(req: HeldGamesRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.HELD_GAMES, req)
        return tool_result(r, render_held(r))

    async def accept_games(req: AcceptGamesRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.ACCEPT_GAMES, msgspec.structs.replace(req, actor="mcp accept_games"))
        text = f"Accepted {len(r.accepted)} held result(s); {r.announced} game(s) announced to the workers."
        if r.not_held:
            text += f" Not held (unknown or accepted before): {', '.join(r.not_held[:SHOWN])}."
        return tool_result(r, text)

    return [
        ToolSpec(
            name="alerts",
            title="Recent alerts",
            description="The alerts the workers raised, newest first: anomalies in ingested results "
            "(held games), operations spikes (a worker's latency or error rate) and, when monitoring "
            "raises them, drift. One alert per condition per dedupe window (repeats are counted on it). "
            "Filter by since (ISO date or time) and the lowest severity (info < warning < critical).",
            input=AlertsRequest,
            output=AlertList,
            run=alerts,
            annotations=READ_ONLY,
        ),
        ToolSpec(
            name="held_games",
            title="Results held by the anomaly screen",
            description="Ingested results the anomaly screen held out of features and training, each "
            "with the rules that flagged it and why (a score far from its era's, a burst of upsets of "
            "heavy favourites, a team twice on one day, a known game told with another score). "
            "accept_games releases them.",
            input=HeldGamesRequest,
            output=HeldGames,
            run=held_games,
            annotations=READ_ONLY,
        ),
        ToolSpec(
            name="accept_games",
            title="Accept held results (admin)",
            description="Admin: accept held results by game id (as held_games lists them): they then "
            "reach features, predictions and training like any ingested result; a rescored game takes "
            "its new score. Accepting a game twice changes nothing.",
            input=AcceptGamesRequest,
            output=AcceptedGames,
            run=accept_games,
            annotations=admin(idempotent=True),
            hidden=frozenset({"actor"}),
        ),
    ]
