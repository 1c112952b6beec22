"""The front end as a running service: the MCP server's policy, usage and, on HTTP/SSE, keys and edge.

On every transport: the policy middleware (scopes, limits, usage, metrics,
traces) and the ``usage`` tool (counts go to the usage worker). On HTTP and SSE: API keys
(created on the first start when there are none, printed once on stderr), the
SDK's bearer auth and protected-resource metadata, the edge layers and the
operator routes. ``--no-auth`` is refused unless the bind is loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import structlog
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp

from nbamcp.config import Config
from nbamcp.errors import ConfigError
from nbamcp.frontend.auth.cookies import DashboardSessions, Identify
from nbamcp.frontend.auth.keys import ALL_SCOPES, FileKeyStore
from nbamcp.frontend.auth.verifier import ApiKeyVerifier
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.limits.limiter import Limiter
from nbamcp.frontend.limits.tools import usage_tools
from nbamcp.frontend.limits.usage import BusUsageSink, UsageBook
from nbamcp.frontend.policy import Policy
from nbamcp.frontend.recent import RecentCalls
from nbamcp.frontend.tooling import ToolSpec
from nbamcp.frontend.web.dashboard.routes import dashboard_routes
from nbamcp.frontend.web.hosts import is_loopback, public_url, security_settings
from nbamcp.frontend.web.routes import Readiness, ops_routes
from nbamcp.frontend.web.server import Edge, HttpFrontEnd, auth_settings, build_app, resource_metadata_url
from nbamcp.frontend.web.sessions import SessionTable

log = structlog.get_logger(__name__)
FINAL_FLUSH_S = 5.0  # the usage counts' last trip to the usage worker, at stop


def first_key_banner(token: str, url: str, path: str) -> str:
    return (
        "\n"
        "    nbamcp: no API key existed, so an admin key was created (shown this once):\n\n"
        f"        {token}\n\n"
        f"    Clients send it as `Authorization: Bearer <key>` to {url}{path}.\n"
        "    Create per-client keys with `nbamcp keys create --tenant NAME --scopes read,predict`\n"
        "    and revoke this one with `nbamcp keys revoke ID` once you have.\n"
    )


class FrontEndService:
    def __init__(
        self,
        config: Config,
        gw: Gateway,
        *,
        transport: str,
        host: str,
        port: int,
        no_auth: bool,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._wall = wall
        self.gw = gw
        self.transport = transport
        self.host = host
        self.port = port
        remote = transport != "stdio"
        if no_auth and remote and not is_loopback(host):
            raise ConfigError(
                f"--no-auth is accepted only on a loopback bind (127.0.0.1, ::1, localhost), not {host!r}: "
                "create a key with `nbamcp keys create` instead"
            )
        self.key_required = remote and config.auth.enabled and not no_auth
        self.url = public_url(config.server, host, port)
        self.security = security_settings(config.server, host, port) if remote else None
        self.recent = RecentCalls()
        self.usage: UsageBook | None = None
        self.limiter: Limiter | None = None
        self.policy: Policy | None = None
        self.store = FileKeyStore(config.keys_path)
        self.verifier = ApiKeyVerifier(self.store)
        self.cookies = DashboardSessions(self.store, ttl_s=config.auth.dashboard_session_s)
        self._server: MCPServer | None = None
        if remote and not self.key_required:
            log.warning("auth.disabled", host=host, why="--no-auth" if no_auth else "auth.enabled = false")

    # ---- the MCP server's options -----------------------------------------------------------------
    def tools(self) -> list[ToolSpec]:
        assert self.usage is not None
        return usage_tools(self.usage)

    def mcp_options(self) -> dict[str, Any]:
        assert self.policy is not None
        options: dict[str, Any] = {"middleware": [self.policy]}
        if self.key_required:
            options["auth"] = auth_settings(self.url, self.transport)
            options["token_verifier"] = self.verifier
        return options

    def attach(self, server: MCPServer) -> None:
        self._server = server

    async def _catalog(self) -> dict[str, Any]:
        assert self._server is not None
        return {t.name: t.annotations for t in await self._server.list_tools()}

    # ---- lifecycle --------------------------------------------------------------------------------
    def _first_key(self) -> None:
        if any(k.active for k in self.store.list_keys()):
            return
        record, token = self.store.create("admin", ALL_SCOPES, note="created on the first start")
        log.info(
            "auth.first_key_created", key_id=record.id, tenant=record.tenant, keys_file=str(self.store.path)
        )
        print(
            first_key_banner(token, self.url, "/mcp" if self.transport == "http" else "/sse"), file=sys.stderr
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FrontEndService]:
        if self.key_required:
            self._first_key()
        self.usage = UsageBook(BusUsageSink(self.gw), wall=self._wall, clock=self._clock)
        self.limiter = Limiter(self.config.limits, self.usage, clock=self._clock, wall=self._wall)
        self.policy = Policy(
            catalog=self._catalog,
            limiter=self.limiter,
            usage=self.usage,
            recent=self.recent,
            key_required=self.key_required,
        )
        flusher = asyncio.create_task(self._flush_every(self.config.limits.usage_flush_s))
        try:
            yield self
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            sent = False
            with anyio.move_on_after(FINAL_FLUSH_S):
                sent = await self.usage.flush()
            if not sent:
                log.warning("usage.unsent_at_stop", why="the usage worker did not take the last counts")

    async def _flush_every(self, period_s: float) -> None:
        assert self.usage is not None
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.usage.flush()
            except Exception:  # boundary: accounting must never stop the server; the counts wait
                log.exception("usage.flush_crashed")

    # ---- HTTP ---------------------------------------------------------------------------------------
    def http(self, server: MCPServer, *, workers_started: Callable[[], bool]) -> HttpFrontEnd:
        assert self.security is not None and self.limiter is not None
        settings = self.config.server
        meta_url = resource_metadata_url(self.url, self.transport) if self.key_required else None
        readiness = Readiness(
            self.gw, workers_started=workers_started, timeout_s=settings.health_timeout_s, clock=self._clock
        )
        routes = [
            *ops_routes(readiness, key_required=self.key_required, resource_metadata_url=meta_url),
            *dashboard_routes(
                self.gw,
                self.recent,
                self.cookies,
                key_required=self.key_required,
                timeout_s=settings.health_timeout_s,
            ),
        ]
        edge = Edge(
            security=self.security,
            identify=Identify(self.verifier, self.cookies),
            limiter=self.limiter,
            sessions=SessionTable(
                per_client=settings.max_sessions_per_client,
                idle_timeout_s=settings.session_idle_timeout_s,
                clock=self._clock,
            ),
            key_required=self.key_required,
        )
        app: ASGIApp = build_app(
            server, transport=self.transport, settings=settings, host=self.host, edge=edge, routes=routes
        )
        return HttpFrontEnd(app, host=self.host, port=self.port, settings=settings)
