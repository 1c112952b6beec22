"""The object store contract: every test runs on the in-process twin and on a JetStream Object Store."""

from __future__ import annotations

import hashlib
import os

import pytest

from nbamcp.bus.objects import get_verified, put_content
from nbamcp.bus.stores import Stores
from nbamcp.errors import IntegrityError, InvalidInput, NotFound


async def test_put_get_info_delete(stores: Stores) -> None:
    store = await stores.objects("contract-objects")
    assert await store.info("a") is None
    with pytest.raises(NotFound, match="no object 'a'"):
        await store.get("a")
    data = os.urandom(300_000)  # several 128 KiB chunks on NATS
    info = await store.put("a", data)
    assert (info.name, info.size, info.sha256) == ("a", len(data), hashlib.sha256(data).hexdigest())
    assert await store.get("a") == data
    assert await store.info("a") == info
    await store.put("a", b"replaced")
    assert await store.get("a") == b"replaced"
    await store.delete("a")
    assert await store.info("a") is None
    await store.delete("a")  # idempotent


async def test_a_large_object_travels_whole(stores: Stores) -> None:
    store = await stores.objects("big-objects")
    data = os.urandom(3 * 1024 * 1024)  # three times the bus's largest message
    info = await put_content(store, data)
    assert info.name == hashlib.sha256(data).hexdigest()
    assert await get_verified(store, info.name, size=len(data)) == data
    assert await put_content(store, data) == info  # the same bytes again: nothing to do


async def test_content_that_does_not_hash_to_its_name_is_refused(stores: Stores) -> None:
    store = await stores.objects("tampered-objects")
    good = b"the model the trainer registered"
    sha = hashlib.sha256(good).hexdigest()
    await store.put(sha, b"something else under its name")
    with pytest.raises(IntegrityError, match="hashes to") as err:
        await get_verified(store, sha)
    assert err.value.code == "integrity" and err.value.details["sha256"] == sha
    await store.put(sha, good)
    with pytest.raises(IntegrityError, match=f"{len(good)} bytes, 5 were recorded"):
        await get_verified(store, sha, size=5)
    assert await get_verified(store, sha, size=len(good)) == good
    with pytest.raises(NotFound, match="re-uploads"):
        await get_verified(store, "0" * 64)
    with pytest.raises(InvalidInput, match="sha256"):
        await get_verified(store, "not-a-digest")
