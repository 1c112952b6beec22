"""Prediction events on their way to the log: durable when the process has the stream.

Workers built from the configuration publish each PredictionEvent on the
durable stream (``nbamcp.bus.durable``: JetStream on NATS, the SQLite outbox
in process), with the stream's dedup id (request id, model, version, game), so
the prediction log gets every event once even if its worker restarts. Workers
built without a configuration (unit tests) publish on the core bus.

Events go out after the reply, in the background: the caller does not wait
for the store's acknowledgement, and ``close`` (on the worker's graceful stop)
waits for every pending publish. A publish that fails is retried once (the
dedup id makes that safe), then logged with its request id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.errors import NbaError
from nbamcp.messages import PredictionEvent, encode
from nbamcp.subjects import EVENTS_PREDICTION

if TYPE_CHECKING:
    from nbamcp.config import Config
    from nbamcp.streams import StreamHandle

log = structlog.get_logger(__name__)


class PredictionEventLog:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._stream: StreamHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.published = 0
        self.lost = 0

    @property
    def durable(self) -> bool:
        return self._stream is not None

    async def open(self, config: Config | None) -> None:
        if config is not None:
            from nbamcp.streams import open_durable

            self._stream = await open_durable(self._bus, config)

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
        if self._stream is None:
            await self._bus.publish(EVENTS_PREDICTION, encode(event), headers={REQUEST_ID_HEADER: request_id})
            return
        from nbamcp.streams import publish_durable

        try:
            await publish_durable(self._stream, ep.PREDICTION_EVENTS, event, request_id=request_id)
        except NbaError:
            await publish_durable(self._stream, ep.PREDICTION_EVENTS, event, request_id=request_id)

    async def close(self) -> None:
        """Wait for the pending publishes, then release the stream."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
