"""The key-value seam on NATS: a JetStream KV bucket (``KV_<name>`` stream, one message per key kept).

Same contract as :class:`~nbamcp.bus.kv.MemoryKv` (``tests/bus/test_kv_contract.py``).
The bucket is created when missing and used as it is when it exists with other
settings. nats-py errors become the project's (``Unavailable`` when JetStream
does not answer, ``BusError`` otherwise).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from nats import errors as nats_errors
from nats.js import api
from nats.js import errors as js_errors
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from nbamcp.bus.kv import BucketSettings, KvEntry, KvWatch, check_bucket, check_key
from nbamcp.bus.nats import NatsBus, translate
from nbamcp.bus.subjects import check_subscribe_subject
from nbamcp.errors import BusError, Unavailable

log = structlog.get_logger(__name__)


def _unavailable(what: str, exc: Exception) -> Unavailable:
    return Unavailable(
        f"JetStream did not serve {what}: {exc or type(exc).__name__} (is nats-server -js up?)"
    )


class _NatsWatch:
    def __init__(self, watcher: Any) -> None:
        self._w = watcher
        self._stopped = False

    async def __aiter__(self) -> AsyncIterator[KvEntry | None]:
        async for e in self._w:
            if e is None:
                yield None
                continue
            created = e.created.timestamp() if e.created is not None else 0.0
            deleted = e.operation in (KV_DEL, KV_PURGE)
            yield KvEntry(e.key, b"" if deleted else (e.value or b""), int(e.revision), created, deleted)

    async def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            with contextlib.suppress(Exception):  # the connection may already be gone
                await self._w.stop()


class NatsKv:
    """A bucket on the NATS server. Build it with :meth:`open`."""

    def __init__(self, kv: KeyValue, settings: BucketSettings, identity: str) -> None:
        self._kv = kv
        self._settings = settings
        self._identity = identity

    @classmethod
    async def open(cls, bus: NatsBus, settings: BucketSettings) -> NatsKv:
        name = check_bucket(settings.name)
        js = bus.jetstream()
        storage = api.StorageType.MEMORY if settings.memory else api.StorageType.FILE
        try:
            try:
                kv = await js.create_key_value(
                    bucket=name,
                    history=1,
                    ttl=settings.ttl_s,
                    storage=storage,
                    description=settings.description,
                )
            except js_errors.BadRequestError:
                kv = await js.key_value(name)  # exists with other settings: use it as it is
            info = await js.stream_info(f"KV_{name}")
        except (nats_errors.Error, js_errors.Error, TimeoutError) as exc:
            raise _unavailable(f"the key-value bucket {name}", exc) from None
        return cls(kv, settings, f"nats:{name}:{info.created}")

    @property
    def kind(self) -> str:
        return "nats"

    @property
    def settings(self) -> BucketSettings:
        return self._settings

    @property
    def identity(self) -> str:
        return self._identity

    async def put(self, key: str, value: bytes) -> int:
        check_key(key)
        try:
            return int(await self._kv.put(key, value))
        except nats_errors.Error as exc:
            raise translate(exc, key) from None
        except js_errors.Error as exc:
            raise BusError(f"JetStream refused {key!r} in {self._settings.name}: {exc}") from None

    async def get(self, key: str) -> KvEntry | None:
        check_key(key)
        try:
            e = await self._kv.get(key)
        except js_errors.KeyNotFoundError:
            return None
        except (nats_errors.Error, js_errors.Error) as exc:
            raise _unavailable(f"{key!r} of {self._settings.name}", exc) from None
        return KvEntry(key, e.value or b"", int(e.revision or 0), 0.0)

    async def purge(self, key: str) -> None:
        check_key(key)
        try:
            await self._kv.purge(key)
        except (nats_errors.Error, js_errors.Error) as exc:
            raise _unavailable(f"a purge of {key!r} in {self._settings.name}", exc) from None

    async def keys(self, pattern: str = ">") -> list[str]:
        check_subscribe_subject(pattern)
        watch = await self.watch(pattern, meta_only=True)
        out: list[str] = []
        try:
            async for e in watch:
                if e is None:
                    break
                if not e.deleted:
                    out.append(e.key)
        finally:
            await watch.stop()
        return out

    async def watch(self, pattern: str = ">", *, meta_only: bool = False) -> KvWatch:
        check_subscribe_subject(pattern)
        try:
            w = await self._kv.watch(pattern, meta_only=meta_only)
        except (nats_errors.Error, js_errors.Error) as exc:
            raise _unavailable(f"a watch of {self._settings.name}", exc) from None
        return _NatsWatch(w)

    async def close(self) -> None:
        """Nothing to release: the bucket lives on the server (watches are stopped by their owners)."""
