"""The admin tool ``usage(tenant=None, since=None)``: what each tenant used, tool by tool."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp.errors import InvalidInput
from nbamcp.frontend.limits.usage import UsageBook
from nbamcp.frontend.tooling import READ_ONLY, ToolSpec, tool_result
from nbamcp.messages import ToolUsage
from nbamcp.messages.fields import text

TenantName = Annotated[str, text("a tenant, as `nbamcp keys list` shows it", ["alice"])]
Since = Annotated[
    str,
    text(
        "from this UTC date or date-time on (YYYY-MM-DD or YYYY-MM-DDTHH:MM, an offset allowed)",
        ["2026-01-31", "2026-01-31T18:00"],
        max_length=40,
    ),
]


class UsageRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tenant: TenantName | None = None  # None: every tenant
    since: Since | None = None  # None: since the first call counted


class UsageReport(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str | None
    since: str | None  # UTC, as understood
    rows: list[ToolUsage]
    calls: int
    errors: int
    units: int
    games: int


def parse_since(since: str | None) -> float | None:
    if since is None:
        return None
    try:
        dt = datetime.fromisoformat(since)
    except ValueError:
        raise InvalidInput(
            f"since: {since!r} is not a date or time (accepted: YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC "
            "unless an offset is given)",
            details={"param": "since"},
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def render(report: UsageReport) -> str:
    head = (
        "Usage"
        + (f" of {report.tenant}" if report.tenant else "")
        + (f" since {report.since}" if report.since else "")
    )
    totals = f"{report.calls} calls, {report.errors} errors, {report.units} units, {report.games} games"
    lines = [f"{head}: {totals}."]
    lines += [
        f"- {r.tenant} {r.tool}: {r.calls} calls, {r.errors} errors, {r.units} units, {r.games} games, "
        f"{r.seconds:.2f} s"
        for r in report.rows
    ]
    return "\n".join(lines)


def usage_tools(book: UsageBook) -> list[ToolSpec]:
    async def usage(req: UsageRequest, ctx: Context) -> CallToolResult:
        start = parse_since(req.since)
        rows = await book.report(req.tenant, start)
        report = UsageReport(
            tenant=req.tenant,
            since=datetime.fromtimestamp(start, UTC).isoformat() if start is not None else None,
            rows=rows,
            calls=sum(r.calls for r in rows),
            errors=sum(r.errors for r in rows),
            units=sum(r.units for r in rows),
            games=sum(r.games for r in rows),
        )
        return tool_result(report, render(report))

    return [
        ToolSpec(
            name="usage",
            title="Usage per tenant",
            description="Admin: calls, errors (refusals included), rate-limit units, games predicted and "
            "time spent, per tenant and tool, counted by the hour (UTC) since a date or since the start.",
            input=UsageRequest,
            output=UsageReport,
            run=usage,
            annotations=READ_ONLY,
        )
    ]
