"""The key-value seam: JetStream KV semantics behind one Protocol, with an in-process twin.

A bucket maps keys (dot-separated tokens of ``[-/_=a-zA-Z0-9]``) to values, and
numbers every change with a revision that only grows. What both
implementations honour (one contract suite, ``tests/bus/test_kv_contract.py``):

- ``put`` returns the new revision; ``get`` the latest entry (None when absent,
  purged or older than the bucket's ``ttl_s``); ``purge`` removes a key;
- ``watch(pattern)`` first delivers the latest entry of every matching key
  (oldest revision first), a purged key's purge marker included (``deleted=True``:
  a replica that watches again learns what went while it was away), then ``None``
  (caught up), then every change as it happens, purges included; ``meta_only``
  leaves values out. A purge marker is kept like an entry (it counts against
  ``max_bytes`` and expires with the TTL), as JetStream keeps it;
- ``identity`` names this incarnation of the bucket: it changes when the
  bucket is recreated (the server lost its state), so a consumer that kept
  revisions knows they no longer mean anything;
- ``max_bytes`` bounds what the bucket holds (keys and values): past it the
  oldest entries go first, as JetStream's limits remove messages, without a
  purge marker to watchers. Expired entries are removed too, not only hidden:
  a cache bucket filled for an hour would otherwise hold every fill of the hour.

Used for the data plane (datasets as one entry per partition, kept forever) and
for the cache's shared level (predictions with a TTL, in memory on the server).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nbamcp.bus.subjects import check_subscribe_subject, matches
from nbamcp.errors import BusClosed, InvalidInput

_KEY = re.compile(r"[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*")
_BUCKET = re.compile(r"[-_a-zA-Z0-9]{1,64}")


@dataclass(frozen=True, slots=True)
class BucketSettings:
    name: str
    ttl_s: float | None = None  # None: entries never expire
    memory: bool = False  # kept in the server's memory (a cache), else on disk
    description: str = ""
    max_bytes: int | None = None  # None: no bound; else the oldest entries go first past it


@dataclass(frozen=True, slots=True)
class KvEntry:
    key: str
    value: bytes  # b"" when deleted, or when watched with meta_only
    revision: int
    created: float  # unix seconds of the change
    deleted: bool = False


@runtime_checkable
class KvWatch(Protocol):
    def __aiter__(self) -> AsyncIterator[KvEntry | None]: ...

    async def stop(self) -> None:
        """End the iteration (idempotent)."""
        ...


@runtime_checkable
class KeyValue(Protocol):
    @property
    def kind(self) -> str:
        """``"nats"`` or ``"memory"``."""
        ...

    @property
    def settings(self) -> BucketSettings: ...

    @property
    def identity(self) -> str: ...

    async def put(self, key: str, value: bytes) -> int: ...

    async def get(self, key: str) -> KvEntry | None: ...

    async def purge(self, key: str) -> None: ...

    async def keys(self, pattern: str = ">") -> list[str]: ...

    async def watch(self, pattern: str = ">", *, meta_only: bool = False) -> KvWatch: ...


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidInput(
            f"key {key!r} is not valid: use dot-separated tokens of letters, digits and -/_= "
            "(e.g. 'games.2023')"
        )
    return key


def check_bucket(name: str) -> str:
    if not isinstance(name, str) or not _BUCKET.fullmatch(name):
        raise InvalidInput(f"bucket name {name!r} is not valid: use 1-64 letters, digits, '-' or '_'")
    return name


def _weight(entry: KvEntry) -> int:
    return len(entry.key) + len(entry.value) + ENTRY_OVERHEAD


# ---- the in-process twin ---------------------------------------------------------------------------
class _MemoryWatch:
    def __init__(self, kv: MemoryKv, pattern: str, meta_only: bool) -> None:
        self._kv = kv
        self.pattern = pattern
        self.meta_only = meta_only
        self._queue: asyncio.Queue[KvEntry | None] = asyncio.Queue()
        self._stopped = False

    def offer(self, entry: KvEntry | None) -> None:
        if self._stopped:
            return
        if entry is not None and self.meta_only:
            entry = KvEntry(entry.key, b"", entry.revision, entry.created, entry.deleted)
        self._queue.put_nowait(entry)

    async def __aiter__(self) -> AsyncIterator[KvEntry | None]:
        while True:
            item = await self._queue.get()
            if self._stopped:
                return
            yield item

    async def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._kv._watches.discard(self)
            self._queue.put_nowait(None)  # wakes the iterator, which then ends


# What one kept entry costs besides its key and value (the KvEntry, the dict slot; measured
# ~190 bytes on CPython 3.11, rounded up): counted against ``max_bytes`` with them.
ENTRY_OVERHEAD = 200


class MemoryKv:
    """One bucket in this process: what a JetStream KV bucket does, without a server.

    Entries (purge markers among them) are kept in revision order (a change moves its
    key to the end), so the oldest, the first to expire and the first to go past
    ``max_bytes``, are at the front: each change removes them from there, in time
    amortised O(1).
    """

    def __init__(self, settings: BucketSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._identity = f"memory:{settings.name}:{uuid.uuid4().hex[:12]}"
        self._entries: dict[str, KvEntry] = {}
        self._revisions = itertools.count(1)
        self._watches: set[_MemoryWatch] = set()
        self._closed = False
        self.bytes = 0  # keys, values and ENTRY_OVERHEAD of what is kept
        self.removed = 0  # entries removed for the TTL or max_bytes (not purges)
        self._markers = 0  # purge markers among _entries

    def __len__(self) -> int:
        """The keys that hold a value (purge markers not counted)."""
        return len(self._entries) - self._markers

    @property
    def kind(self) -> str:
        return "memory"

    @property
    def settings(self) -> BucketSettings:
        return self._settings

    @property
    def identity(self) -> str:
        return self._identity

    def _live(self, entry: KvEntry | None) -> KvEntry | None:
        if entry is None or entry.deleted:
            return None
        ttl = self._settings.ttl_s
        if ttl is not None and self._clock() - entry.created > ttl:
            return None
        return entry

    def _replayed(self, entry: KvEntry) -> bool:
        """Whether a watch's replay delivers ``entry``: a live value, or a purge marker within the TTL."""
        ttl = self._settings.ttl_s
        return ttl is None or self._clock() - entry.created <= ttl

    def _change(self, key: str, value: bytes, *, deleted: bool) -> KvEntry:
        if self._closed:
            raise BusClosed(f"the key-value bucket {self._settings.name} is closed")
        entry = KvEntry(check_key(key), value, next(self._revisions), self._clock(), deleted)
        self._remove(key)
        self._entries[key] = entry  # at the end: the newest
        self.bytes += _weight(entry)
        self._markers += deleted
        self._trim(entry.created)
        for w in list(self._watches):
            if matches(w.pattern, key):
                w.offer(entry)
        return entry

    def _remove(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= _weight(old)
            self._markers -= old.deleted

    def _trim(self, now: float) -> None:
        """Remove the oldest entries while they are expired or the bucket is over ``max_bytes``."""
        ttl, budget = self._settings.ttl_s, self._settings.max_bytes
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            expired = ttl is not None and now - oldest.created > ttl
            if not expired and (budget is None or self.bytes <= budget):
                return
            self._remove(key)
            self.removed += 1

    async def put(self, key: str, value: bytes) -> int:
        if not isinstance(value, bytes):
            raise InvalidInput(f"a value must be bytes, got {type(value).__name__}")
        return self._change(key, value, deleted=False).revision

    async def get(self, key: str) -> KvEntry | None:
        return self._live(self._entries.get(check_key(key)))

    async def purge(self, key: str) -> None:
        if self._live(self._entries.get(check_key(key))) is not None:
            self._change(key, b"", deleted=True)

    async def keys(self, pattern: str = ">") -> list[str]:
        check_subscribe_subject(pattern)
        return [k for k, e in self._entries.items() if matches(pattern, k) and self._live(e) is not None]

    async def watch(self, pattern: str = ">", *, meta_only: bool = False) -> KvWatch:
        check_subscribe_subject(pattern)
        w = _MemoryWatch(self, pattern, meta_only)
        current = sorted(
            (e for k, e in self._entries.items() if matches(pattern, k) and self._replayed(e)),
            key=lambda e: e.revision,
        )
        for e in current:
            w.offer(e)
        w.offer(None)
        self._watches.add(w)
        return w

    async def close(self) -> None:
        self._closed = True
        for w in list(self._watches):
            await w.stop()
