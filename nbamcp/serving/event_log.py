"""Prediction events on their way to the log, through the durable stream.

Each PredictionEvent goes out on the process's durable stream (JetStream on
NATS, the SQLite outbox in process) with its dedup id (request id, model,
version, game), so the prediction log gets every event once even if its worker
restarts. Durable events reach plain subscribers of the bus too.

Events go out after the reply, in the background: the caller does not wait
for the store's acknowledgement, and ``flush`` (on the worker's graceful stop)
waits for every pending publish. A publish that fails is retried once (the
dedup id makes that safe), then logged with its request id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.durable import DurableStream
from nbamcp.errors import NbaError
from nbamcp.messages import PredictionEvent
from nbamcp.streams import publish_durable

log = structlog.get_logger(__name__)


class PredictionEventLog:
    def __init__(self, stream: DurableStream) -> None:
        self._stream = stream
        self._pending: set[asyncio.Task[None]] = set()
        self.published = 0
        self.lost = 0

    def log(self, request_id: str, events: Sequence[PredictionEvent]) -> None:
        """Publish ``events`` in the background."""
        if not events:
            return
        task = asyncio.create_task(self._publish(request_id, list(events)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, request_id: str, events: list[PredictionEvent]) -> None:
        results = await asyncio.gather(*(self._one(request_id, e) for e in events), return_exceptions=True)
        for e, r in zip(events, results, strict=True):
            if isinstance(r, BaseException):
                self.lost += 1
                log.error(
                    "prediction_event.lost", request_id=request_id, home=e.home, away=e.away, error=str(r)
                )
            else:
                self.published += 1

    async def _one(self, request_id: str, event: PredictionEvent) -> None:
        try:
            await publish_durable(self._stream, ep.PREDICTION_EVENTS, event, request_id=request_id)
        except NbaError:
            await publish_durable(self._stream, ep.PREDICTION_EVENTS, event, request_id=request_id)

    async def flush(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for the pending publishes; what is left is logged as lost."""
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            log.error("prediction_event.flush_timeout", pending=len(late))
