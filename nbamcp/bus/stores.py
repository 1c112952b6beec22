"""Where a process opens its key-value buckets and object stores: JetStream on NATS, twins in process.

One ``Stores`` per process (the worker context holds it): on the in-memory bus
every worker of the process sees the same buckets by name, as every process
sees the same buckets on a NATS server.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nbamcp.bus.base import Bus
from nbamcp.bus.kv import BucketSettings, KeyValue, MemoryKv, check_bucket
from nbamcp.bus.objects import MemoryObjects, ObjectStore


@runtime_checkable
class Stores(Protocol):
    @property
    def kind(self) -> str: ...

    async def kv(self, settings: BucketSettings) -> KeyValue:
        """The bucket ``settings.name`` (created with these settings when missing)."""
        ...

    async def objects(self, bucket: str) -> ObjectStore:
        """The object store ``bucket`` (created when missing)."""
        ...

    async def close(self) -> None: ...


class MemoryStores:
    def __init__(self) -> None:
        self._kv: dict[str, MemoryKv] = {}
        self._objects: dict[str, MemoryObjects] = {}

    @property
    def kind(self) -> str:
        return "memory"

    async def kv(self, settings: BucketSettings) -> KeyValue:
        name = check_bucket(settings.name)
        found = self._kv.get(name)
        if found is None:
            found = self._kv[name] = MemoryKv(settings)
        return found

    async def objects(self, bucket: str) -> ObjectStore:
        name = check_bucket(bucket)
        found = self._objects.get(name)
        if found is None:
            found = self._objects[name] = MemoryObjects(name)
        return found

    async def close(self) -> None:
        for kv in self._kv.values():
            await kv.close()


class NatsStores:
    def __init__(self, bus: Bus) -> None:
        from nbamcp.bus.nats import NatsBus

        assert isinstance(bus, NatsBus)
        self._bus = bus

    @property
    def kind(self) -> str:
        return "nats"

    async def kv(self, settings: BucketSettings) -> KeyValue:
        from nbamcp.bus.kv_nats import NatsKv

        return await NatsKv.open(self._bus, settings)

    async def objects(self, bucket: str) -> ObjectStore:
        from nbamcp.bus.objects_nats import NatsObjects

        return await NatsObjects.open(self._bus, bucket)

    async def close(self) -> None:
        """The buckets live on the server."""


def stores_for(bus: Bus) -> Stores:
    return NatsStores(bus) if bus.kind == "nats" else MemoryStores()
