"""The object store seam on NATS: a JetStream Object Store bucket (``OBJ_<name>`` stream, 128 KiB chunks).

Same contract as :class:`~nbamcp.bus.objects.MemoryObjects`
(``tests/bus/test_objects_contract.py``). Objects of any size travel in chunks, so
a model artifact is not bound by the bus's 1 MiB message limit. nats-py checks
its own digest of the chunks; ``get_verified`` checks the content against its
name on top of that.
"""

from __future__ import annotations

import base64

from nats import errors as nats_errors
from nats.js import api
from nats.js import errors as js_errors
from nats.js.object_store import ObjectStore as JsObjectStore

from nbamcp.bus.jetstream_setup import tried_again
from nbamcp.bus.kv import check_bucket
from nbamcp.bus.nats import NatsBus
from nbamcp.bus.objects import ObjectInfo
from nbamcp.errors import IntegrityError, NotFound, Unavailable


def _hex(digest: str | None) -> str:
    """'SHA-256=<base64url>' (how the server records it) as hex."""
    if not digest:
        return ""
    raw = digest.split("=", 1)[1] if "=" in digest[:8] else digest
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()


class NatsObjects:
    """An object store bucket on the NATS server. Build it with :meth:`open`."""

    def __init__(self, store: JsObjectStore, bucket: str, bus: NatsBus, description: str = "") -> None:
        self._store = store
        self._bucket = bucket
        self._bus = bus
        self._description = description
        # After a reconnect the bucket is made again if the server lost it; its owner (the
        # trainer) puts the artifacts back (its reconcile runs on recovery too).
        self._unhook = bus.link.on_recovery(f"objects {bucket}", self.recover)

    @classmethod
    async def open(cls, bus: NatsBus, bucket: str, *, description: str = "") -> NatsObjects:
        check_bucket(bucket)
        return cls(await _ensure(bus, bucket, description), bucket, bus, description)

    async def recover(self) -> None:
        self._store = await _ensure(self._bus, self._bucket, self._description)

    @property
    def kind(self) -> str:
        return "nats"

    @property
    def bucket(self) -> str:
        return self._bucket

    async def put(self, name: str, data: bytes) -> ObjectInfo:
        try:
            info = await self._store.put(name, data)
        except (nats_errors.Error, TimeoutError) as exc:
            raise Unavailable(
                f"could not store {name!r} in {self._bucket}: {exc or type(exc).__name__}"
            ) from None
        return ObjectInfo(name, int(info.size or 0), _hex(info.digest))

    async def get(self, name: str) -> bytes:
        try:
            result = await self._store.get(name)
        except (js_errors.ObjectNotFoundError, js_errors.ObjectDeletedError):
            raise NotFound(f"no object {name!r} in the {self._bucket} store") from None
        except js_errors.DigestMismatchError:
            raise IntegrityError(
                f"object {name!r} in {self._bucket} does not match the digest it was stored with",
                details={"object": name},
            ) from None
        except (nats_errors.Error, TimeoutError) as exc:
            raise Unavailable(
                f"could not fetch {name!r} from {self._bucket}: {exc or type(exc).__name__}"
            ) from None
        return bytes(result.data or b"")

    async def info(self, name: str) -> ObjectInfo | None:
        try:
            info = await self._store.get_info(name)
        except (js_errors.ObjectNotFoundError, js_errors.ObjectDeletedError, js_errors.NotFoundError):
            return None
        except (nats_errors.Error, TimeoutError) as exc:
            raise Unavailable(
                f"could not look up {name!r} in {self._bucket}: {exc or type(exc).__name__}"
            ) from None
        return ObjectInfo(name, int(info.size or 0), _hex(info.digest))

    async def delete(self, name: str) -> None:
        try:
            await self._store.delete(name)
        except (js_errors.ObjectNotFoundError, js_errors.ObjectDeletedError, js_errors.NotFoundError):
            return
        except (nats_errors.Error, TimeoutError) as exc:
            raise Unavailable(
                f"could not delete {name!r} from {self._bucket}: {exc or type(exc).__name__}"
            ) from None


async def _ensure(bus: NatsBus, bucket: str, description: str) -> JsObjectStore:
    js = bus.jetstream()

    async def create() -> JsObjectStore:
        try:
            return await js.create_object_store(
                bucket,
                config=api.ObjectStoreConfig(description=description, storage=api.StorageType.FILE),
            )
        except js_errors.BadRequestError:
            return await js.object_store(bucket)  # exists with other settings: use it as it is

    try:
        return await tried_again(create, what=f"object store {bucket}")
    except (nats_errors.Error, TimeoutError) as exc:
        raise Unavailable(
            f"JetStream did not serve the object store {bucket}: {exc or type(exc).__name__}"
        ) from None
