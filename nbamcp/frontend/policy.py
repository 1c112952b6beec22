"""The one MCP-level middleware: who is calling, may they, how often, and what it cost.

Registered on the SDK server (``MCPServer(middleware=[...])``), it sees every
``tools/call``, ``resources/read`` and ``prompts/get`` of every transport after
the SDK's bearer middleware authenticated the HTTP request:

1. the caller: the API key's tenant and scopes (``get_access_token()``), or the
   trusted local user on stdio / ``--no-auth``;
2. the scope the tool needs (``auth.scopes``): outside it, a ``forbidden:`` tool error;
3. the key's rate limit and daily quota for the call's cost: over it, a
   ``rate_limited:`` tool error with the seconds until a retry can succeed;
4. then the call, inside a request id, the tenant and a trace span bound to
   every log line (and carried to the workers in bus headers);
5. afterwards: usage per tenant and tool, Prometheus metrics, one log line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_REQUEST, CallToolResult, TextContent, ToolAnnotations
from opentelemetry.trace import SpanKind

from nbamcp.frontend.auth.scopes import RESOURCE_METHODS, forbidden_text, tool_scope
from nbamcp.frontend.auth.verifier import Principal, current_principal
from nbamcp.frontend.limits.limiter import Limiter
from nbamcp.frontend.limits.usage import UsageBook
from nbamcp.frontend.recent import RecentCalls
from nbamcp.log import bind_request, new_request_id
from nbamcp.ops import metrics
from nbamcp.ops.tracing import span

log = structlog.get_logger(__name__)
# The SDK prefixes a tool's own error with "Error executing tool NAME: "; the code follows.
_CODE = re.compile(r"^(?:Error executing tool [^:]*: )?([a-z][a-z_]*):")

# name -> annotations of every registered tool (read once from the server).
ToolCatalog = Callable[[], Awaitable[Mapping[str, ToolAnnotations | None]]]


def _refusal(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def result_code(result: Any) -> str:
    """``ok``, or the stable code an error text starts with (``not_found: ...``)."""
    if isinstance(result, CallToolResult):
        is_error, content = result.is_error, result.content
    elif isinstance(result, Mapping):
        is_error, content = bool(result.get("isError")), result.get("content") or []
    else:
        return "ok"
    if not is_error:
        return "ok"
    first = content[0] if content else None
    text = getattr(first, "text", None) or (first.get("text") if isinstance(first, Mapping) else None) or ""
    m = _CODE.match(text)
    return m.group(1) if m else "error"


def games_of(tool: str, arguments: Mapping[str, Any] | None) -> int:
    if tool == "predict_game":
        return 1
    if tool == "predict_games":
        games = (arguments or {}).get("games")
        return len(games) if isinstance(games, list) else 0
    return 0


class Policy:
    """``mcp.server.context.ServerMiddleware`` enforcing scopes and limits, and counting usage."""

    def __init__(
        self,
        *,
        catalog: ToolCatalog,
        limiter: Limiter,
        usage: UsageBook,
        recent: RecentCalls,
        key_required: bool,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._catalog = catalog
        self._scopes: dict[str, str] | None = None
        self.limiter = limiter
        self.usage = usage
        self.recent = recent
        self.key_required = key_required
        self._clock = clock

    async def _scope_of(self, tool: str) -> str | None:
        if self._scopes is None:
            self._scopes = {name: tool_scope(name, a) for name, a in (await self._catalog()).items()}
        return self._scopes.get(tool)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" and ctx.method not in RESOURCE_METHODS:
            return await call_next(ctx)
        who = current_principal(key_required=self.key_required)
        if who is None:
            # The SDK's bearer middleware refuses keyless HTTP requests before this; never trust a gap.
            raise MCPError(
                INVALID_REQUEST, "forbidden: this server needs an API key (Authorization: Bearer KEY)"
            )
        params = ctx.params or {}
        with bind_request(new_request_id(), tenant=who.tenant, key_id=who.key_id):
            if ctx.method == "tools/call":
                name = params.get("name")
                return await self._tool(ctx, call_next, who, name if isinstance(name, str) else "")
            what = params.get("uri") or params.get("name") or ctx.method
            with span(f"{ctx.method} {what}", kind=SpanKind.SERVER):
                if "read" not in who.scopes:
                    log.info("mcp.forbidden", method=ctx.method, target=str(what))
                    raise MCPError(
                        INVALID_REQUEST,
                        forbidden_text(f"{ctx.method} {what}", "read", list(who.scopes), who.label()),
                    )
                return await call_next(ctx)

    async def _tool(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, who: Principal, tool: str
    ) -> HandlerResult:
        scope = await self._scope_of(tool)
        if scope is None:
            return await call_next(ctx)  # the SDK answers an unknown tool
        arguments = (ctx.params or {}).get("arguments")
        arguments = arguments if isinstance(arguments, Mapping) else {}
        with span(f"tool {tool}", kind=SpanKind.SERVER, attributes={"nbamcp.tenant": who.tenant}):
            started = self._clock()
            cost = 0
            if scope not in who.scopes:
                result: HandlerResult = _refusal(forbidden_text(tool, scope, list(who.scopes), who.label()))
            else:
                cost = self.limiter.cost(tool, arguments)
                refusal = await self.limiter.admit(who, tool, cost)
                if refusal is not None:
                    metrics.RATE_LIMITED.labels(who.tenant, refusal.reason).inc()
                    result, cost = _refusal(refusal.text), 0
                else:
                    result = await call_next(ctx)
            seconds = self._clock() - started
            code = result_code(result)
            self._account(who, tool, code, cost, seconds, games_of(tool, arguments) if code == "ok" else 0)
            log.info("tool.call", tool=tool, code=code, units=cost, duration_ms=round(seconds * 1e3, 3))
            return result

    def _account(self, who: Principal, tool: str, code: str, units: int, seconds: float, games: int) -> None:
        self.usage.record(
            who.tenant, who.key_id, tool, units=units, error=code != "ok", games=games, seconds=seconds
        )
        self.recent.add(tool, code, seconds)
        metrics.TOOL_CALLS.labels(tool, code).inc()
        metrics.TOOL_LATENCY.labels(tool).observe(seconds)
        metrics.TENANT_CALLS.labels(who.tenant, tool).inc()
        if code != "ok":
            metrics.TENANT_ERRORS.labels(who.tenant, code).inc()
        if units:
            metrics.TENANT_UNITS.labels(who.tenant).inc(units)
        if games:
            metrics.TENANT_GAMES.labels(who.tenant).inc(games)
