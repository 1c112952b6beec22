"""The key-value seam on NATS: a JetStream KV bucket (``KV_<name>`` stream, one message per key kept).

Same contract as :class:`~nbamcp.bus.kv.MemoryKv` (``tests/bus/test_kv_contract.py``).
The bucket is created when missing and used as it is when it exists with other
settings. nats-py errors become the project's (``Unavailable`` when JetStream
does not answer, ``BusError`` otherwise).

After NATS reconnects (``bus.link``), the bucket is created again if the server
lost it (a memory bucket always is; a file bucket when the server came back
without its store), ``identity`` moves to the new incarnation, and every watch
*ends*: its owner watches again (a watch's ordered consumer does not survive a
server that lost the stream, and one that did keeps the revisions apart anyway).
A put that finds no bucket re-creates it once and tries again.
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

from nbamcp.bus.jetstream_setup import tried_again
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
    def __init__(self, watcher: Any, owner: NatsKv) -> None:
        self._w = watcher
        self._owner = owner
        self._stopped = False

    async def __aiter__(self) -> AsyncIterator[KvEntry | None]:
        seen = 0
        owed = False  # the end-of-replay marker held back until the replay is in
        async for e in self._w:
            if e is None:
                if seen == 0 and await self._server_delivered() > 0:
                    # nats-py asks the consumer how much is pending right after creating it; on a
                    # loaded machine the answer (0: all sent) can arrive before the messages sent,
                    # and it signals "caught up" with nothing replayed. The replay follows: wait.
                    owed = True
                    continue
                yield None
                continue
            seen += 1
            created = e.created.timestamp() if e.created is not None else 0.0
            deleted = e.operation in (KV_DEL, KV_PURGE)
            yield KvEntry(e.key, b"" if deleted else (e.value or b""), int(e.revision), created, deleted)
            if owed and e.delta == 0:
                owed = False
                yield None

    async def _server_delivered(self) -> int:
        """How many messages the server has sent this watch's consumer (0 when it cannot say)."""
        try:
            info = await self._w._sub.consumer_info()
        except (nats_errors.Error, js_errors.Error, TimeoutError):
            return 0
        return int(info.delivered.consumer_seq or 0) if info.delivered is not None else 0

    async def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._owner._watches.discard(self)
            with contextlib.suppress(Exception):  # the connection may already be gone
                await self._w.stop()
            # nats-py ends the iteration only once its unsubscribe went through: end it anyway.
            with contextlib.suppress(Exception):
                self._w._updates.put_nowait(KeyValue.KeyWatcher.STOP_ITER)


class NatsKv:
    """A bucket on the NATS server. Build it with :meth:`open`."""

    def __init__(self, bus: NatsBus, kv: KeyValue, settings: BucketSettings, identity: str) -> None:
        self._bus = bus
        self._kv = kv
        self._settings = settings
        self._identity = identity
        self._watches: set[_NatsWatch] = set()
        self.recreated = 0  # times the bucket was found missing and made again
        self._unhook = bus.link.on_recovery(f"kv {settings.name}", self.recover)

    @classmethod
    async def open(cls, bus: NatsBus, settings: BucketSettings) -> NatsKv:
        kv, identity = await _ensure(bus, settings)
        return cls(bus, kv, settings, identity)

    async def recover(self) -> None:
        """After a reconnect: the bucket again (made anew if the server lost it), watches ended."""
        old = self._identity
        self._kv, self._identity = await _ensure(self._bus, self._settings)
        if self._identity != old:
            self.recreated += 1
            log.warning("kv.bucket_recreated", bucket=self._settings.name, identity=self._identity)
        for w in list(self._watches):
            await w.stop()

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
            try:
                return int(await self._kv.put(key, value))
            except js_errors.NoStreamResponseError:
                # The server lost the bucket (and recovery has not made it yet): make it, once.
                await self.recover()
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
        watch = _NatsWatch(w, self)
        self._watches.add(watch)
        return watch

    async def close(self) -> None:
        """The bucket lives on the server (watches are stopped by their owners): stop recovering it."""
        self._unhook()


async def _ensure(bus: NatsBus, settings: BucketSettings) -> tuple[KeyValue, str]:
    """The bucket (created when missing) and its identity (its stream's creation time)."""
    name = check_bucket(settings.name)
    js = bus.jetstream()
    storage = api.StorageType.MEMORY if settings.memory else api.StorageType.FILE

    async def create() -> KeyValue:
        try:
            return await js.create_key_value(
                bucket=name,
                history=1,
                ttl=settings.ttl_s,
                storage=storage,
                description=settings.description,
                max_bytes=settings.max_bytes,
            )
        except js_errors.BadRequestError:
            return await js.key_value(name)  # exists with other settings: use it as it is

    try:
        kv = await tried_again(create, what=f"bucket {name}")
        info = await tried_again(lambda: js.stream_info(f"KV_{name}"), what=f"bucket {name}")
        if settings.max_bytes is not None and info.config.discard != api.DiscardPolicy.OLD:
            # A KV stream refuses new puts when full (discard new); a bounded cache keeps the newest.
            evolved = info.config.evolve(discard=api.DiscardPolicy.OLD)
            info = await tried_again(lambda: js.update_stream(evolved), what=f"bucket {name}")
    except (nats_errors.Error, js_errors.Error, TimeoutError) as exc:
        raise _unavailable(f"the key-value bucket {name}", exc) from None
    return kv, f"nats:{name}:{info.created}"
