"""The actor base: dispatch, the error boundary, concurrency, graceful stop, health."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from nbamcp.actor import Actor, Context, Route
from nbamcp.bus import REQUEST_ID_HEADER, InMemoryBus, Msg
from nbamcp.endpoints import Endpoint, Event
from nbamcp.errors import NotFound
from nbamcp.messages import ErrorReply, HealthPing, HealthReport, Message, decode, encode


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

    def __init__(self, bus: InMemoryBus, **kw: object) -> None:
        super().__init__(bus, **kw)  # type: ignore[arg-type]
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


async def call(bus: InMemoryBus, req: msgspec.Struct, rid: str = "rid-1", timeout: float = 5) -> Reply:
    msg = await bus.request("test.echo", encode(req), timeout=timeout, headers={REQUEST_ID_HEADER: rid})
    assert msg.headers.get(REQUEST_ID_HEADER) == rid
    return decode(msg.data, Reply)  # type: ignore[arg-type]


async def test_reply_and_request_id_flow_through_events(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
    await actor.start()
    events: asyncio.Queue[Msg] = asyncio.Queue()
    await bus.subscribe("test.events", events.put)
    reply = await call(bus, Echo(text="hi"), rid="abc")
    assert reply == Echoed(text="hi", request_id="abc")
    async with asyncio.timeout(5):
        event = await events.get()
    assert event.headers[REQUEST_ID_HEADER] == "abc"
    await actor.stop()


async def test_malformed_message_gets_invalid_input(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
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


async def test_errors_become_error_replies_with_request_id(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
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


async def test_concurrency_limit_holds(bus: InMemoryBus) -> None:
    actor = EchoActor(bus, concurrency=3)
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


async def test_graceful_stop_finishes_inflight_then_closes(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
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


async def test_stop_deadline_cancels_stragglers(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
    await actor.start()
    pending = asyncio.create_task(call(bus, Wait(key="never"), timeout=5))
    async with asyncio.timeout(5):
        await actor.entered.get()
        await actor.stop(deadline_s=0.05)
    assert actor.status == "stopped" and actor.finished == []
    pending.cancel()


async def test_health_answers_on_broadcast_and_named_subjects(bus: InMemoryBus) -> None:
    actor = EchoActor(bus)
    await actor.start()
    for subject in ("nba.health", "nba.health.echo"):
        msg = await bus.request(subject, encode(HealthPing()), timeout=5)
        report = decode(msg.data, HealthReport)
        assert report.name == "echo" and report.status == "ok" and report.bus == "memory"
        assert report.subjects == ["test.echo"]
    await actor.stop()
