"""The prediction-log worker, in process on both kinds of bus: batching, idempotence, bad events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import pytest
from structlog.testing import capture_logs

from nbamcp import endpoints as ep
from nbamcp.actor import WorkerContext, open_context
from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import Config, EventsConfig, PathsConfig, PredlogConfig, load_config
from nbamcp.errors import ConfigError, Unavailable
from nbamcp.messages import GamesIngested, encode
from nbamcp.predlog.predictions import PredictionLog
from nbamcp.streams import publish_durable
from nbamcp.subjects import EVENTS_PREDICTION
from tests.predlog.conftest import prediction
from workers.predlog import CONSUMER, PredlogWorker

ACK_WAIT_S = 0.5


@dataclass
class Rig:
    config: Config
    bus: Bus
    ctx: WorkerContext

    @property
    def events(self) -> DurableStream:
        """The publishing side (the inference worker's role): the process's one stream."""
        return self.ctx.events

    def worker(self) -> PredlogWorker:
        return PredlogWorker(self.ctx)


def make_config(home: Path, **predlog: float) -> Config:
    return Config(
        paths=PathsConfig(home=str(home)),
        events=EventsConfig(ack_wait_s=ACK_WAIT_S, max_deliver=3),
        predlog=PredlogConfig(**predlog),  # type: ignore[arg-type]
    )


@pytest.fixture(params=["memory", "nats"])
async def rig_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., asyncio.Future[Rig]]]:
    made: list[Rig] = []
    url = request.getfixturevalue("nats_server").url if request.param == "nats" else ""

    async def make(**predlog: float) -> Rig:
        bus: Bus = InMemoryBus() if not url else await NatsBus.connect(url, drain_timeout=0.5)
        config = make_config(tmp_path / "home", **predlog)
        rig = Rig(config, bus, await stack.enter_async_context(open_context(bus, config)))
        made.append(rig)
        return rig

    async with AsyncExitStack() as stack:
        yield make  # type: ignore[misc]
        await stack.aclose()
        for rig in made:
            await rig.bus.close()


async def until_rows(worker: PredlogWorker, n: int, within_s: float = 15.0) -> None:
    async with asyncio.timeout(within_s):
        while worker.plog.rows < n:
            await worker.consumers[CONSUMER].wait_progress(within_s)


async def read_rows(path: Path) -> list[dict[str, object]]:
    async with aiosqlite.connect(path) as conn:
        conn.row_factory = aiosqlite.Row
        async with conn.execute("SELECT * FROM predictions ORDER BY id") as cur:
            return [dict(r) for r in await cur.fetchall()]


async def test_events_are_written_in_batches(rig_factory: Callable[..., asyncio.Future[Rig]]) -> None:
    rig = await rig_factory(batch_size=100, max_delay_s=0.2)
    for i in range(500):
        await publish_durable(
            rig.events, ep.PREDICTION_EVENTS, prediction(i, game_id=f"g{i}"), request_id=f"req-{i}"
        )
    worker = rig.worker()
    await worker.start()
    try:
        await until_rows(worker, 500)
        # Published before the worker started: the batches fill up.
        assert 5 <= worker.consumers[CONSUMER].batches <= 10
        assert worker.health().detail["rows"] == "500"
    finally:
        await worker.stop()
    rows = await read_rows(rig.config.predlog_path)
    assert [r["request_id"] for r in rows] == [f"req-{i:06d}" for i in range(500)]
    r = rows[7]
    assert (r["model_name"], r["model_version"], r["source"], r["client"]) == ("game", 1, "model", "test")
    assert (r["home"], r["away"], r["date"], r["game_id"], r["neutral"]) == (
        "BOS",
        "LAL",
        "2023-01-15",
        "g7",
        0,
    )
    assert json.loads(str(r["features"])) == pytest.approx([0.7, 1.0, -2.5])
    assert r["home_win_prob"] == pytest.approx(0.57) and r["latency_ms"] == pytest.approx(0.4)
    assert isinstance(r["stream_seq"], int)


async def test_a_partial_batch_is_written_after_max_delay(
    rig_factory: Callable[..., asyncio.Future[Rig]],
) -> None:
    rig = await rig_factory(batch_size=1000, max_delay_s=0.05)
    worker = rig.worker()
    await worker.start()
    try:
        for i in range(3):
            await publish_durable(rig.events, ep.PREDICTION_EVENTS, prediction(i))
        await until_rows(worker, 3, within_s=5)
    finally:
        await worker.stop()


async def test_a_redelivered_event_is_stored_once(rig_factory: Callable[..., asyncio.Future[Rig]]) -> None:
    rig = await rig_factory(batch_size=10, max_delay_s=0.05)
    event = prediction(1, request_id="same")
    # Three stream copies of one prediction (what redelivery after a crash looks like), plus the
    # same request served by another model version: two rows.
    for msg_id in ("copy-1", "copy-2", "copy-3"):
        await rig.events.publish(EVENTS_PREDICTION, encode(event), msg_id=msg_id)
    await publish_durable(rig.events, ep.PREDICTION_EVENTS, prediction(1, request_id="same", model_version=2))
    worker = rig.worker()
    await worker.start()
    try:
        await until_rows(worker, 2)
        async with asyncio.timeout(10):
            while worker.duplicates < 2:
                await worker.consumers[CONSUMER].wait_progress(10)
    finally:
        await worker.stop()
    rows = await read_rows(rig.config.predlog_path)
    assert sorted((r["request_id"], r["model_version"]) for r in rows) == [("same", 1), ("same", 2)]


async def test_bad_events_are_logged_and_dropped_not_redelivered(
    rig_factory: Callable[..., asyncio.Future[Rig]],
) -> None:
    rig = await rig_factory(batch_size=50, max_delay_s=0.05)
    games = GamesIngested(game_ids=[], teams=[], date_from="2023-01-01", date_to="2023-01-01")
    bad = [
        b"\xc1 not msgpack",
        encode(games),  # the wrong message on this subject
        encode(prediction(1, request_id="p>1", home_win_prob=1.5)),
        encode(prediction(2, request_id="same-team", away="BOS")),
        encode(prediction(3, request_id="bad-date", date="2023-02-30")),
        encode(prediction(4, request_id="")),
    ]
    for data in bad:
        await rig.events.publish(EVENTS_PREDICTION, data)
    await publish_durable(rig.events, ep.PREDICTION_EVENTS, prediction(5, request_id="good"))
    worker = rig.worker()
    with capture_logs() as logs:
        await worker.start()
        try:
            await until_rows(worker, 1)
        finally:
            await worker.stop()
    # Two do not decode (the actor base drops them), four are predictions that cannot be logged.
    assert (worker.failed, worker.bad) == (2, 4)
    assert sum(e["event"] == "actor.bad_event" for e in logs) == 2
    assert sum(e["event"] == "predlog.bad_event" for e in logs) == 4
    assert [r["request_id"] for r in await read_rows(rig.config.predlog_path)] == ["good"]
    # Nothing was left unsettled: the consumer has nothing to give, even past the ack wait.
    consumer = await rig.events.consumer(CONSUMER, EVENTS_PREDICTION)
    try:
        assert await consumer.fetch(10, timeout=ACK_WAIT_S + 0.5) == []
    finally:
        await consumer.close()


async def test_an_idle_worker_stops_promptly(rig_factory: Callable[..., asyncio.Future[Rig]]) -> None:
    rig = await rig_factory(batch_size=1000, max_delay_s=30.0)
    worker = rig.worker()
    await worker.start()
    await publish_durable(rig.events, ep.PREDICTION_EVENTS, prediction(1))
    async with asyncio.timeout(3):
        await worker.stop()
    assert worker.status == "stopped"


async def test_the_log_file_is_migrated_once_and_newer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "predlog.sqlite"
    plog = await PredictionLog.open(path)
    assert await plog.write([(prediction(1), 1), (prediction(2), 2)]) == 2
    assert await plog.write([(prediction(1), 3)]) == 0  # the same prediction again
    await plog.close()
    plog = await PredictionLog.open(path)
    assert plog.rows == 2
    await plog.close()
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA user_version = 7")
        await conn.commit()
    with pytest.raises(Unavailable, match="newer than this code"):
        await PredictionLog.open(path)


async def test_one_commit_per_row_stores_the_same_rows(tmp_path: Path) -> None:
    batched = await PredictionLog.open(tmp_path / "a.sqlite")
    each = await PredictionLog.open(tmp_path / "b.sqlite")
    events = [(prediction(i), i) for i in range(20)]
    try:
        assert await batched.write(events) == await each.write_each(events) == 20
    finally:
        await batched.close()
        await each.close()
    a = [{k: v for k, v in r.items() if k != "logged_at"} for r in await read_rows(tmp_path / "a.sqlite")]
    b = [{k: v for k, v in r.items() if k != "logged_at"} for r in await read_rows(tmp_path / "b.sqlite")]
    assert a == b


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[predlog]\nbatch_size = 0\n", "predlog.batch_size"),
        ("[predlog]\nmax_delay_s = -1\n", "predlog.max_delay_s"),
        ("[monitor]\nbatch_size = 'many'\n", "monitor.batch_size"),
        ("[events]\nmax_deliver = 0\n", "events.max_deliver"),
        ("[predlog]\nbatchsize = 10\n", "batchsize"),
    ],
)
def test_bad_settings_are_refused_with_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=needle):
        load_config(f, environ={})
