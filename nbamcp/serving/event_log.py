"""Prediction events on their way to the log, through the durable stream, in groups.

Each PredictionEvent goes out on the process's durable stream (JetStream on
NATS, the SQLite outbox in process) with its dedup id (request id, model,
version, game), so the prediction log gets every event once even if its worker
restarts. Durable events reach plain subscribers of the bus too.

Events go out after the reply, in the background, and in groups: ``log`` only
queues them; a group goes out once ``max_events`` are queued or ``max_delay_s``
after its first event, all published at once (the SQLite outbox stores a group
in one transaction, one trip to its writer thread, where an event each cost a
commit and two thread switches per prediction). The caller never waits for the
store's acknowledgement; ``flush`` (on the worker's graceful stop) sends what is
queued and waits for every pending publish. At most ``max_in_flight`` groups are out
at once: while the store is behind, new events wait in the queue (a list entry each,
and the journal) and go out as one bigger group when a publish lands. Unbounded, a
slow outbox writer had 344 groups in flight, a task and a future per event, and RSS
went 208 → 438 MB (docs/benchmarks.md). A publish that fails is retried
once (the dedup id makes that safe), then logged with its request id.

Given a ``journal`` (``nbamcp.serving.event_journal``), ``log`` first appends the
events to it (one plain file write, before the caller replies): a process killed
outright loses nothing it answered, since its next start (``recover``) publishes
the journal's events again, and the dedup id stores each once.

Given the bus's ``link``, a publish that fails while NATS is away is *held*: it
waits (at most ``outage_wait_s``) for the link to be back, streams re-made, and
is sent again, so the predictions answered just before an outage still reach
the log (they were lost after two quick failures).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.link import CONNECTED, Link
from nbamcp.errors import NbaError, Unavailable
from nbamcp.messages import PredictionEvent
from nbamcp.serving.event_journal import EventJournal, orphans
from nbamcp.streams import publish_durable

log = structlog.get_logger(__name__)


class PredictionEventLog:
    def __init__(
        self,
        stream: DurableStream,
        *,
        max_events: int = 256,
        max_delay_s: float = 0.02,
        link: Link | None = None,
        outage_wait_s: float = 600.0,
        journal: EventJournal | None = None,
        max_in_flight: int = 4,
    ) -> None:
        if max_events < 1 or max_delay_s < 0 or max_in_flight < 1:
            raise ValueError("max_events and max_in_flight must be >= 1 and max_delay_s >= 0")
        self._stream = stream
        self._link = link
        self.journal = journal
        self.outage_wait_s = outage_wait_s
        self.held = 0  # publishes that waited for the bus to come back
        self.held_changed = asyncio.Event()  # set at each (tests await it)
        self.max_events = max_events
        self.max_delay_s = max_delay_s
        self.max_in_flight = max_in_flight
        self._queued: list[tuple[str, PredictionEvent]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.published = 0
        self.lost = 0
        self.groups = 0
        self.recovered = 0  # events published again from the journals of processes that died

    @property
    def in_flight(self) -> int:
        """Groups being stored now (at most ``max_in_flight``)."""
        return len(self._pending)

    def open_journal(self, directory: Path, owner: str) -> None:
        """Journal every event from now on (in ``directory``, this process's own files)."""
        self.journal = EventJournal(directory, owner)

    def log(self, request_id: str, events: Sequence[PredictionEvent]) -> None:
        """Queue ``events`` for the next group (sent in the background)."""
        if not events:
            return
        if self.journal is not None:
            self.journal.append(request_id, events)
        self._queued.extend((request_id, e) for e in events)
        if len(self._queued) >= self.max_events:
            self._send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay_s, self._send)

    def _send(self, *, force: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._queued or (len(self._pending) >= self.max_in_flight and not force):
            return  # the store is behind: the queue goes out when a publish lands (_landed)
        group, self._queued = self._queued, []
        segment = self.journal.group() if self.journal is not None else None
        task = asyncio.create_task(self._publish(group, segment))
        self._pending.add(task)
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if self._queued and self._timer is None:
            self._send()  # held back while the store was behind: the events have waited already

    async def _publish(self, group: list[tuple[str, PredictionEvent]], segment: Path | None) -> None:
        self.groups += 1
        lost = await self._publish_all(group)
        self.lost += lost
        self.published += len(group) - lost
        if segment is not None and self.journal is not None:
            self.journal.stored(segment, complete=not lost)  # a loss keeps it for the next start

    async def _publish_all(self, group: list[tuple[str, PredictionEvent]]) -> int:
        """Publish ``group`` together; the number of events that could not be."""
        # Together: the stream takes them in one write (one outbox transaction; pipelined on NATS).
        results = await asyncio.gather(*(self._one(rid, e) for rid, e in group), return_exceptions=True)
        lost = 0
        for (rid, e), r in zip(group, results, strict=True):
            if isinstance(r, BaseException):
                lost += 1
                log.error("prediction_event.lost", request_id=rid, home=e.home, away=e.away, error=str(r))
        return lost

    async def recover(self) -> int:
        """Publish the events of the journals left by processes that died (beside this one's); the
        number of events sent. A journal that cannot be sent now is kept for the next start."""
        if self.journal is None:
            return 0
        sent = 0
        for orphan in orphans(self.journal.directory):
            group = [(rid, e) for rid, events in orphan.records() for e in events]
            lost = await self._publish_all(group) if group else 0
            orphan.release(replayed=not lost)
            sent += len(group) - lost
            log.info(
                "prediction_event.recovered", journal=orphan.lock.name, events=len(group), lost=lost,
                requests=len({rid for rid, _ in group}),
            )  # fmt: skip
        self.recovered += sent
        return sent

    async def _one(self, request_id: str, event: PredictionEvent) -> None:
        failures = 0
        while True:
            try:
                await publish_durable(self._stream, ep.PREDICTION_EVENTS, event, request_id=request_id)
                return
            except NbaError:
                failures += 1
                link = self._link
                if link is None or link.connected:
                    if failures >= 2:
                        raise  # up, and refused twice: not an outage
                    continue
            # NATS is away: hold the event until the link (and the stream) is back, then send it.
            self.held += 1
            self.held_changed.set()
            self.held_changed = asyncio.Event()
            try:
                await link.wait_for(CONNECTED, self.outage_wait_s)
            except TimeoutError:
                raise Unavailable(f"the bus did not come back within {self.outage_wait_s:g}s") from None
            failures = 0

    async def flush(self, timeout_s: float) -> None:
        """Send what is queued and wait (at most ``timeout_s``) for it; what is left is logged as lost."""
        self._send(force=True)
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            log.error("prediction_event.flush_timeout", pending=len(late))

    def close(self) -> None:
        """After ``flush``: the journal's lock goes (segments still unsent stay for the next start)."""
        if self.journal is not None:
            self.journal.close()
