"""The model source: registry facts from the trainer, artifacts from the model store, verified.

Each test runs on the in-process twins (one process) and on a real nats-server (JetStream
Object Store), with the trainer and the receiver on separate connections.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from nbamcp.bus.base import Bus
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.errors import IntegrityError, Unavailable
from nbamcp.serving.model_source import BusModelSource
from tests.serving.conftest import WAIT, Home, Models, make_trainer, register, running


@pytest.fixture(params=["memory", "nats"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    """(the trainer's bus, the receiver's bus): one bus in process, two connections on NATS."""
    if request.param == "memory":
        bus = InMemoryBus()
        yield bus, bus
        await bus.close()
        return
    url = request.getfixturevalue("nats_server").url
    a, b = await NatsBus.connect(url, drain_timeout=0.5), await NatsBus.connect(url, drain_timeout=0.5)
    yield a, b
    await a.close()
    await b.close()


async def source_for(bus: Bus, home: Home, cache: str = "receiver-cache") -> BusModelSource:
    ctx = await home.context(bus, home.config())
    objects = await ctx.stores.objects(ctx.config.data.models_bucket)
    return BusModelSource(bus, objects, home.root / cache, worker="receiver", timeout_s=WAIT)


async def test_the_champion_travels_verified_and_is_kept(
    buses: tuple[Bus, Bus], home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias="challenger")
    source = await source_for(buses[1], home)
    async with running(await make_trainer(buses[0], home)):
        serving = await source.serving("game")
        assert serving.aliases == {"champion": 1, "challenger": 2}
        champion = serving.version("champion")
        assert (
            champion is not None
            and champion.artifact_sha256 == hashlib.sha256(models.lr1.onnx_bytes).hexdigest()
        )
        assert await source.artifact(champion) == models.lr1.onnx_bytes
        assert not source.last_known
    # The trainer is gone: the receiver still knows what served, and has the bytes in its own home.
    again = await source.serving("game")
    assert source.last_known and again == serving
    assert await source.artifact(champion) == models.lr1.onnx_bytes
    files = sorted(p.name for p in (home.root / "receiver-cache").rglob("*") if p.is_file())
    assert files == sorted([champion.artifact_sha256, "receiver-serving-game.msgpack"])


async def test_nothing_known_and_no_trainer_is_unavailable(buses: tuple[Bus, Bus], home: Home) -> None:
    source = await source_for(buses[1], home)
    with pytest.raises(Unavailable, match="trainer"):
        await source.serving("game")


async def test_the_trainer_restores_a_model_store_that_lost_its_objects(
    buses: tuple[Bus, Bus], home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    source = await source_for(buses[1], home)
    async with running(await make_trainer(buses[0], home)):
        v = (await source.serving("game")).version("champion")
        assert v is not None
    objects = await (await home.context(buses[0], home.config())).stores.objects("nbamcp-models")
    await objects.delete(v.artifact_sha256)  # the server lost its state
    trainer = await make_trainer(buses[0], home)
    async with running(trainer):  # a start reconciles: the artifact is back
        fresh = await source_for(buses[1], home, cache="empty-cache")  # nothing cached
        assert await fresh.artifact(v) == models.lr1.onnx_bytes
        assert trainer.door.uploaded == 1


async def test_bytes_that_are_not_the_recorded_ones_are_refused(
    buses: tuple[Bus, Bus], home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    source = await source_for(buses[1], home)
    async with running(await make_trainer(buses[0], home)):
        v = (await source.serving("game")).version("champion")
        assert v is not None
        objects = await (await home.context(buses[1], home.config())).stores.objects("nbamcp-models")
        await objects.put(v.artifact_sha256, models.lr2.onnx_bytes)
        with pytest.raises(IntegrityError, match="refusing it") as err:
            await source.artifact(v)
        assert err.value.code == "integrity"
