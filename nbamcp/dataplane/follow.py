"""Replay, then follow, one dataset of the data bucket: the loop every replica shares.

``DatasetFollower(kv, dataset, apply, merge).run(on_change)`` watches the dataset's
``<name>.*`` entries (the ``KvWatch`` contract: the latest entry of every key, then
``None``, then each change). Each entry is decoded as the dataset's partition (a purge
as ``None``) and handed to ``apply``, which keeps it and says what changed (``None``:
nothing). The whole replay is ONE change (``merge`` of the replay's), delivered before
``caught_up`` is set, so a receiver builds its state once and is ready after that; each
later entry is a change of its own. A lost watch is opened again, with back-off.

What differs between datasets stays with their replicas: ``skip`` lets one pass over an
entry it already applied without decoding it (a snapshot's revision), ``on_identity``
tells one that kept revisions the bucket is another incarnation (they mean nothing now).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

import msgspec
import structlog

from nbamcp.bus.kv import KeyValue, KvEntry
from nbamcp.endpoints import Dataset
from nbamcp.errors import NbaError
from nbamcp.messages import decoder_for

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 30.0
FIRST_BACKOFF_S = 0.5

P = TypeVar("P")  # the dataset's partition
C = TypeVar("C")  # what one entry changed, as the replica's receivers see it


class DatasetFollower(Generic[P, C]):
    def __init__(
        self,
        kv: KeyValue,
        dataset: Dataset[P],
        apply: Callable[[str, KvEntry, P | None], C | None],  # partition key, entry, partition (None: purged)
        merge: Callable[[list[C]], C],
        *,
        skip: Callable[[str, KvEntry], bool] | None = None,
        identity: str = "",  # the incarnation the replica's state came from ("" for none)
        on_identity: Callable[[str], None] | None = None,
        size: Callable[[], Mapping[str, int]] = dict,  # logged when caught up
    ) -> None:
        self.kv = kv
        self.dataset = dataset
        self._apply = apply
        self._merge = merge
        self._skip = skip
        self._identity = identity
        self._on_identity = on_identity
        self._size = size
        self._decoder = decoder_for(dataset.partition)
        self.caught_up = asyncio.Event()
        # Set after each entry handled, then replaced: tests await it instead of sleeping.
        self.changed = asyncio.Event()
        self.skipped = 0  # entries passed over by ``skip``, not decoded
        self.decoded = 0

    async def run(self, on_change: Callable[[C], Awaitable[None]] | None = None) -> None:
        """Replay, then follow, until cancelled; a lost watch is opened again (with back-off)."""
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                await self._follow(on_change)
                backoff = FIRST_BACKOFF_S
            except NbaError as exc:
                log.warning(
                    "replica.watch_failed", dataset=self.dataset.name, code=exc.code, error=exc.message
                )
                await asyncio.sleep(backoff)  # a real pause: the bucket's server is away
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _follow(self, on_change: Callable[[C], Awaitable[None]] | None) -> None:
        if self._identity != self.kv.identity:
            # Another incarnation of the bucket: revisions kept from the last one are not its.
            self._identity = self.kv.identity
            if self._on_identity is not None:
                self._on_identity(self._identity)
        watch = await self.kv.watch(self.dataset.pattern)
        replay: list[C] = []
        try:
            async for entry in watch:
                if entry is None:
                    if not self.caught_up.is_set():
                        if on_change is not None:
                            await on_change(self._merge(replay))
                        self.caught_up.set()
                        log.info(
                            "replica.caught_up", dataset=self.dataset.name, decoded=self.decoded,
                            skipped=self.skipped, **self._size(),
                        )  # fmt: skip
                    continue
                change = self._entry(entry)
                self.changed.set()
                self.changed = asyncio.Event()
                if change is None:
                    continue
                if self.caught_up.is_set():
                    if on_change is not None:
                        await on_change(change)
                else:
                    replay.append(change)
        finally:
            await watch.stop()

    def _entry(self, entry: KvEntry) -> C | None:
        key = entry.key.removeprefix(f"{self.dataset.name}.")
        if entry.deleted:
            return self._apply(key, entry, None)
        if self._skip is not None and self._skip(key, entry):
            self.skipped += 1
            return None
        try:
            partition = self._decoder.decode(entry.value)
        except msgspec.MsgspecError as exc:
            # Not ours to fix: the rest of the dataset still counts.
            log.warning("replica.bad_partition", key=entry.key, revision=entry.revision, error=str(exc))
            return None
        self.decoded += 1
        return self._apply(key, entry, partition)
