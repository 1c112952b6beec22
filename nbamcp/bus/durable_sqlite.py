"""The in-process durable stream: an SQLite outbox with durable consumers.

What JetStream gives across processes, kept as far as one process can: a
publish returns once its event is committed to ``events.sqlite`` (WAL,
``synchronous=NORMAL``: it survives the process being killed), and each
consumer's progress (its ack floor) is committed too, so after a restart every
event a consumer had not acknowledged is delivered again.

- One writer task commits whatever is queued in one transaction (group commit):
  concurrent publishes and ack floors share a commit, made in ONE call into the
  writer's own thread (a plain sqlite3 connection that only that thread uses).
  Consumers read through a second, read-only aiosqlite connection, except for
  what this process committed last: the newest events (``_TAIL`` of them, in
  sequence order) are also kept in memory, and a consumer that keeps up reads
  them from there. A read through aiosqlite is a trip to its thread, handing the
  GIL over (it was three: the query, the rows, the cursor's close); with several
  consumers woken by each group of prediction events that was most of what a
  prediction cost beyond the floor (measured in docs/benchmarks.md). The copy
  holds between ``_TAIL`` and ``_TAIL + _TAIL_SLACK`` events: a prune drops
  from it only what a read could still reach (events past their age), not all.
- A consumer's state is in memory while the process runs (delivered, not yet
  acked messages and their ack deadlines); only the floor (every event up to
  it is done) is persisted. Acks above a gap in the floor are redelivered after
  a restart: delivery is at least once, as on JetStream.
- Events are pruned once every known consumer's floor has passed them, or
  when older than ``max_age_s`` (JetStream's limits retention).

One process owns the file: two processes on one outbox are not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
import structlog

from nbamcp.bus.base import Bus
from nbamcp.bus.durable import (
    PublishAck,
    StreamSettings,
    check_consumer,
    check_event_subject,
)
from nbamcp.bus.outbox_consumers import ConsumerState, SqliteConsumer
from nbamcp.bus.outbox_writer import OutboxWriter
from nbamcp.bus.subjects import check_headers, has_wildcard
from nbamcp.errors import BusClosed, InvalidInput, Unavailable

log = structlog.get_logger(__name__)

_MAX_GROUP = 4096  # queued writes committed together at most
_PRUNE_EVERY_S = 30.0
_TAIL = 4096  # newest committed events kept in memory for consumers that keep up
# Trimmed back to _TAIL once it holds this many more: a steady few hundred KB, not a copy that grows
# to twice its size and is then emptied (that saw-tooth was ~4 MB of RSS, docs/benchmarks.md).
_TAIL_SLACK = 256
_headers_enc = msgspec.msgpack.Encoder()
_headers_dec = msgspec.msgpack.Decoder(dict[str, str])


@dataclass(slots=True)
class _Append:
    subject: str
    data: bytes
    headers: bytes | None
    msg_id: str | None
    fut: asyncio.Future[PublishAck]


@dataclass(slots=True)
class _Floor:
    name: str
    filter: str
    floor: int
    fut: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _Prune:
    fut: asyncio.Future[None] | None


_STOP = object()


class SqliteEvents:
    """The outbox. Build it with :meth:`open`; one per process (the launcher opens it)."""

    def __init__(
        self,
        writer: OutboxWriter,
        reader: aiosqlite.Connection,
        path: Path,
        settings: StreamSettings,
        bus: Bus | None,
        last_seq: int,
    ) -> None:
        self._w = writer
        self._r = reader
        self.path = path
        self._settings = settings
        self._bus = bus
        self.last_seq = last_seq
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._states: dict[str, ConsumerState] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._closing = False
        # The first periodic prune comes _PRUNE_EVERY_S after the start (each drops the tail's aged events).
        self._last_prune = time.monotonic()
        # The newest committed events, consecutive sequence numbers: (seq, subject, data, headers).
        self._tail: list[tuple[int, str, bytes, bytes | None, float]] = []  # ... and the commit's ts
        self._pruned_to = 0  # the events up to it are pruned from the file (they may be in the tail)
        self.tail_reads = 0  # consumer reads served from memory (tests, benchmarks)
        self._writer_task = asyncio.create_task(self._writer_loop(), name="durable-sqlite-writer")

    @classmethod
    async def open(
        cls, path: str | Path, *, settings: StreamSettings, bus: Bus | None = None
    ) -> SqliteEvents:
        """Open (creating if needed) the outbox at ``path``; ``bus`` also gets every publish."""
        p = Path(path)
        writer = OutboxWriter(p)
        reader: aiosqlite.Connection | None = None
        try:
            await writer.call(p.parent.mkdir, 0o777, True, True)
            last_seq = await writer.call(writer.open)
            reader = await aiosqlite.connect(p)
            await reader.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            await writer.call(writer.close)
            writer.pool.shutdown(wait=False)
            if reader is not None:
                await reader.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise Unavailable(f"cannot open the event outbox at {p}: {exc}") from exc
            raise
        return cls(writer, reader, p, settings, bus, last_seq)

    @property
    def kind(self) -> str:
        return "sqlite"

    @property
    def settings(self) -> StreamSettings:
        return self._settings

    @property
    def backlog(self) -> int:
        """Writes (events, floors, prunes) queued for the writer, not yet committed."""
        return self._queue.qsize()

    # ---- publishing ---------------------------------------------------------------------------------
    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> PublishAck:
        if self._closing:
            raise BusClosed(f"the event outbox is closed: cannot publish {subject!r}")
        check_event_subject(subject, self._settings)
        if not isinstance(data, bytes):
            data = bytes(data)
        hdrs = check_headers(subject, len(data), headers, 1 << 62) if headers else None
        fut: asyncio.Future[PublishAck] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(
            _Append(subject, data, _headers_enc.encode(hdrs) if hdrs else None, msg_id or None, fut)
        )
        return await fut

    def _enqueue_floor(
        self, name: str, filter: str, floor: int, *, wait: bool
    ) -> asyncio.Future[None] | None:
        if self._writer_task.done():
            if wait:
                raise BusClosed("the event outbox is closed")
            return None
        fut = asyncio.get_running_loop().create_future() if wait else None
        self._queue.put_nowait(_Floor(name, filter, floor, fut))
        return fut

    async def _writer_loop(self) -> None:
        stop = False
        while not stop:
            ops = [await self._queue.get()]
            while not self._queue.empty() and len(ops) < _MAX_GROUP:
                ops.append(self._queue.get_nowait())
            if _STOP in ops:
                stop = True
                ops = [op for op in ops if op is not _STOP]
            if ops:
                await self._apply(ops)

    async def _apply(self, ops: list[Any]) -> None:
        appends = [op for op in ops if isinstance(op, _Append)]
        floors = [op for op in ops if isinstance(op, _Floor)]
        prunes = [op for op in ops if isinstance(op, _Prune)]
        prune_before = None
        if prunes or (floors and time.monotonic() - self._last_prune > _PRUNE_EVERY_S):
            self._last_prune = time.monotonic()
            prune_before = time.time() - self._settings.max_age_s
        try:
            results, ts, low = await self._w.call(
                self._w.commit,
                [(a.subject, a.data, a.headers, a.msg_id) for a in appends],
                [(f.name, f.filter, f.floor) for f in floors],
                prune_before,
            )
        except asyncio.CancelledError:
            self._fail(ops, BusClosed("the event outbox was closed before the write committed"))
            raise
        except Exception as exc:
            log.exception("durable.write_failed", path=str(self.path), events=len(appends))
            self._fail(ops, Unavailable(f"the event outbox {self.path} could not store the event: {exc}"))
            return
        if prune_before is not None:
            self._pruned(prune_before, low)
        for a, (seq, dup) in zip(appends, results, strict=True):
            if seq > self.last_seq:
                self.last_seq = seq
            if not dup:
                self._remember(seq, a.subject, a.data, a.headers, ts)
            if not a.fut.done():
                a.fut.set_result(PublishAck(self._settings.name, seq, dup))
        settled: list[_Floor | _Prune] = [*floors, *prunes]
        for op in settled:
            if op.fut is not None and not op.fut.done():
                op.fut.set_result(None)
        self._wake()
        if self._bus is not None:
            # Plain subscribers of the core bus (cache invalidation) see durable events too.
            for a, (_, dup) in zip(appends, results, strict=True):
                if dup:
                    continue
                try:
                    hdrs = _headers_dec.decode(a.headers) if a.headers else None
                    await self._bus.publish(a.subject, a.data, headers=hdrs)
                except BusClosed:
                    break
                except Exception as exc:  # the event is stored: a core fan-out failure is only logged
                    log.warning("durable.core_publish_failed", subject=a.subject, error=str(exc))

    def _fail(self, ops: list[Any], exc: Exception) -> None:
        for op in ops:
            fut = op.fut
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    # ---- consuming -----------------------------------------------------------------------------------
    async def consumer(self, name: str, filter: str | None = None) -> SqliteConsumer:
        if self._closing:
            raise BusClosed("the event outbox is closed")
        filter = check_consumer(name, filter, self._settings)
        st = self._states.get(name)
        if st is not None:
            if st.filter != filter:
                raise InvalidInput(
                    f"consumer {name!r} is open with filter {st.filter!r}; close it before using {filter!r}"
                )
        else:
            async with self._r.execute("SELECT ack_floor FROM consumers WHERE name = ?", (name,)) as cur:
                row = await cur.fetchone()
            # A new consumer starts at the oldest stored event (JetStream's DeliverPolicy.ALL).
            st = self._states[name] = ConsumerState(self, name, filter, int(row[0]) if row else 0)
            fut = st.save_floor(wait=True)
            if fut is not None:
                await fut
        st.handles += 1
        return SqliteConsumer(st)

    def _remember(self, seq: int, subject: str, data: bytes, headers: bytes | None, ts: float) -> None:
        tail = self._tail
        if tail and tail[-1][0] != seq - 1:
            tail.clear()  # not consecutive: the memory copy restarts here
        tail.append((seq, subject, data, headers, ts))
        if len(tail) > _TAIL + _TAIL_SLACK:
            del tail[:-_TAIL]

    def _pruned(self, before: float, low: int | None) -> None:
        """Pruned rows must not come back from memory. Those at or below every consumer's floor
        cannot (no cursor goes below its floor; a new consumer's first read goes to the file, see
        ``_from_tail``); those older than ``before`` leave the tail. The tail is not emptied: a copy
        refilled after every prune was a saw-tooth of RSS."""
        if low is not None:
            self._pruned_to = max(self._pruned_to, int(low))
        tail = self._tail
        old = 0
        while old < len(tail) and tail[old][4] < before:
            old += 1
        del tail[:old]
        if any(row[4] < before for row in tail):  # the clock went back: not a prefix, start again
            tail.clear()

    def _from_tail(self, after: int, hi: int, filter: str, limit: int) -> list[tuple[Any, ...]] | None:
        """The rows ``_read`` would return, from memory; None when they are not all there."""
        tail = self._tail
        if not tail or after + 1 < tail[0][0] or hi > tail[-1][0] or after < self._pruned_to:
            return None
        exact = not has_wildcard(filter)
        prefix = filter.split("*", 1)[0].split(">", 1)[0]
        out: list[tuple[Any, ...]] = []
        for row in tail[max(0, after + 1 - tail[0][0]) :]:
            if row[0] > hi or len(out) >= limit:
                break
            subject = row[1]
            if subject == filter if exact else subject.startswith(prefix):
                out.append(row)
        self.tail_reads += 1
        return out

    async def _read(self, after: int, hi: int, filter: str, limit: int) -> list[tuple[Any, ...]]:
        rows = self._from_tail(after, hi, filter, limit)
        if rows is not None:
            return rows
        if not has_wildcard(filter):
            sql = (
                "SELECT seq, subject, data, headers, ts FROM events "
                "WHERE seq > ? AND seq <= ? AND subject = ?"
            )
            args: tuple[Any, ...] = (after, hi, filter)
        else:
            # Narrow by the literal prefix in SQL; the wildcard match is done in Python.
            prefix = filter.split("*", 1)[0].split(">", 1)[0]
            sql = (
                "SELECT seq, subject, data, headers, ts FROM events WHERE seq > ? AND seq <= ? "
                "AND substr(subject, 1, ?) = ?"
            )
            args = (after, hi, len(prefix), prefix)
        # One trip to the reader's thread (execute, fetch and close there), not three: a consumer
        # behind the in-memory tail reads every batch here, and under load each trip waits for the
        # event loop.
        found = await self._r.execute_fetchall(sql + " ORDER BY seq LIMIT ?", (*args, limit))
        return [tuple(r) for r in found]

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def _wait(self, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait({fut}, timeout=max(timeout, 0.0))
        finally:
            self._waiters.discard(fut)

    async def stored(self) -> int:
        """How many events the outbox holds (not yet pruned)."""
        async with self._r.execute("SELECT COUNT(*) FROM events") as cur:
            (n,) = await cur.fetchone() or (0,)
        return int(n)

    async def prune(self) -> None:
        """Drop what every consumer is done with, and what is older than ``max_age_s``, now.

        Normally done at most every ~30 s, with a saved ack floor.
        """
        if self._closing:
            raise BusClosed("the event outbox is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Prune(fut))
        await fut

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake()
        for st in list(self._states.values()):
            st.save_floor(wait=False)
        self._queue.put_nowait(_STOP)
        try:
            async with asyncio.timeout(10):
                await self._writer_task
        except TimeoutError:
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task
        for op in list(self._queue._queue):  # type: ignore[attr-defined]
            if op is not _STOP and op.fut is not None and not op.fut.done():
                op.fut.set_exception(BusClosed("the event outbox was closed"))
        await self._r.close()
        await self._w.call(self._w.close)
        self._w.pool.shutdown(wait=True)
