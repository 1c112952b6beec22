"""The front end's usage book: calls counted in memory, sent in batches to the usage worker.

Each call ends with ``record`` (tenant, key, tool, units, error, games, time) and
each admitted call is charged against its key's units of the day (``charge``),
so the hot path never waits on the bus. ``flush`` (every ``limits.usage_flush_s``
and on shutdown) sends what was counted as one ``UsageBatch`` with a fresh id;
a batch whose reply is lost is sent again under the same id and counted once.

Daily quotas start from what the usage worker stored for the day, asked once
per day (``nba.usage.key_units``) before the first batch of that day goes out,
so the units this process sends are never counted twice. When the usage worker
cannot be reached, counts wait in memory (and quotas count this process's calls
only) until it answers; several front ends share quotas as of their start.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from nbamcp import endpoints as ep
from nbamcp.errors import NbaError
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import KeyUnitsQuery, ToolUsage, UsageBatch, UsageDelta, UsageQuery
from nbamcp.usage.memory import MemoryUsageStore

log = structlog.get_logger(__name__)

Key = tuple[str, str, str, str]  # hour, tenant, key_id, tool
USAGE_TIMEOUT_S = 2.0


def hour_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H")


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class UsageSink(Protocol):
    """Where batches go and reports come from: the usage worker over the bus, or a twin."""

    async def record(self, batch: UsageBatch) -> None: ...

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]: ...

    async def key_units(self, day: str) -> dict[str, int]: ...


class BusUsageSink:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    async def record(self, batch: UsageBatch) -> None:
        await self.gw.call(ep.USAGE_RECORD, batch, timeout_s=USAGE_TIMEOUT_S)

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]:
        return (await self.gw.call(ep.USAGE_REPORT, UsageQuery(tenant=tenant, since_hour=since_hour))).rows

    async def key_units(self, day: str) -> dict[str, int]:
        return (
            await self.gw.call(ep.USAGE_KEY_UNITS, KeyUnitsQuery(day=day), timeout_s=USAGE_TIMEOUT_S)
        ).units


class MemoryUsageSink:
    """The in-process twin of the usage worker (same store semantics, batch ids included)."""

    def __init__(self) -> None:
        self.store = MemoryUsageStore()

    async def record(self, batch: UsageBatch) -> None:
        await self.store.add(batch.batch_id, batch.deltas)

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]:
        return await self.store.report(tenant, since_hour)

    async def key_units(self, day: str) -> dict[str, int]:
        return await self.store.key_units(day)


@dataclass(slots=True)
class _Sums:
    calls: int = 0
    errors: int = 0
    units: int = 0
    games: int = 0
    seconds: float = 0.0


def _origin() -> str:
    return f"frontend-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class UsageBook:
    def __init__(
        self,
        sink: UsageSink,
        *,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = 5.0,
    ) -> None:
        self.sink = sink
        self._wall = wall
        self._clock = clock
        self._retry_s = retry_s
        self._origin = _origin()
        self._seq = itertools.count(1)
        self._pending: dict[Key, _Sums] = {}
        self._unsent: UsageBatch | None = None
        self._day = day_of(wall())
        self._charged: dict[str, int] = {}  # units this process admitted today, per key
        self._stored: dict[str, int] | None = None  # what the usage worker had for today
        self._next_try = 0.0
        self._lock = asyncio.Lock()

    # ---- quotas ----------------------------------------------------------------------------------
    def _roll(self) -> None:
        day = day_of(self._wall())
        if day != self._day:
            self._day, self._charged, self._stored, self._next_try = day, {}, None, 0.0

    async def _load(self) -> bool:
        """True once today's stored units are known (asked at most every ``retry_s``)."""
        self._roll()
        if self._stored is not None:
            return True
        if self._clock() < self._next_try:
            return False
        day = self._day
        try:
            units = await self.sink.key_units(day)
        except NbaError as exc:
            self._next_try = self._clock() + self._retry_s
            log.warning("usage.unreachable", code=exc.code, error=exc.message)
            return False
        if day == self._day:
            self._stored = units
        return self._stored is not None

    async def units_today(self, key_id: str) -> int:
        loaded = await self._load()
        stored = self._stored.get(key_id, 0) if loaded and self._stored is not None else 0
        return stored + self._charged.get(key_id, 0)

    def charge(self, key_id: str, units: int) -> None:
        """Count ``units`` against the key's quota now, before the call runs."""
        self._roll()
        self._charged[key_id] = self._charged.get(key_id, 0) + units

    # ---- counting --------------------------------------------------------------------------------
    def record(
        self, tenant: str, key_id: str, tool: str, *, units: int, error: bool, games: int, seconds: float
    ) -> None:
        sums = self._pending.setdefault((hour_of(self._wall()), tenant, key_id, tool), _Sums())
        sums.calls += 1
        sums.errors += int(error)
        sums.units += units
        sums.games += games
        sums.seconds += seconds

    async def flush(self) -> bool:
        """Send what was counted; False when it stays in memory for the next try."""
        async with self._lock:
            if self._unsent is None and not self._pending:
                return True
            if not await self._load():
                return False
            if self._unsent is None and self._pending:
                pending, self._pending = self._pending, {}
                self._unsent = UsageBatch(
                    batch_id=f"{self._origin}-{next(self._seq)}",
                    deltas=[
                        UsageDelta(
                            hour=h,
                            tenant=t,
                            key_id=k,
                            tool=tool,
                            calls=s.calls,
                            errors=s.errors,
                            units=s.units,
                            games=s.games,
                            seconds=s.seconds,
                        )
                        for (h, t, k, tool), s in pending.items()
                    ],
                )
            if self._unsent is None:
                return True
            try:
                await self.sink.record(self._unsent)
            except NbaError as exc:
                log.warning("usage.flush_failed", code=exc.code, error=exc.message)
                return False
            self._unsent = None
            return not self._pending

    async def report(self, tenant: str | None = None, since: float | None = None) -> list[ToolUsage]:
        await self.flush()
        return await self.sink.report(tenant, hour_of(since) if since is not None else "")
