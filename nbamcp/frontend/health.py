"""The ``health`` tool: ask every worker over the bus how it is."""

from __future__ import annotations

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp.bus.connect import redact_url
from nbamcp.bus.link import DISCONNECTED
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import NoArguments, ToolSpec, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import HealthReport


class HealthSummary(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # "ok" when every expected worker answered, else "degraded"
    bus: str
    bus_url: str
    request_id: str
    workers: list[HealthReport]
    missing: list[str]
    # Why it is degraded, for a person: the front end's own link, workers that say why.
    reasons: list[str] = []


def health_tools(gw: Gateway, *, bus_url: str, timeout_s: float) -> list[ToolSpec]:
    async def health(req: NoArguments, ctx: Context) -> CallToolResult:
        link_problem = gw.bus.link.problem()
        # Disconnected, nobody can answer the ping: say so now instead of after the timeout.
        reports = [] if gw.bus.link.state == DISCONNECTED else await gw.health(timeout_s)
        names = {r.name for r in reports}
        missing = sorted(set(gw.expected_workers) - names)
        reasons = [f"front end: {link_problem}"] if link_problem else []
        reasons += [f"{r.name}: {r.detail.get('degraded') or r.status}" for r in reports if r.status != "ok"]
        ok = not missing and not reasons
        summary = HealthSummary(
            status="ok" if ok else "degraded",
            bus=gw.bus.kind,
            bus_url=redact_url(bus_url),
            request_id=current_request_id() or "",
            workers=reports,
            missing=missing,
            reasons=reasons,
        )
        lines = [f"nbamcp {summary.status} on the {summary.bus} bus ({summary.bus_url})"]
        lines += [f"! {reason}" for reason in reasons]
        lines += [
            f"- {r.name} [{r.instance}]: {r.status}, v{r.version}, up {r.uptime_s:.1f}s, "
            f"handled {r.handled}, failed {r.failed}"
            for r in reports
        ]
        lines += [f"- {name}: DOWN (no answer within {timeout_s:g}s)" for name in missing]
        return tool_result(summary, "\n".join(lines))

    return [
        ToolSpec(
            name="health",
            title="Server health",
            description="Report each worker's name, status, version, uptime and bus, asked over the bus; "
            "'missing' lists the workers that did not answer.",
            input=NoArguments,
            output=HealthSummary,
            run=health,
        )
    ]
