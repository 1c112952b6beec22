"""The front end's one door to the bus: typed request/reply with request ids.

Turns bus failures into errors a person can act on ("the stats worker is not
running") and ``ErrorReply`` messages into ``RemoteError`` with the actor's code.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
import structlog

from nbamcp.bus.base import Bus, Msg
from nbamcp.calls import call
from nbamcp.endpoints import HEALTH, Endpoint
from nbamcp.errors import NbaError, Unavailable
from nbamcp.frontend.drain import InFlight
from nbamcp.log import current_request_id, new_request_id
from nbamcp.messages import HealthPing, HealthReport, decode, encode
from nbamcp.ops.tracing import context_headers

log = structlog.get_logger(__name__)
Rep = TypeVar("Rep")


class Gateway:
    def __init__(
        self,
        bus: Bus,
        *,
        timeout_s: float,
        expected_workers: list[str],
        workers_ready: asyncio.Event | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.bus = bus
        self.timeout_s = timeout_s
        self.expected_workers = list(expected_workers)
        # Embedded mode starts workers in the background so that the MCP
        # handshake is not held up by their imports; calls wait for them.
        self._workers_ready = workers_ready
        # The first start ingests the data (~10 s) before the stats worker
        # subscribes: calls made meanwhile wait this long rather than fail.
        self.startup_timeout_s = startup_timeout_s
        # The tool calls running now: a stop waits for them before the bus closes.
        self.inflight = InFlight()

    @property
    def ready(self) -> bool:
        """Whether calls go straight to the bus (the embedded workers, if any, have started)."""
        return self._workers_ready is None or self._workers_ready.is_set()

    async def wait_ready(self) -> None:
        """Wait (at most ``startup_timeout_s``) for the embedded workers to start."""
        if self._workers_ready is not None and not self._workers_ready.is_set():
            try:
                async with asyncio.timeout(self.startup_timeout_s):
                    await self._workers_ready.wait()
            except TimeoutError:
                raise Unavailable(
                    f"the workers did not become ready within {self.startup_timeout_s:g}s "
                    "(server.startup_timeout_s); see the server's log on stderr"
                ) from None

    async def call(
        self, endpoint: Endpoint[Rep], request: msgspec.Struct, *, timeout_s: float | None = None
    ) -> Rep:
        """Send ``request`` to ``endpoint``; return its reply or raise RemoteError / Unavailable."""
        await self.wait_ready()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        rid = current_request_id() or new_request_id()
        return await call(self.bus, endpoint, request, timeout_s=timeout, request_id=rid)

    async def health(self, timeout_s: float) -> list[HealthReport]:
        """Scatter-gather: every worker instance answers ``nba.health``.

        Returns once every expected worker has answered at least once, or when
        the timeout ends (then the missing ones are simply absent).
        """
        await self.wait_ready()
        reports: list[HealthReport] = []
        seen: set[str] = set()
        done = asyncio.Event()
        expected = set(self.expected_workers)

        async def on_reply(msg: Msg) -> None:
            try:
                report = decode(msg.data, HealthReport)
            except msgspec.MsgspecError as exc:
                log.warning("health.bad_reply", error=str(exc))
                return
            reports.append(report)
            seen.add(report.name)
            if expected and expected <= seen:
                done.set()

        inbox = self.bus.new_inbox()
        sub = await self.bus.subscribe(inbox, on_reply)
        try:
            rid = current_request_id() or new_request_id()
            await self.bus.publish(
                HEALTH.subject, encode(HealthPing()), reply=inbox, headers=context_headers(rid)
            )
            try:
                async with asyncio.timeout(timeout_s):
                    await done.wait()
            except TimeoutError:
                pass  # the missing workers are reported as down
        finally:
            await sub.unsubscribe()
        return sorted(reports, key=lambda r: (r.name, r.instance))

    async def health_of(self, worker: str, timeout_s: float) -> HealthReport | None:
        """One instance of ``worker`` reports (None when none answers in time)."""
        await self.wait_ready()
        rid = current_request_id() or new_request_id()
        try:
            msg = await self.bus.request(
                HEALTH.at(worker).subject,
                encode(HealthPing()),
                timeout=timeout_s,
                headers=context_headers(rid),
            )
            return decode(msg.data, HealthReport)
        except (NbaError, msgspec.MsgspecError) as exc:
            log.info("health.no_answer", worker=worker, error=str(exc))
            return None


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)
