"""Fresh predictions on their way to the cache: after the reply, in groups.

The inference worker offers every fresh model prediction to the cache workers
(``nba.predict.served``, one ``PredictionsServed``). The offer is an optimisation,
so it never stands in a reply's way: ``offer`` only queues the entries, and the
group goes out ``max_delay_s`` later (default 0: at the loop's next turn, once the
handler has returned and its reply is on its way), or at once when it holds
``max_entries``. The requests one micro-batch flush answers are offered in one
message.

Before, the offer was encoded and published (awaited) inside the handler, so on
NATS it left in front of the reply, in the same write: nats-server handed the
cache its fill (and the fill its KV put, the put's ack, the bucket's watch) before
it handed the front end its answer (docs/benchmarks.md, "The NATS miss, hop by
hop"; ``tests/serving/test_nats.py`` checks the order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from nbamcp.errors import NbaError
from nbamcp.messages import CachedPrediction, PredictionsServed

log = structlog.get_logger(__name__)

# ~2.5 KB an entry: a group stays far inside one NATS message (1 MiB).
MAX_ENTRIES = 100


class CacheOffers:
    def __init__(
        self,
        send: Callable[[PredictionsServed], Awaitable[None]],
        *,
        max_delay_s: float = 0.0,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if max_entries < 1 or max_delay_s < 0:
            raise ValueError("max_entries must be >= 1 and max_delay_s >= 0")
        self._send_fn = send
        self.max_delay_s = max_delay_s
        self.max_entries = max_entries
        self._queued: list[CachedPrediction] = []
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.offered = 0  # entries sent
        self.groups = 0
        self.failed = 0  # entries whose group could not be sent

    def offer(self, entries: Sequence[CachedPrediction]) -> None:
        """Queue ``entries`` for the next group (sent in the background)."""
        if not entries:
            return
        self._queued.extend(entries)
        if len(self._queued) >= self.max_entries:
            self._send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay_s, self._send)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), self.max_entries):
            task = asyncio.create_task(self._publish(queued[start : start + self.max_entries]))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _publish(self, group: list[CachedPrediction]) -> None:
        try:
            await self._send_fn(PredictionsServed(entries=group))
        except NbaError as exc:  # the cache is an optimisation: a lost offer is a few hits fewer
            self.failed += len(group)
            log.warning("inference.cache_offer_failed", entries=len(group), error=exc.message)
            return
        self.groups += 1
        self.offered += len(group)

    async def flush(self, timeout_s: float) -> None:
        """Send what is queued and wait (at most ``timeout_s``) for the sends in flight."""
        self._send()
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
            for task in late:
                task.cancel()
