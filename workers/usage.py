"""The usage worker: usage counters per tenant and tool, in its own ``usage.sqlite``.

Subjects (queue "usage"): ``nba.usage.record`` stores a front end's batch of
counts (once per batch id), ``nba.usage.report`` answers the ``usage`` tool,
``nba.usage.key_units`` gives the units each key spent on a day, from which a
front end (re)starts its daily quotas. Several front ends share one usage
worker; run one instance (it owns one file).
"""

from __future__ import annotations

import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route, WorkerContext
from nbamcp.messages import KeyUnits, KeyUnitsQuery, UsageBatch, UsageQuery, UsageRows, UsageStored
from nbamcp.usage.store import SqliteUsageStore

log = structlog.get_logger(__name__)


class UsageWorker(Actor):
    name = "usage"

    store: SqliteUsageStore

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.batches = 0
        self.duplicates = 0

    def routes(self) -> list[Route]:
        return [
            Route(ep.USAGE_RECORD, self.record),
            Route(ep.USAGE_REPORT, self.report),
            Route(ep.USAGE_KEY_UNITS, self.key_units),
        ]

    async def on_start(self) -> None:
        self.store = await SqliteUsageStore.open(self.config.usage_path)
        self.close_with(self.store.close)
        log.info("usage.ready", path=str(self.store.path))

    async def record(self, batch: UsageBatch, ctx: Context) -> UsageStored:
        stored = await self.store.add(batch.batch_id, batch.deltas)
        self.batches += 1
        self.duplicates += not stored
        return UsageStored(batch_id=batch.batch_id, duplicate=not stored)

    async def report(self, query: UsageQuery, ctx: Context) -> UsageRows:
        return UsageRows(rows=await self.store.report(query.tenant, query.since_hour))

    async def key_units(self, query: KeyUnitsQuery, ctx: Context) -> KeyUnits:
        return KeyUnits(day=query.day, units=await self.store.key_units(query.day))

    def health_detail(self) -> dict[str, str]:
        return {"batches": str(self.batches), "duplicates": str(self.duplicates)}
