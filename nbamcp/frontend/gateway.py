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
from nbamcp.errors import NbaError
from nbamcp.frontend.drain import InFlight
from nbamcp.frontend.readiness import WorkerBoard
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
        board: WorkerBoard | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.bus = bus
        self.timeout_s = timeout_s
        self.expected_workers = list(expected_workers)
        # Embedded mode starts workers in the background so that the MCP handshake is not
        # held up by them; a call waits for the one worker its endpoint needs.
        self.board = board
        # The first start ingests the data (~10-60 s) before the stats worker subscribes:
        # calls made meanwhile wait this long rather than fail.
        self.startup_timeout_s = startup_timeout_s
        # The tool calls running now: a stop waits for them before the bus closes.
        self.inflight = InFlight()

    @property
    def ready(self) -> bool:
        """Whether every embedded worker (if any) has started, or failed to."""
        return self.board is None or self.board.all_settled()

    def is_ready(self, worker: str) -> bool:
        """Whether calls to ``worker`` go straight to the bus (it is up, or not embedded)."""
        return self.board is None or self.board.is_ready(worker)

    async def wait_for(self, worker: str) -> None:
        """Wait (at most ``startup_timeout_s``) for the embedded ``worker`` to start."""
        if self.board is not None:
            await self.board.wait(worker, self.startup_timeout_s)

    async def call(
        self, endpoint: Endpoint[Rep], request: msgspec.Struct, *, timeout_s: float | None = None
    ) -> Rep:
        """Send ``request`` to ``endpoint``; return its reply or raise RemoteError / Unavailable."""
        await self.wait_for(endpoint.worker)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        rid = current_request_id() or new_request_id()
        return await call(self.bus, endpoint, request, timeout_s=timeout, request_id=rid)

    async def health(self, timeout_s: float) -> list[HealthReport]:
        """Scatter-gather: every worker instance answers ``nba.health``.

        Returns once every expected worker has answered at least once, or when
        the timeout ends (then the missing ones are simply absent). An embedded
        worker still starting (or failed) is reported from the board at once:
        it cannot answer a ping yet.
        """
        unready = self.board.unready() if self.board is not None else []
        reports: list[HealthReport] = [self.board.report(n) for n in unready] if self.board else []
        seen: set[str] = set()
        done = asyncio.Event()
        expected = set(self.expected_workers) - set(unready)
        if not expected and unready:
            return sorted(reports, key=lambda r: (r.name, r.instance))

        async def on_reply(msg: Msg) -> None:
            try:
                report = decode(msg.data, HealthReport)
            except msgspec.MsgspecError as exc:
                log.warning("health.bad_reply", error=str(exc))
                return
            if report.name in unready:
                return  # reported from the board already (it subscribed while we asked)
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
        if self.board is not None and worker in self.board and not self.board.is_ready(worker):
            return self.board.report(worker)
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
