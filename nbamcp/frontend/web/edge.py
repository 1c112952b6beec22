"""The ASGI layers in front of the SDK's app, outermost first.

1. :class:`Observe`: a trace span from the request's ``traceparent`` (or a new
   trace), one structured access-log line and the HTTP metrics per request.
2. the SDK's ``RequestBodyLimitMiddleware`` (413 above ``server.max_body_bytes``).
3. :class:`HostOrigin`: the SDK's Host/Origin checks on every path (the SDK's
   own run on the MCP endpoints only), health probes excepted.
4. :class:`ClientGate`: who is calling (bearer key or dashboard cookie), the
   key's HTTP request rate (429 + Retry-After) and its open sessions (429).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable

import structlog
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from opentelemetry.trace import SpanKind
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nbamcp.frontend.auth.verifier import Principal
from nbamcp.frontend.limits.limiter import Limiter
from nbamcp.frontend.web.sessions import SessionTable
from nbamcp.ops import metrics
from nbamcp.ops.tracing import extract, span

log = structlog.get_logger(__name__)

PRINCIPAL = "nbamcp.principal"  # scope key where ClientGate leaves the caller
HEALTH_PATHS = ("/healthz", "/readyz")
_ROUTES = ("/mcp", "/sse", "/messages", "/metrics", "/dashboard", "/healthz", "/readyz", "/.well-known")
SESSION_HEADER = "mcp-session-id"


def route_of(path: str) -> str:
    return next((r for r in _ROUTES if path == r or path.startswith(r + "/")), "other")


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["path"])
        tp = Headers(scope=scope).get("traceparent")
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # an HTTPStatus from some responders
            await send(message)

        started = time.perf_counter()
        method = scope["method"]
        with span(
            f"HTTP {method} {route}",
            parent=extract({"traceparent": tp} if tp else None),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as sp:
            try:
                await self.app(scope, receive, watch)
            finally:
                seconds = time.perf_counter() - started
                code = status or 500
                sp.set_attribute("http.response.status_code", code)
                metrics.HTTP_REQUESTS.labels(route, str(code)).inc()
                metrics.HTTP_LATENCY.labels(route).observe(seconds)
                who: Principal | None = scope.get(PRINCIPAL)
                emit = log.debug if route in HEALTH_PATHS else log.info
                emit(
                    "http.request", method=method, path=scope["path"], status=code,
                    duration_ms=round(seconds * 1e3, 3), client=client_of(scope),
                    tenant=who.tenant if who else None, key_id=(who.key_id or None) if who else None,
                )  # fmt: skip


class HostOrigin:
    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in HEALTH_PATHS:
            refused = await self._check.validate_request(Request(scope), is_post=False)
            if refused is not None:
                headers = Headers(scope=scope)
                log.warning(
                    "http.refused", status=refused.status_code, host=headers.get("host"),
                    origin=headers.get("origin"), path=scope["path"],
                )  # fmt: skip
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json_error(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": text}, "code": code}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


class ClientGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        identify: Callable[[Scope], Awaitable[Principal | None]],
        limiter: Limiter,
        sessions: SessionTable,
        mcp_path: str,
        sse_path: str,
        key_required: bool,
    ) -> None:
        self.app = app
        self.identify = identify
        self.limiter = limiter
        self.sessions = sessions
        self.mcp_path = mcp_path
        self.sse_path = sse_path
        self.key_required = key_required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        who = await self.identify(scope)
        if who is not None:
            scope[PRINCIPAL] = who
            wait = self.limiter.admit_http(who)
            if wait:
                metrics.RATE_LIMITED.labels(who.tenant, "http").inc()
                retry = max(1, math.ceil(wait))
                rate = self.limiter.settings.http_requests_per_minute
                text = (
                    f"rate_limited: key {who.key_id} (tenant {who.tenant}) sent more than "
                    f"{rate:g} HTTP requests/min: retry in {retry} s"
                )
                await _json_error(429, "rate_limited", text, {"Retry-After": str(retry)})(
                    scope, receive, send
                )
                return
        owner = who.label() if who is not None else (None if self.key_required else client_of(scope))
        path = scope["path"]
        if owner is not None and path == self.mcp_path:
            await self._streamable(owner, scope, receive, send)
        elif owner is not None and path == self.sse_path and scope["method"] == "GET":
            await self._sse(owner, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _too_many(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("http.too_many_sessions", owner=owner, limit=self.sessions.per_client)
        text = (
            f"too_many_sessions: this client already has {self.sessions.per_client} open sessions "
            "(server.max_sessions_per_client); close one (DELETE it) or wait for an idle one to expire"
        )
        await _json_error(429, "too_many_sessions", text)(scope, receive, send)

    async def _streamable(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        sid = Headers(scope=scope).get(SESSION_HEADER)
        if sid is None and scope["method"] == "POST" and not self.sessions.has_room(owner):
            await self._too_many(owner, scope, receive, send)
            return
        status, new_sid = 0, None

        async def watch(message: Message) -> None:
            nonlocal status, new_sid
            if message["type"] == "http.response.start":
                status = int(message["status"])
                new_sid = Headers(raw=message.get("headers", [])).get(SESSION_HEADER)
            await send(message)

        if sid is not None:
            self.sessions.begin(sid)
        try:
            await self.app(scope, receive, watch)
        finally:
            if sid is None:
                if new_sid and status < 400:
                    self.sessions.opened(owner, new_sid)
            else:
                self.sessions.end(sid)
                if status == 404 or (scope["method"] == "DELETE" and status < 400):
                    self.sessions.closed(sid)

    async def _sse(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.sessions.has_room(owner):
            await self._too_many(owner, scope, receive, send)
            return
        self.sessions.stream_opened(owner)
        try:
            await self.app(scope, receive, send)
        finally:
            self.sessions.stream_closed(owner)
