"""The outbox's durable consumers: deliveries, ack floors and redelivery, in memory.

A consumer's state lives in memory while the process runs (delivered, not yet acked messages and
their ack deadlines); only its floor (every event up to it is done) is committed, through the
outbox's writer (``SqliteEvents._enqueue_floor``). Reads of new events go through the outbox
(``SqliteEvents._read``: its in-memory tail, else its read-only connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
import structlog

from nbamcp.bus.durable import DurableMsg
from nbamcp.bus.subjects import matches
from nbamcp.errors import BusClosed, InvalidInput

if TYPE_CHECKING:
    from nbamcp.bus.durable_sqlite import SqliteEvents

log = structlog.get_logger(__name__)

_headers_dec = msgspec.msgpack.Decoder(dict[str, str])


class SqliteMsg:
    """One delivery of an outbox event."""

    __slots__ = ("_settled", "_state", "data", "headers", "num_delivered", "seq", "subject")

    def __init__(
        self, state: ConsumerState, seq: int, subject: str, data: bytes, headers: dict[str, str], n: int
    ) -> None:
        self._state = state
        self._settled = False
        self.seq = seq
        self.subject = subject
        self.data = data
        self.headers = headers
        self.num_delivered = n

    # The first of ack / nak / term settles this delivery; later calls do nothing (as on JetStream).
    async def ack(self) -> None:
        self.settle_done()

    async def term(self) -> None:
        self.settle_done()

    async def nak(self, delay_s: float = 0.0) -> None:
        if not self._settled:
            self._settled = True
            self._state.nak(self.seq, delay_s)

    async def in_progress(self) -> None:
        if not self._settled:
            self._state.touch(self.seq)

    def settle_done(self) -> None:
        if not self._settled:
            self._settled = True
            self._state.done(self.seq)


@dataclass(slots=True)
class _Out:
    """A delivered, not yet acked event."""

    subject: str
    data: bytes
    headers: dict[str, str]
    num_delivered: int
    ready_at: float  # when it may be delivered again


class ConsumerState:
    """One durable consumer, shared by every handle with its name."""

    def __init__(self, events: SqliteEvents, name: str, filter: str, floor: int) -> None:
        self.events = events
        self.name = name
        self.filter = filter
        self.floor_saved = floor
        self.cursor = floor  # highest seq read from the table
        self.outstanding: dict[int, _Out] = {}
        self.handles = 0
        self.lock = asyncio.Lock()

    @property
    def floor(self) -> int:
        return (min(self.outstanding) - 1) if self.outstanding else self.cursor

    def done(self, seq: int) -> None:
        self.outstanding.pop(seq, None)

    def touch(self, seq: int) -> None:
        out = self.outstanding.get(seq)
        if out is not None:
            out.ready_at = time.monotonic() + self.events.settings.ack_wait_s

    def nak(self, seq: int, delay_s: float) -> None:
        out = self.outstanding.get(seq)
        if out is not None:
            out.ready_at = time.monotonic() + max(delay_s, 0.0)
            self.events._wake()

    def save_floor(self, *, wait: bool) -> asyncio.Future[None] | None:
        floor = self.floor
        if floor == self.floor_saved and not wait:
            return None
        self.floor_saved = floor
        return self.events._enqueue_floor(self.name, self.filter, floor, wait=wait)

    def reset(self) -> None:
        """No handle left: what was in flight is delivered again to the next one."""
        self.cursor = self.floor
        self.outstanding.clear()


class SqliteConsumer:
    """A handle on a durable consumer of the outbox."""

    def __init__(self, state: ConsumerState) -> None:
        self._state = state
        self.name = state.name
        self.filter = state.filter
        self._closed = False

    async def fetch(self, max_msgs: int, timeout: float) -> list[SqliteMsg]:
        if max_msgs < 1:
            raise InvalidInput(f"max_msgs must be >= 1, got {max_msgs}")
        st = self._state
        ev = st.events
        deadline = time.monotonic() + max(timeout, 0.0)
        async with st.lock:
            while True:
                if self._closed or ev._closing:
                    return []
                out = self._redeliveries(max_msgs)
                if len(out) < max_msgs:
                    out += await self._new(max_msgs - len(out))
                if out:
                    st.save_floor(wait=False)
                    return out
                now = time.monotonic()
                if now >= deadline:
                    st.save_floor(wait=False)
                    return []
                wake_at = min((o.ready_at for o in st.outstanding.values()), default=deadline)
                await ev._wait(min(deadline, wake_at) - now)

    def _redeliveries(self, limit: int) -> list[SqliteMsg]:
        st = self._state
        now = time.monotonic()
        due = sorted(seq for seq, o in st.outstanding.items() if o.ready_at <= now)
        out: list[SqliteMsg] = []
        settings = st.events.settings
        for seq in due:
            if len(out) >= limit:
                break
            o = st.outstanding[seq]
            if o.num_delivered >= settings.max_deliver:
                del st.outstanding[seq]
                log.warning(
                    "durable.max_deliver_reached", consumer=st.name, seq=seq, subject=o.subject,
                    deliveries=o.num_delivered,
                )  # fmt: skip
                continue
            o.num_delivered += 1
            o.ready_at = now + settings.ack_wait_s
            out.append(SqliteMsg(st, seq, o.subject, o.data, o.headers, o.num_delivered))
        return out

    async def _new(self, limit: int) -> list[SqliteMsg]:
        st = self._state
        ev = st.events
        out: list[SqliteMsg] = []
        while len(out) < limit and st.cursor < ev.last_seq:
            hi = ev.last_seq
            need = limit - len(out)
            rows = await ev._read(st.cursor, hi, st.filter, need)
            ready_at = time.monotonic() + ev.settings.ack_wait_s
            for seq, subject, data, headers, _ in rows:
                if not matches(st.filter, subject):
                    continue
                hdrs = _headers_dec.decode(headers) if headers else {}
                st.outstanding[seq] = _Out(subject, data, hdrs, 1, ready_at)
                out.append(SqliteMsg(st, seq, subject, data, hdrs, 1))
            # Fewer rows than asked: everything up to hi has been seen.
            st.cursor = rows[-1][0] if len(rows) == need else hi
        return out

    async def ack_all(self, msgs: Sequence[DurableMsg]) -> None:
        for m in msgs:
            if not isinstance(m, SqliteMsg):
                raise InvalidInput(f"ack_all takes this outbox's deliveries, not {type(m).__name__}")
            m.settle_done()
        fut = self._state.save_floor(wait=True)
        if fut is not None:
            await fut

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        st = self._state
        st.events._wake()
        async with st.lock:
            st.handles -= 1
            if st.handles == 0:
                st.reset()
                st.events._states.pop(st.name, None)
            if not st.events._closing:
                fut = st.save_floor(wait=True)
                if fut is not None:
                    with contextlib.suppress(BusClosed):
                        await fut
