"""``/healthz``, ``/readyz`` (no auth, saying nothing but ok / not ready and what fails) and ``/metrics``.

``/readyz`` is ready when the bus link is up (not reconnecting, not re-making
its streams) and answers a flush, every worker the deployment expects answers
the health ping with status ok, and an inference worker serves a champion model
(``model`` also when the registry's champion was refused). Its answer is cached for ``CACHE_S`` so that an
unauthenticated caller cannot turn probes into a storm of bus requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nbamcp.errors import NbaError
from nbamcp.frontend.auth.verifier import Principal
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.web.edge import PRINCIPAL

CACHE_S = 2.0
METRICS_SCOPES = ("admin", "metrics")


class Readiness:
    def __init__(
        self,
        gw: Gateway,
        *,
        workers_started: Callable[[], bool],
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gw = gw
        self.workers_started = workers_started
        self.timeout_s = timeout_s
        self._clock = clock
        self._cached: tuple[float, str | None] | None = None
        self._lock = asyncio.Lock()

    async def failing(self) -> str | None:
        """None when ready, else the first failing component's name."""
        async with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < CACHE_S:
                return self._cached[1]
            result = await self._check()
            self._cached = (self._clock(), result)
            return result

    async def _check(self) -> str | None:
        if self.gw.inflight.closing:
            return "draining"  # stopping: the calls in flight finish, new ones are refused
        if not self.gw.bus.link.connected:
            return "bus"  # reconnecting, or back but its streams and buckets not yet re-made
        try:
            await self.gw.bus.flush(timeout=self.timeout_s)
        except NbaError:
            return "bus"
        if not self.workers_started():
            return "workers"
        reports = await self.gw.health(self.timeout_s)
        ok = {r.name for r in reports if r.status == "ok"}
        for name in self.gw.expected_workers:
            if name not in ok:
                if name == "inference" and any(r.name == name and r.detail.get("refused") for r in reports):
                    return "model"  # up, but its champion was refused: the baseline answers
                return name
        inference = [r for r in reports if r.name == "inference" and r.status == "ok"]
        if "inference" in self.gw.expected_workers and not any(
            not r.detail.get("champion", "none").startswith("none") for r in inference
        ):
            return "model"
        return None


def unauthorized(resource_metadata_url: str | None) -> Response:
    challenge = 'Bearer error="invalid_token", error_description="Authentication required"'
    if resource_metadata_url:
        challenge += f', resource_metadata="{resource_metadata_url}"'
    return JSONResponse(
        {"error": "invalid_token", "error_description": "Authentication required"},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(needed: str) -> Response:
    return JSONResponse(
        {"error": "insufficient_scope", "error_description": f"forbidden: needs the {needed} scope"},
        status_code=403,
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
    )


def check_access(
    request: Request, *, key_required: bool, resource_metadata_url: str | None
) -> Response | None:
    """None when the caller may see operator pages (scope admin or metrics), else the refusal."""
    who: Principal | None = request.scope.get(PRINCIPAL)
    if who is None:
        return unauthorized(resource_metadata_url) if key_required else None
    if not who.trusted and not any(s in who.scopes for s in METRICS_SCOPES):
        return forbidden(" or ".join(METRICS_SCOPES))
    return None


def ops_routes(readiness: Readiness, *, key_required: bool, resource_metadata_url: str | None) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        failing = await readiness.failing()
        if failing is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "failing": failing}, status_code=503)

    async def metrics_page(request: Request) -> Response:
        refused = check_access(
            request, key_required=key_required, resource_metadata_url=resource_metadata_url
        )
        if refused is not None:
            return refused
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
