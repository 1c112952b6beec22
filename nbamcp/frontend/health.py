"""The ``health`` tool: ask every worker over the bus how it is.

It answers at once: an embedded worker still starting (importing, ingesting, waiting for
another) or failed is reported from the launcher's board with what it is doing or why it
failed; ``wait_s`` waits that long for them first (a script that needs every worker up).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp.bus.connect import redact_url
from nbamcp.bus.link import DISCONNECTED
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import ToolSpec, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import HealthReport

WAIT_MAX_S = 600


class HealthRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    wait_s: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=WAIT_MAX_S,
            description="seconds to wait for the workers still starting before answering, 0 to "
            f"{WAIT_MAX_S} (default 0: at once, each worker's state as it is), e.g. 120",
            examples=[0, 120],
        ),
    ] = 0.0


class HealthSummary(msgspec.Struct, frozen=True, kw_only=True):
    # "ok" when every expected worker answered; "starting" while some still start (none
    # failed, the bus fine); else "degraded", with the reasons.
    status: str
    bus: str
    bus_url: str
    request_id: str
    workers: list[HealthReport]
    missing: list[str]
    # Why it is degraded, for a person: the front end's own link, workers that say why.
    reasons: list[str] = []


def _line(r: HealthReport) -> str:
    if r.status == "starting":
        doing = r.detail.get("progress") or r.detail.get("phase", "")
        return f"- {r.name}: starting for {r.uptime_s:.1f}s ({doing})"
    if r.status == "failed":
        return f"- {r.name}: FAILED to start: {r.detail.get('why', '')}"
    return (
        f"- {r.name} [{r.instance}]: {r.status}, v{r.version}, up {r.uptime_s:.1f}s, "
        f"handled {r.handled}, failed {r.failed}"
    )


def health_tools(gw: Gateway, *, bus_url: str, timeout_s: float) -> list[ToolSpec]:
    async def health(req: HealthRequest, ctx: Context) -> CallToolResult:
        if req.wait_s > 0 and gw.board is not None:
            await gw.board.wait_settled(req.wait_s)
        link_problem = gw.bus.link.problem()
        # Disconnected, nobody can answer the ping: say so now instead of after the timeout.
        reports = [] if gw.bus.link.state == DISCONNECTED else await gw.health(timeout_s)
        names = {r.name for r in reports}
        missing = sorted(set(gw.expected_workers) - names)
        reasons = [f"front end: {link_problem}"] if link_problem else []
        starting = [r for r in reports if r.status == "starting"]
        reasons += [
            f"{r.name}: {r.detail.get('degraded') or r.detail.get('why') or r.status}"
            for r in reports
            if r.status not in ("ok", "starting")
        ]
        status = "degraded" if missing or reasons else "starting" if starting else "ok"
        summary = HealthSummary(
            status=status,
            bus=gw.bus.kind,
            bus_url=redact_url(bus_url),
            request_id=current_request_id() or "",
            workers=reports,
            missing=missing,
            reasons=reasons,
        )
        lines = [f"nbamcp {summary.status} on the {summary.bus} bus ({summary.bus_url})"]
        lines += [f"! {reason}" for reason in reasons]
        lines += [_line(r) for r in reports]
        lines += [f"- {name}: DOWN (no answer within {timeout_s:g}s)" for name in missing]
        return tool_result(summary, "\n".join(lines))

    return [
        ToolSpec(
            name="health",
            title="Server health",
            description="Report each worker's state at once: starting (what it is doing: importing, "
            "ingesting the data on a first start, waiting for another worker), ok, degraded or failed "
            "and why; with its version, uptime and bus. 'missing' lists the workers that did not "
            "answer. A tool needing a worker that is still starting waits for that worker only.",
            input=HealthRequest,
            output=HealthSummary,
            run=health,
            deadline_s=None,  # bounded by wait_s and the ping's timeout, not the per-call deadline
        )
    ]
