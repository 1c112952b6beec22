"""The actor base: dispatch, the error boundary, concurrency, graceful stop, health."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext, open_context
from nbamcp.actor.batching import BatchLoop
from nbamcp.bus import REQUEST_ID_HEADER, InMemoryBus, Msg
from nbamcp.bus.durable_sqlite import SqliteEvents
from nbamcp.config import Config, PathsConfig, WorkersConfig
from nbamcp.endpoints import Endpoint, Event
from nbamcp.errors import NotFound, Unavailable
from nbamcp.messages import ErrorReply, HealthPing, HealthReport, Message, decode, encode
from nbamcp.subjects import EVENTS_PREDICTION
from tests.predlog.conftest import TEST_SETTINGS
from workers import WORKERS, build_worker


class Echo(Message, frozen=True):
    text: str


class Boom(Message, frozen=True):
    kind: str


class Wait(Message, frozen=True):
    key: str


class Echoed(Message, frozen=True):
    text: str
    request_id: str


Reply = Echoed | ErrorReply
ECHO = Endpoint("test.echo", Echo | Boom | Wait, Echoed, "echo")
ECHOED = Event("test.events", Echoed)


class EchoActor(Actor):
    name = "echo"

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.gates: dict[str, asyncio.Event] = {}
        self.running = 0
        self.max_running = 0
        self.stopped_after: list[str] = []
        self.finished: list[str] = []
        self.entered: asyncio.Queue[str] = asyncio.Queue()

    def routes(self) -> list[Route]:
        return [Route(ECHO, self.handle)]

    async def handle(self, req: Echo | Boom | Wait, ctx: Context) -> msgspec.Struct | None:
        match req:
            case Echo(text=text):
                await ctx.publish(ECHOED, Echoed(text=text, request_id=ctx.request_id))
                return Echoed(text=text, request_id=ctx.request_id)
            case Boom(kind="known"):
                raise NotFound("no such thing", details={"suggestions": "a, b"})
            case Boom():
                raise RuntimeError("a bug")
            case Wait(key=key):
                self.running += 1
                self.max_running = max(self.max_running, self.running)
                self.entered.put_nowait(key)
                try:
                    await self.gates.setdefault(key, asyncio.Event()).wait()
                finally:
                    self.running -= 1
                self.finished.append(key)
                return Echoed(text=key, request_id=ctx.request_id)
        return None

    async def on_stop(self) -> None:
        self.stopped_after = list(self.finished)


@pytest.fixture
async def bus():
    b = InMemoryBus()
    yield b
    await b.close()


@pytest.fixture
async def ctx(bus: InMemoryBus, tmp_path: Path) -> AsyncIterator[WorkerContext]:
    async with open_context(bus, config_for(tmp_path)) as c:
        yield c


def config_for(home: Path, **workers: object) -> Config:
    return Config(paths=PathsConfig(home=str(home)), workers=WorkersConfig(**workers))  # type: ignore[arg-type]


def with_workers(ctx: WorkerContext, **workers: object) -> WorkerContext:
    return dataclasses.replace(ctx, config=config_for(ctx.home, **workers))


async def call(bus: InMemoryBus, req: msgspec.Struct, rid: str = "rid-1", timeout: float = 5) -> Reply:
    msg = await bus.request("test.echo", encode(req), timeout=timeout, headers={REQUEST_ID_HEADER: rid})
    assert msg.headers.get(REQUEST_ID_HEADER) == rid
    return decode(msg.data, Reply)  # type: ignore[arg-type]


async def test_reply_and_request_id_flow_through_events(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    events: asyncio.Queue[Msg] = asyncio.Queue()
    await bus.subscribe("test.events", events.put)
    reply = await call(bus, Echo(text="hi"), rid="abc")
    assert reply == Echoed(text="hi", request_id="abc")
    async with asyncio.timeout(5):
        event = await events.get()
    assert event.headers[REQUEST_ID_HEADER] == "abc"
    await actor.stop()


async def test_malformed_message_gets_invalid_input(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    for raw in (
        b"\xc1",
        encode(HealthReport(name="x", instance="x", status="ok", version="1", uptime_s=0, bus="m")),
    ):
        msg = await bus.request("test.echo", raw, timeout=5)
        reply = decode(msg.data, ErrorReply)
        assert reply.code == "invalid_input"
        assert "test.echo" in reply.message
    await actor.stop()


async def test_errors_become_error_replies_with_request_id(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    known = await call(bus, Boom(kind="known"))
    assert known == ErrorReply(code="not_found", message="no such thing", details={"suggestions": "a, b"})
    with capture_logs(processors=[merge_contextvars]) as logs:
        crash = await call(bus, Boom(kind="bug"), rid="rid-crash")
    assert isinstance(crash, ErrorReply) and crash.code == "internal"
    assert "rid-crash" in crash.message and "a bug" not in crash.message
    crashed = [e for e in logs if e["event"] == "actor.handler_crashed"]
    assert crashed and crashed[0]["request_id"] == "rid-crash" and crashed[0]["actor"] == "echo"
    # The worker survives its bug.
    assert await call(bus, Echo(text="still here")) == Echoed(text="still here", request_id="rid-1")
    assert actor.failed == 2
    await actor.stop()


async def test_concurrency_limit_holds(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(with_workers(ctx, concurrency=3))
    await actor.start()
    keys = [f"k{i}" for i in range(8)]
    calls = [asyncio.create_task(call(bus, Wait(key=k))) for k in keys]
    async with asyncio.timeout(5):
        for _ in range(3):
            await actor.entered.get()
    # The other five wait for a slot; a health round trip lets the loop run them if it could.
    await bus.request("nba.health.echo", encode(HealthPing()), timeout=5)
    assert actor.running == 3 and actor.entered.empty()
    for k in keys:
        actor.gates.setdefault(k, asyncio.Event()).set()
    async with asyncio.timeout(5):
        replies = await asyncio.gather(*calls)
    assert sorted(r.text for r in replies) == sorted(keys)
    assert actor.max_running == 3
    await actor.stop()


async def test_graceful_stop_finishes_inflight_then_closes(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    pending = asyncio.create_task(call(bus, Wait(key="slow")))
    async with asyncio.timeout(5):
        await actor.entered.get()
    stopping = asyncio.create_task(actor.stop(deadline_s=5))
    await asyncio.sleep(0)  # let stop() begin: it must now wait for the gate
    assert actor.status == "stopping" and not stopping.done()
    actor.gates["slow"].set()
    async with asyncio.timeout(5):
        reply = await pending
        await stopping
    assert reply.text == "slow"
    assert actor.stopped_after == ["slow"]  # on_stop ran after the in-flight message ended
    assert actor.status == "stopped"


async def test_stop_deadline_cancels_stragglers(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    pending = asyncio.create_task(call(bus, Wait(key="never"), timeout=5))
    async with asyncio.timeout(5):
        await actor.entered.get()
        await actor.stop(deadline_s=0.05)
    assert actor.status == "stopped" and actor.finished == []
    pending.cancel()


async def test_health_answers_on_broadcast_and_named_subjects(bus: InMemoryBus, ctx: WorkerContext) -> None:
    actor = EchoActor(ctx)
    await actor.start()
    for subject in ("nba.health", "nba.health.echo"):
        msg = await bus.request(subject, encode(HealthPing()), timeout=5)
        report = decode(msg.data, HealthReport)
        assert report.name == "echo" and report.status == "ok" and report.bus == "memory"
        assert report.subjects == ["test.echo"]
    await actor.stop()


# ---- resources, background tasks, durable routes, one stop deadline -------------------------------
class Resource:
    """Something an actor opens in on_start; records its closing."""

    def __init__(self, name: str, closed: list[str]) -> None:
        self.name = name
        self._closed = closed

    async def __aenter__(self) -> Resource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed.append(self.name)


class Owner(Actor):
    """Opens two resources and a background task; ``fail_at`` makes on_start fail halfway."""

    name = "owner"

    def __init__(self, ctx: WorkerContext, *, fail_at: str = "", slow_stop_s: float = 0.0) -> None:
        super().__init__(ctx)
        self.closed: list[str] = []
        self.fail_at = fail_at
        self.slow_stop_s = slow_stop_s
        self.batches: list[list[str]] = []
        self.task_cancelled = asyncio.Event()

    def durable_routes(self) -> list[DurableRoute]:
        return [DurableRoute([NOTES], "owner", self.on_notes, batch_size=10, max_delay_s=0.01)]

    async def on_start(self) -> None:
        await self.enter(Resource("db", self.closed))
        if self.fail_at == "after-db":
            raise Unavailable("the model is missing")
        self.close_with(self._close_session)
        self.spawn(self._forever(), name="forever")

    async def _close_session(self) -> None:
        self.closed.append("session")

    async def _forever(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.task_cancelled.set()
            raise

    async def on_notes(self, batch: list[Delivery[Note]]) -> None:
        self.batches.append([d.event.text for d in batch])

    async def on_stop(self) -> None:
        # A flush that would take longer than the deadline leaves: remaining_s() says how long it has.
        await asyncio.sleep(min(self.slow_stop_s, self.remaining_s()))
        self.closed.append("flushed")


class Note(Message, frozen=True):
    text: str


NOTES = Event("nba.events.note", Note, durable=True)


async def test_resources_close_in_reverse_after_the_flush(ctx: WorkerContext) -> None:
    actor = Owner(ctx)
    await actor.start()
    await actor.stop()
    assert actor.closed == ["flushed", "session", "db"]
    assert actor.task_cancelled.is_set() and actor.status == "stopped"


async def test_a_start_failing_halfway_closes_what_it_opened(ctx: WorkerContext) -> None:
    actor = Owner(ctx, fail_at="after-db")
    with pytest.raises(Unavailable, match="model is missing"):
        await actor.start()
    assert actor.closed == ["flushed", "db"] and actor.status == "failed"
    await actor.stop()  # nothing left to do, and no error
    assert actor.closed == ["flushed", "db"]


async def test_durable_routes_run_under_the_base(ctx: WorkerContext) -> None:
    actor = Owner(ctx)
    await actor.start()
    try:
        with capture_logs() as logs:
            await ctx.events.publish(NOTES.subject, encode(Note(text="a")))
            await ctx.events.publish(NOTES.subject, b"\xc1 not msgpack")
            await ctx.events.publish(NOTES.subject, encode(Note(text="b")))
            async with asyncio.timeout(10):
                while sum(map(len, actor.batches)) < 2:
                    await actor.consumers["owner"].wait_progress(10)
        assert [t for b in actor.batches for t in b] == ["a", "b"]
        assert (actor.handled, actor.failed) == (2, 1)
        assert [e["seq"] for e in logs if e["event"] == "actor.bad_event"] == [2]
    finally:
        await actor.stop()
    # Everything was settled: a new handle on the consumer gets nothing, the bad one included.
    consumer = await ctx.events.consumer("owner", NOTES.subject)
    assert await consumer.fetch(10, timeout=0.3) == []
    await consumer.close()


async def test_a_stop_takes_at_most_one_deadline(ctx: WorkerContext) -> None:
    actor = Owner(with_workers(ctx, stop_deadline_s=0.5), slow_stop_s=30.0)
    echo = EchoActor(with_workers(ctx, stop_deadline_s=0.5))
    await actor.start()
    await echo.start()
    stuck = asyncio.create_task(call(echo.bus, Wait(key="never"), timeout=10))
    async with asyncio.timeout(5):
        await echo.entered.get()
    loop = asyncio.get_running_loop()
    started = loop.time()
    # In-flight work, a slow flush and a background task: all within the one deadline.
    await asyncio.gather(actor.stop(), echo.stop())
    assert loop.time() - started < 0.5 + 1.5  # the deadline, plus the cancellation grace at most
    assert actor.closed == ["flushed", "session", "db"] and echo.finished == []
    stuck.cancel()


def test_the_factory_builds_every_worker_from_a_context(tmp_path: Path) -> None:
    async def build() -> list[str]:
        async with open_context(InMemoryBus(), config_for(tmp_path)) as c:
            return [build_worker(c, name).name for name in WORKERS]

    assert asyncio.run(build()) == list(WORKERS)


class Size(Message, frozen=True):
    n: int


BIG = Endpoint("test.big", Size, Echoed, "big")


class BigActor(Actor):
    name = "big"

    def routes(self) -> list[Route]:
        return [Route(BIG, self.handle)]

    async def handle(self, req: Size, ctx: Context) -> msgspec.Struct:
        return Echoed(text="x" * req.n, request_id=ctx.request_id)


async def test_a_reply_too_large_for_the_bus_is_an_error_reply_not_a_timeout(
    bus: InMemoryBus, ctx: WorkerContext
) -> None:
    actor = BigActor(ctx)
    await actor.start()
    try:
        # Far shorter than the caller's deadline: the requester hears why at once.
        msg = await bus.request("test.big", encode(Size(n=2 * 2**20)), timeout=60)
        reply = decode(msg.data, ErrorReply)
        assert reply.code == "payload_too_large" and "the reply is too large" in reply.message
        small = decode((await bus.request("test.big", encode(Size(n=10)), timeout=60)).data, Echoed)
        assert small.text == "x" * 10
    finally:
        await actor.stop()


async def test_wait_progress_after_a_count_does_not_wait_for_a_batch_already_handled(tmp_path: Path) -> None:
    # The lost wake-up: a test read a count, awaited something (a status request) while the batch
    # was handled, then waited for "the next batch", which never came, for its whole deadline.
    ev = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    handled = asyncio.Event()

    async def handler(batch: list[Any]) -> None:
        handled.set()

    batches = BatchLoop(
        await ev.consumer("w", EVENTS_PREDICTION), handler, batch_size=8, max_delay_s=0.01, name="w"
    )
    batches.start()
    try:
        seen = batches.batches
        await ev.publish(EVENTS_PREDICTION, b"e1")
        async with asyncio.timeout(60):
            await handled.wait()
            while batches.batches == seen:  # acked just after the handler: one more turn of the loop
                await batches.wait_progress(60)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await batches.wait_progress(60, after=seen)  # returns at once: a batch came after `seen`
        assert loop.time() - t0 < 30
    finally:
        batches.request_stop()
        if batches.task is not None:
            await batches.task
        await ev.close()
