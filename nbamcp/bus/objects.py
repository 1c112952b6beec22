"""The object store seam: named blobs of any size (JetStream Object Store), with an in-process twin.

What both implementations honour (``tests/bus/test_objects_contract.py``): ``put``
stores the bytes under a name (replacing what was there) and returns their
size and sha256; ``get`` returns them, ``NotFound`` when there is no such
object; ``info`` says what is stored without fetching it.

Content-addressed use (model artifacts): :func:`put_content` files bytes under
their own sha256; :func:`get_verified` fetches by sha256 and refuses bytes that
do not hash to the name (and the expected size) with ``IntegrityError``: the
receiver trusts no copy, whoever wrote it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nbamcp.errors import IntegrityError, InvalidInput, NotFound

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    name: str
    size: int
    sha256: str  # hex digest of the stored bytes


@runtime_checkable
class ObjectStore(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def bucket(self) -> str: ...

    async def put(self, name: str, data: bytes) -> ObjectInfo: ...

    async def get(self, name: str) -> bytes: ...

    async def info(self, name: str) -> ObjectInfo | None: ...

    async def delete(self, name: str) -> None: ...


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
        raise InvalidInput(f"not a sha256 hex digest: {sha256!r}")
    return sha256


async def put_content(store: ObjectStore, data: bytes) -> ObjectInfo:
    """Store ``data`` under its sha256 (a no-op when the same bytes are there already)."""
    sha = hashlib.sha256(data).hexdigest()
    found = await store.info(sha)
    if found is not None and found.sha256 == sha and found.size == len(data):
        return found
    return await store.put(sha, data)


async def get_verified(store: ObjectStore, sha256: str, *, size: int | None = None) -> bytes:
    """The bytes named ``sha256``, checked against it (and ``size``): IntegrityError when they differ."""
    _check_sha(sha256)
    try:
        data = await store.get(sha256)
    except NotFound:
        raise NotFound(
            f"object {sha256[:12]}... is not in the {store.bucket} store (yet): its writer re-uploads "
            "what it owns when it starts",
            details={"sha256": sha256},
        ) from None
    if size is not None and len(data) != size:
        raise IntegrityError(
            f"object {sha256[:12]}... from the {store.bucket} store is {len(data)} bytes, {size} were "
            "recorded: truncated or replaced; refusing it",
            details={"sha256": sha256},
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise IntegrityError(
            f"object {sha256[:12]}... from the {store.bucket} store hashes to {actual[:12]}...: "
            "not the recorded content; refusing it",
            details={"sha256": sha256, "actual": actual},
        )
    return data


class MemoryObjects:
    """One object store bucket in this process."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self._objects: dict[str, bytes] = {}

    @property
    def kind(self) -> str:
        return "memory"

    @property
    def bucket(self) -> str:
        return self._bucket

    async def put(self, name: str, data: bytes) -> ObjectInfo:
        if not name:
            raise InvalidInput("an object needs a name")
        self._objects[name] = bytes(data)
        return ObjectInfo(name, len(data), hashlib.sha256(data).hexdigest())

    async def get(self, name: str) -> bytes:
        try:
            return self._objects[name]
        except KeyError:
            raise NotFound(f"no object {name!r} in the {self._bucket} store") from None

    async def info(self, name: str) -> ObjectInfo | None:
        data = self._objects.get(name)
        return None if data is None else ObjectInfo(name, len(data), hashlib.sha256(data).hexdigest())

    async def delete(self, name: str) -> None:
        self._objects.pop(name, None)
