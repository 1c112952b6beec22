"""The prediction-log worker: every served prediction, written to SQLite in batches.

Consumes ``nba.events.prediction`` through the durable stream (consumer
``predlog``: JetStream on NATS, the SQLite outbox in process) and writes each
event to ``predlog.sqlite`` (``config.predlog_path``). A batch is written in one
transaction, then acked: a worker killed mid-load gets the unacked events again
on restart, and the unique key (request id, model, version, game) stores a
redelivered event once. Malformed events are logged and terminated (never
redelivered, never half-logged).

Runs as several processes on NATS if needed (one consumer, shared work), but
they must share one log file: the usual deployment is one predlog process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

import msgspec
import structlog

from nbamcp.actor import Actor
from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableMsg
from nbamcp.messages import PredictionEvent, decoder_for
from nbamcp.predlog.batching import BatchLoop
from nbamcp.predlog.predictions import PredictionLog, event_problem
from nbamcp.streams import StreamHandle, open_durable
from nbamcp.subjects import EVENTS_PREDICTION

if TYPE_CHECKING:
    from nbamcp.config import Config

log = structlog.get_logger(__name__)

CONSUMER = "predlog"


class PredlogWorker(Actor):
    name = "predlog"

    def __init__(
        self, bus: Bus, *, config: Config, concurrency: int = 32, stop_deadline_s: float = 10.0
    ) -> None:
        super().__init__(bus, concurrency=concurrency, stop_deadline_s=stop_deadline_s)
        self.config = config
        self._decoder = decoder_for(PredictionEvent)
        self._stream: StreamHandle | None = None
        self.plog: PredictionLog | None = None
        self.loop: BatchLoop | None = None
        self.inserted = 0
        self.duplicates = 0
        self.bad = 0

    @classmethod
    def from_config(cls, bus: Bus, config: Config) -> Self:
        return cls(
            bus,
            config=config,
            concurrency=config.workers.concurrency,
            stop_deadline_s=config.workers.stop_deadline_s,
        )

    async def on_start(self) -> None:
        try:
            self.plog = await PredictionLog.open(self.config.predlog_path)
            self._stream = await open_durable(self.bus, self.config)
            consumer = await self._stream.consumer(CONSUMER, EVENTS_PREDICTION)
        except BaseException:
            await self.on_stop()
            raise
        self.loop = BatchLoop(
            consumer,
            self.write_batch,
            batch_size=self.config.predlog.batch_size,
            max_delay_s=self.config.predlog.max_delay_s,
            name=self.name,
        )
        self.loop.start()
        log.info(
            "predlog.ready", path=str(self.plog.path), rows=self.plog.rows, stream=self._stream.kind,
            batch_size=self.loop.batch_size,
        )  # fmt: skip

    async def on_stop(self) -> None:
        if self.loop is not None:
            await self.loop.stop(self._stop_deadline_s)
            await self.loop.consumer.close()
            self.loop = None
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self.plog is not None:
            await self.plog.close()
            self.plog = None

    async def write_batch(self, batch: list[DurableMsg]) -> None:
        """Decode, check and store one batch (the loop acks it afterwards)."""
        assert self.plog is not None
        good: list[tuple[PredictionEvent, int | None]] = []
        for m in batch:
            try:
                event = self._decoder.decode(m.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                problem: str | None = f"malformed PredictionEvent: {exc}"
            else:
                problem = event_problem(event)
            if problem is not None:
                self.bad += 1
                log.warning("predlog.bad_event", seq=m.seq, subject=m.subject, error=problem)
                await m.term()
                continue
            good.append((event, m.seq))
        inserted = await self.plog.write(good)
        self.inserted += inserted
        self.duplicates += len(good) - inserted
        log.info(
            "predlog.batch_written", events=len(batch), inserted=inserted,
            duplicates=len(good) - inserted, rows=self.plog.rows, last_seq=max(m.seq for m in batch),
        )  # fmt: skip

    def health_detail(self) -> dict[str, str]:
        detail = {
            "rows": str(self.plog.rows if self.plog else 0),
            "inserted": str(self.inserted),
            "duplicates": str(self.duplicates),
            "bad_events": str(self.bad),
            "stream": self._stream.kind if self._stream else "closed",
        }
        if self.loop is not None:
            detail |= {"batches": str(self.loop.batches), "last_seq": str(self.loop.last_seq)}
        return detail
