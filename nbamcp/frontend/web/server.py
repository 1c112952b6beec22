"""The HTTP front end: the SDK's streamable-HTTP or SSE app behind our edge layers, run by uvicorn.

Uvicorn runs with no log config of its own, so its lines reach the root
logger and leave as JSON on stderr like every other line (its access log is
off: :class:`~nbamcp.frontend.web.edge.Observe` writes a structured one). The
launcher owns SIGTERM/SIGINT: :meth:`HttpFrontEnd.stop` asks uvicorn to finish
(stop accepting, give open connections ``server.graceful_shutdown_s``, run the
lifespan shutdown), which is what makes a normal stop quiet.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
import uvicorn
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.routing import Route
from starlette.types import ASGIApp

from nbamcp.config import ServerConfig
from nbamcp.frontend.auth.cookies import Identify
from nbamcp.frontend.limits.limiter import Limiter
from nbamcp.frontend.web.edge import ClientGate, HostOrigin, Observe
from nbamcp.frontend.web.sessions import SessionTable

log = structlog.get_logger(__name__)

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages/"


def endpoint_path(transport: str) -> str:
    return MCP_PATH if transport == "http" else SSE_PATH


def auth_settings(public_url: str, transport: str) -> AuthSettings:
    """The SDK's resource-server settings: every valid key may connect; tools check their scope.

    The server issues its own keys, so it names itself as the authorization
    server in the protected-resource metadata (RFC 9728) the 401s point to.
    """
    return AuthSettings(
        issuer_url=AnyHttpUrl(public_url),
        resource_server_url=AnyHttpUrl(public_url + endpoint_path(transport)),
        required_scopes=None,
        validate_token_resource=False,  # API keys are not bound to a resource
    )


def resource_metadata_url(public_url: str, transport: str) -> str:
    return str(build_resource_metadata_url(AnyHttpUrl(public_url + endpoint_path(transport))))


@dataclass
class Edge:
    """What the edge layers need, built by the launcher."""

    security: TransportSecuritySettings
    identify: Identify
    limiter: Limiter
    sessions: SessionTable
    key_required: bool


def build_app(
    server: MCPServer, *, transport: str, settings: ServerConfig, host: str, edge: Edge, routes: list[Route]
) -> ASGIApp:
    for route in routes:
        server.custom_route(route.path, methods=sorted(route.methods or ["GET"]))(route.endpoint)
    app: ASGIApp
    if transport == "http":
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            max_request_body_size=settings.max_body_bytes,
            session_idle_timeout=settings.session_idle_timeout_s,
            max_sessions=settings.max_sessions,
            transport_security=edge.security,
            host=host,
        )
    else:
        app = server.sse_app(
            sse_path=SSE_PATH,
            message_path=MESSAGES_PATH,
            max_request_body_size=settings.max_body_bytes,
            transport_security=edge.security,
            host=host,
        )
    app = RequestBodyLimitMiddleware(app, settings.max_body_bytes)
    app = ClientGate(
        app,
        identify=edge.identify,
        limiter=edge.limiter,
        sessions=edge.sessions,
        mcp_path=MCP_PATH,
        sse_path=SSE_PATH,
        key_required=edge.key_required,
    )
    app = HostOrigin(app, edge.security)
    return Observe(app)


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The launcher listens for SIGTERM/SIGINT and calls HttpFrontEnd.stop().
        yield


class HttpFrontEnd:
    def __init__(self, app: ASGIApp, *, host: str, port: int, settings: ServerConfig) -> None:
        forwarded = settings.forwarded_allow_ips
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            proxy_headers=bool(forwarded),
            forwarded_allow_ips=forwarded or None,
            timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown_s),
            ssl_certfile=settings.tls_certfile or None,
            ssl_keyfile=settings.tls_keyfile or None,
        )
        self._server = _Uvicorn(config)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until stopped; on ``sockets`` when given (already listening: no start-up race)."""
        await self._server.serve(sockets)

    def stop(self) -> None:
        """Graceful the first time; a second call stops without waiting for connections."""
        if self._server.should_exit:
            self._server.force_exit = True
        self._server.should_exit = True

    @property
    def started(self) -> bool:
        return self._server.started
