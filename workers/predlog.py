"""The prediction-log worker: every served prediction, written to SQLite in batches.

Consumes ``nba.events.prediction`` through the durable stream (consumer
``predlog``: JetStream on NATS, the SQLite outbox in process) and writes each
event to ``predlog.sqlite`` in its home. A batch is written in one transaction,
then acked (by the actor base): a worker killed mid-load gets the unacked events
again on restart, and the unique key (request id, model, version, game) stores a
redelivered event once. Malformed events are logged and terminated (never
redelivered, never half-logged).

Runs as several processes on NATS if needed (one consumer, shared work), but
they must share one log file: the usual deployment is one predlog process.
"""

from __future__ import annotations

import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Delivery, DurableRoute, WorkerContext
from nbamcp.messages import PredictionEvent
from nbamcp.ops import metrics
from nbamcp.predlog.predictions import PredictionLog, event_problem

log = structlog.get_logger(__name__)

CONSUMER = "predlog"


class PredlogWorker(Actor):
    name = "predlog"

    plog: PredictionLog

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.inserted = 0
        self.duplicates = 0
        self.bad = 0

    def durable_routes(self) -> list[DurableRoute]:
        s = self.config.predlog
        route = DurableRoute(
            [ep.PREDICTION_EVENTS],
            CONSUMER,
            self.write_batch,
            batch_size=s.batch_size,
            max_delay_s=s.max_delay_s,
        )
        return [route]

    async def on_start(self) -> None:
        self.plog = await PredictionLog.open(self.config.predlog_path)
        self.close_with(self.plog.close)
        log.info("predlog.ready", path=str(self.plog.path), rows=self.plog.rows, stream=self.ctx.events.kind)

    async def write_batch(self, batch: list[Delivery[PredictionEvent]]) -> None:
        """Check and store one batch (the base acks it afterwards)."""
        good: list[tuple[PredictionEvent, int | None]] = []
        for d in batch:
            problem = event_problem(d.event)
            if problem is not None:
                self.bad += 1
                log.warning("predlog.bad_event", seq=d.msg.seq, subject=d.msg.subject, error=problem)
                await d.msg.term()
                continue
            good.append((d.event, d.msg.seq))
        inserted = await self.plog.write(good)
        metrics.PREDICTIONS_LOGGED.inc(inserted)
        self.inserted += inserted
        self.duplicates += len(good) - inserted
        log.info(
            "predlog.batch_written", events=len(batch), inserted=inserted,
            duplicates=len(good) - inserted, rows=self.plog.rows, last_seq=max(d.msg.seq for d in batch),
        )  # fmt: skip

    def health_detail(self) -> dict[str, str]:
        plog = getattr(self, "plog", None)
        detail = {
            "rows": str(plog.rows if plog else 0),
            "inserted": str(self.inserted),
            "duplicates": str(self.duplicates),
            "bad_events": str(self.bad),
            "withdrawn": str(plog.withdrawn if plog else 0),
            "stream": self.ctx.events.kind,
        }
        loop = self.consumers.get(CONSUMER)
        if loop is not None:
            detail |= {"batches": str(loop.batches), "last_seq": str(loop.last_seq)}
        return detail
