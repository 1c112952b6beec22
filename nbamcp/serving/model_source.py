"""Where serving workers get their models: registry facts from the trainer, artifacts from the model store.

The trainer owns the registry; nobody else opens it. A serving worker:

- asks the trainer which versions serve (``nba.models.serving``: the aliases and,
  per aliased version, its artifact's sha256 and size, feature set, reference
  distributions). The answer is kept in the worker's own home, so a restart while
  the trainer is down still serves the last champion it knew (and says so);
- fetches an artifact from the model object store by its sha256 and checks the
  bytes against the sha256 and size the registry recorded (``IntegrityError``:
  refused, whoever wrote them), then keeps a verified copy in its own home
  (``model-cache/``), checked again on every read.

``ModelSource`` is the seam; ``BusModelSource`` runs over the bus and an object
store, so it is the same code on NATS and, over the in-process twins, in one
process (``tests/serving/test_model_source.py`` runs it on both).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.bus.objects import ObjectStore, get_verified
from nbamcp.calls import call
from nbamcp.errors import IntegrityError, Unavailable
from nbamcp.log import current_request_id, new_request_id
from nbamcp.messages import ServedVersion, ServingModels, ServingModelsRequest, decode, encode
from nbamcp.ml.artifacts import ArtifactStore

log = structlog.get_logger(__name__)


class ModelSource(Protocol):
    last_known: bool  # the latest ``serving`` answer came from the worker's own record, not the trainer

    async def serving(self, name: str) -> ServingModels:
        """The aliases of ``name`` and their versions (Unavailable when nobody knows)."""
        ...

    async def artifact(self, version: ServedVersion) -> bytes:
        """The version's artifact, verified (IntegrityError when its bytes are not the recorded ones)."""
        ...


class BusModelSource:
    def __init__(
        self, bus: Bus, objects: ObjectStore, cache_dir: Path, *, worker: str, timeout_s: float
    ) -> None:
        self._bus = bus
        self._worker = worker
        self._objects = objects
        self._dir = cache_dir
        self._cache = ArtifactStore(cache_dir)
        self._timeout_s = timeout_s
        self.last_known = False  # the latest answer came from the worker's own record

    def _record(self, name: str) -> Path:
        # One record per worker: in one process the workers share a home, each owns its files.
        return self._dir / f"{self._worker}-serving-{name}.msgpack"

    async def serving(self, name: str) -> ServingModels:
        rid = current_request_id() or new_request_id()
        try:
            models = await call(
                self._bus, ep.MODELS_SERVING, ServingModelsRequest(name=name), timeout_s=self._timeout_s,
                request_id=rid,
            )  # fmt: skip
        except Unavailable as exc:
            known = await asyncio.to_thread(self._read_record, name)
            if known is None:
                raise
            log.warning("models.last_known", model=name, aliases=known.aliases, why=exc.message)
            self.last_known = True
            return known
        self.last_known = False
        await asyncio.to_thread(self._write_record, models)
        return models

    def _read_record(self, name: str) -> ServingModels | None:
        try:
            return decode(self._record(name).read_bytes(), ServingModels)
        except (OSError, msgspec.MsgspecError):
            return None

    def _write_record(self, models: ServingModels) -> None:
        path = self._record(models.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(encode(models))
        tmp.replace(path)

    async def artifact(self, version: ServedVersion) -> bytes:
        sha, size = version.artifact_sha256, version.artifact_size
        if await asyncio.to_thread(self._cache.exists, sha):
            try:
                return await asyncio.to_thread(self._cache.get, sha, size=size)
            except IntegrityError as exc:  # the local copy went bad: fetch a good one
                log.warning("models.cache_corrupt", sha256=sha, error=exc.message)
        data = await get_verified(self._objects, sha, size=size)
        await asyncio.to_thread(self._cache.put, data)
        log.info(
            "models.fetched",
            model=version.name,
            version=version.version,
            bytes=size,
            store=self._objects.kind,
        )
        return data
