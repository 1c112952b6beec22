"""The bus contract: every test runs against InMemoryBus and NatsBus (a real nats-server).

See ``nbamcp/bus/base.py`` for the semantics. Waits are bounded; "nothing
more arrives" is checked after request/reply round trips (``barrier``), never
after a sleep.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from nbamcp.bus.base import REQUEST_ID_HEADER, TRACEPARENT_HEADER, Bus, Msg, Subscription
from nbamcp.errors import (
    BusClosed,
    BusError,
    BusTimeout,
    InvalidSubject,
    NoResponders,
    PayloadTooLarge,
)
from tests.bus.conftest import BusFactory, Recorder, barrier


async def echo(msg: Msg) -> None:
    await msg.respond(msg.data)


# ---- fan-out: queue groups and plain subscribers --------------------------------------------------
async def test_queue_group_delivers_each_message_to_exactly_one_member(peers: list[Bus]) -> None:
    n = 300
    members = [Recorder(f"m{i}") for i in range(4)]
    for i, member in enumerate(members):
        await peers[i % len(peers)].subscribe("work.items", member, queue="workers")
    bus = peers[0]
    await barrier(*peers)
    for i in range(n):
        await bus.publish("work.items", str(i).encode())
    async with asyncio.timeout(10):
        while sum(len(m.msgs) for m in members) < n:
            await barrier(*peers)
    await barrier(*peers)
    got = [d for m in members for d in m.data]
    assert len(got) == n
    assert sorted(got, key=int) == [str(i).encode() for i in range(n)]
    # Spread over the members (random choice: all four get some of 300).
    assert all(m.msgs for m in members)


async def test_plain_subscribers_each_get_every_message(peers: list[Bus]) -> None:
    n = 200
    subs = [Recorder(f"s{i}") for i in range(3)]
    for i, rec in enumerate(subs):
        await peers[i].subscribe("news.all", rec)
    await barrier(*peers)
    for i in range(n):
        await peers[0].publish("news.all", str(i).encode())
    for rec in subs:
        await rec.wait_for(n)
    await barrier(*peers)
    for rec in subs:
        assert rec.data == [str(i).encode() for i in range(n)]


async def test_queue_group_and_plain_subscribers_together(peers: list[Bus]) -> None:
    n = 150
    plain = [Recorder("p0"), Recorder("p1")]
    group = [Recorder("g0"), Recorder("g1"), Recorder("g2")]
    for i, rec in enumerate(plain):
        await peers[i].subscribe("mix.subject", rec)
    for i, rec in enumerate(group):
        await peers[i].subscribe("mix.subject", rec, queue="g")
    await barrier(*peers)
    for i in range(n):
        await peers[2].publish("mix.subject", str(i).encode())
    for rec in plain:
        await rec.wait_for(n)
    async with asyncio.timeout(10):
        while sum(len(g.msgs) for g in group) < n:
            await barrier(*peers)
    await barrier(*peers)
    assert all(len(rec.msgs) == n for rec in plain)
    assert sorted((d for g in group for d in g.data), key=int) == [str(i).encode() for i in range(n)]


async def test_two_queue_groups_each_get_every_message_once(bus: Bus) -> None:
    a, b = [Recorder(), Recorder()], [Recorder(), Recorder()]
    for rec in a:
        await bus.subscribe("two.groups", rec, queue="a")
    for rec in b:
        await bus.subscribe("two.groups", rec, queue="b")
    for i in range(50):
        await bus.publish("two.groups", str(i).encode())
    async with asyncio.timeout(10):
        while sum(len(r.msgs) for r in a) < 50 or sum(len(r.msgs) for r in b) < 50:
            await barrier(bus)
    await barrier(bus)
    assert sum(len(r.msgs) for r in a) == 50
    assert sum(len(r.msgs) for r in b) == 50


# ---- wildcards ----------------------------------------------------------------------------------
async def test_wildcards_match_and_do_not_match(bus: Bus) -> None:
    patterns = {
        "w.*": ["w.a"],
        "w.>": ["w.a", "w.a.b", "w.a.c", "w.x.c", "w.a.b.c"],
        "w.a.*": ["w.a.b", "w.a.c"],
        "w.*.c": ["w.a.c", "w.x.c"],
    }
    markers = {"w.*": "w.end", "w.>": "w.end", "w.a.*": "w.a.end", "w.*.c": "w.end.c"}
    recs = {p: Recorder(p) for p in patterns}
    for pattern, rec in recs.items():
        await bus.subscribe(pattern, rec)
    for subject in ["w.a", "w.a.b", "w.a.c", "w.x.c", "w", "x.a", "x.w.a", "w.a.b.c"]:
        await bus.publish(subject, subject.encode())
    for marker in sorted(set(markers.values())):
        await bus.publish(marker, b"end")
    for pattern, rec in recs.items():
        async with asyncio.timeout(5):
            while markers[pattern] not in [m.subject for m in rec.msgs]:
                await rec.wait_for(len(rec.msgs) + 1)
    for pattern, rec in recs.items():
        got = [m.subject for m in rec.msgs if m.data != b"end"]
        assert got == patterns[pattern], pattern


# ---- request / reply ----------------------------------------------------------------------------
async def test_request_reply(bus: Bus) -> None:
    async def upper(msg: Msg) -> None:
        await msg.respond(msg.data.upper())

    await bus.subscribe("svc.upper", upper, queue="svc")
    async with asyncio.timeout(5):
        reply = await bus.request("svc.upper", b"hello", timeout=2)
    assert reply.data == b"HELLO"


async def test_concurrent_requests_get_their_own_replies(peers: list[Bus]) -> None:
    for p in peers:
        await p.subscribe("svc.echo", echo, queue="svc")
    await barrier(*peers)
    async with asyncio.timeout(10):
        replies = await asyncio.gather(
            *(peers[0].request("svc.echo", str(i).encode(), timeout=5) for i in range(200))
        )
    assert [r.data for r in replies] == [str(i).encode() for i in range(200)]


async def test_request_timeout_when_nobody_answers(bus: Bus) -> None:
    silent = Recorder()
    await bus.subscribe("svc.silent", silent)
    await bus.flush()
    start = time.monotonic()
    async with asyncio.timeout(5):
        with pytest.raises(BusTimeout, match=r"svc\.silent.*0\.2s"):
            await bus.request("svc.silent", b"?", timeout=0.2)
    assert 0.15 <= time.monotonic() - start < 2
    assert silent.data == [b"?"]


async def test_short_request_timeout(bus: Bus) -> None:
    await bus.subscribe("svc.silent", Recorder())
    await bus.flush()
    async with asyncio.timeout(5):
        with pytest.raises(BusTimeout):
            await bus.request("svc.silent", b"?", timeout=0.01)


async def test_no_responders_fails_fast(bus: Bus) -> None:
    start = time.monotonic()
    async with asyncio.timeout(5):
        with pytest.raises(NoResponders, match=r"nobody\.home"):
            await bus.request("nobody.home", b"?", timeout=10)
    assert time.monotonic() - start < 1.0


async def test_bad_request_timeout_is_refused(bus: Bus) -> None:
    await bus.subscribe("svc.echo", echo)
    with pytest.raises(BusError, match="timeout"):
        await bus.request("svc.echo", b"", timeout=0)


async def test_headers_round_trip(bus: Bus) -> None:
    seen: list[dict[str, str]] = []

    async def responder(msg: Msg) -> None:
        seen.append(dict(msg.headers))
        await msg.respond(
            b"ok", headers={"X-Reply": "yes", REQUEST_ID_HEADER: msg.headers[REQUEST_ID_HEADER]}
        )

    await bus.subscribe("svc.hdr", responder)
    sent = {
        REQUEST_ID_HEADER: "rid-123",
        TRACEPARENT_HEADER: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    async with asyncio.timeout(5):
        reply = await bus.request("svc.hdr", b"?", timeout=2, headers=sent)
    assert seen == [sent]
    assert reply.headers == {"X-Reply": "yes", REQUEST_ID_HEADER: "rid-123"}

    rec = Recorder()
    await bus.subscribe("evt.hdr", rec)
    await bus.publish("evt.hdr", b"e", headers={"A-B": "c"})
    await bus.publish("evt.hdr", b"f")
    await rec.wait_for(2)
    assert [m.headers for m in rec.msgs] == [{"A-B": "c"}, {}]


async def test_invalid_header_name_is_refused(bus: Bus) -> None:
    with pytest.raises(BusError, match="header name"):
        await bus.publish("evt.x", b"", headers={"bad name": "v"})


async def test_ordering_from_one_publisher(bus: Bus) -> None:
    rec = Recorder()
    await bus.subscribe("ordered.stream", rec)
    n = 1000
    for i in range(n):
        await bus.publish("ordered.stream", i.to_bytes(4, "big"))
    await rec.wait_for(n, within_s=10)
    assert [int.from_bytes(d, "big") for d in rec.data] == list(range(n))


# ---- limits ---------------------------------------------------------------------------------------
async def test_payload_limit(bus: Bus) -> None:
    limit = bus.max_payload
    assert limit == 1024 * 1024
    rec = Recorder()
    await bus.subscribe("big.data", rec)
    await bus.publish("big.data", b"x" * limit)
    await rec.wait_for(1)
    assert len(rec.msgs[0].data) == limit

    with pytest.raises(PayloadTooLarge, match=rf"{limit + 1} bytes.*at most {limit}"):
        await bus.publish("big.data", b"x" * (limit + 1))
    # Headers count towards the limit, as the NATS server counts them.
    with pytest.raises(PayloadTooLarge, match=rf"at most {limit}"):
        await bus.publish("big.data", b"x" * limit, headers={REQUEST_ID_HEADER: "r"})
    with pytest.raises(PayloadTooLarge):
        await bus.request("big.data", b"x" * (limit + 1), timeout=1)
    # The connection is still fine afterwards.
    await bus.publish("big.data", b"after")
    await rec.wait_for(2)
    assert rec.data[1] == b"after"


async def test_slow_consumer_drops_and_logs(bus_factory: BusFactory) -> None:
    limit = 5
    bus = await bus_factory(pending_limit=limit)
    release = asyncio.Event()
    started = asyncio.Event()
    got: list[bytes] = []

    async def slow(msg: Msg) -> None:
        got.append(msg.data)
        started.set()
        await release.wait()

    sub = await bus.subscribe("slow.sub", slow)
    await bus.publish("slow.sub", b"first")
    async with asyncio.timeout(5):
        await started.wait()
    with capture_logs() as logs:
        for i in range(limit + 3):
            await bus.publish("slow.sub", str(i).encode())
        await barrier(bus)
    assert sub.dropped == 3  # type: ignore[attr-defined]
    assert any(e["event"] == "bus.slow_consumer" and e["log_level"] == "error" for e in logs)
    release.set()
    async with asyncio.timeout(5):
        while len(got) < limit + 1:
            await barrier(bus)
    assert got == [b"first", *(str(i).encode() for i in range(limit))]


# ---- subjects -------------------------------------------------------------------------------------
@pytest.mark.parametrize("subject", ["", "a..b", ".a", "a.", "a.*", "a.>", "*", "a b", "a\tb", "a\r\nb"])
async def test_invalid_publish_subjects(bus: Bus, subject: str) -> None:
    with pytest.raises(InvalidSubject):
        await bus.publish(subject, b"")
    with pytest.raises(InvalidSubject):
        await bus.request(subject, b"", timeout=1)


@pytest.mark.parametrize("subject", ["", "a..b", "a.>.b", ">.a", "a*", "a.b>", "a b"])
async def test_invalid_subscribe_subjects(bus: Bus, subject: str) -> None:
    with pytest.raises(InvalidSubject):
        await bus.subscribe(subject, echo)


async def test_invalid_queue_and_reply(bus: Bus) -> None:
    with pytest.raises(InvalidSubject, match="queue"):
        await bus.subscribe("a.b", echo, queue="two words")
    with pytest.raises(InvalidSubject):
        await bus.publish("a.b", b"", reply="inbox.*")


# ---- subscription lifecycle -------------------------------------------------------------------------
async def test_unsubscribe_stops_delivery(bus: Bus) -> None:
    rec = Recorder()
    sub = await bus.subscribe("unsub.me", rec)
    await bus.publish("unsub.me", b"1")
    await rec.wait_for(1)
    await sub.unsubscribe()
    await sub.unsubscribe()  # idempotent
    await bus.publish("unsub.me", b"2")
    with pytest.raises(NoResponders):
        await bus.request("unsub.me", b"3", timeout=2)
    await barrier(bus)
    assert rec.data == [b"1"]


async def test_callback_exception_does_not_kill_the_subscription(bus: Bus) -> None:
    rec = Recorder()

    async def flaky(msg: Msg) -> None:
        if msg.data == b"boom":
            raise ValueError("boom")
        await rec(msg)

    await bus.subscribe("flaky.sub", flaky)
    with capture_logs() as logs:
        await bus.publish("flaky.sub", b"boom")
        await bus.publish("flaky.sub", b"after")
        await rec.wait_for(1)
    assert rec.data == [b"after"]
    assert any(e["event"] == "bus.callback_failed" for e in logs)


async def test_respond_without_reply_subject_is_a_clear_error(bus: Bus) -> None:
    errors: asyncio.Queue[BaseException] = asyncio.Queue()

    async def responder(msg: Msg) -> None:
        try:
            await msg.respond(b"nobody asked")
        except BusError as exc:
            await errors.put(exc)

    await bus.subscribe("no.reply", responder)
    await bus.publish("no.reply", b"")
    async with asyncio.timeout(5):
        exc = await errors.get()
    assert "no reply subject" in str(exc)


async def test_new_inbox_is_unique_and_usable(bus: Bus) -> None:
    inboxes = {bus.new_inbox() for _ in range(1000)}
    assert len(inboxes) == 1000
    inbox = next(iter(inboxes))
    rec = Recorder()
    await bus.subscribe(inbox, rec)
    await bus.publish(inbox, b"x")
    await rec.wait_for(1)


async def test_scatter_gather(peers: list[Bus]) -> None:
    for i, p in enumerate(peers):

        async def answer(msg: Msg, i: int = i) -> None:
            await msg.respond(f"r{i}".encode())

        await p.subscribe("sg.ping", answer)
    bus = peers[0]
    await barrier(*peers)
    inbox = bus.new_inbox()
    answers = Recorder()
    await bus.subscribe(inbox, answers)
    await bus.publish("sg.ping", b"?", reply=inbox)
    await answers.wait_for(3)
    await barrier(*peers)
    assert sorted(answers.data) == [b"r0", b"r1", b"r2"]


async def test_scatter_gather_with_no_responders_receives_nothing(bus: Bus) -> None:
    inbox = bus.new_inbox()
    answers = Recorder()
    await bus.subscribe(inbox, answers)
    await bus.publish("sg.nobody", b"?", reply=inbox)
    await bus.publish(inbox, b"marker")
    await answers.wait_for(1)
    await barrier(bus)
    assert answers.data == [b"marker"]


# ---- close ----------------------------------------------------------------------------------------
async def test_close_fails_pending_requests_and_never_hangs(bus: Bus) -> None:
    entered = asyncio.Event()

    async def stuck(msg: Msg) -> None:
        entered.set()
        await asyncio.Event().wait()  # never answers

    await bus.subscribe("svc.stuck", stuck)
    await bus.flush()
    tasks = [asyncio.create_task(bus.request("svc.stuck", b"?", timeout=30)) for _ in range(3)]
    async with asyncio.timeout(5):
        await entered.wait()
        await bus.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, BusClosed) for r in results), results


async def test_close_lets_running_callbacks_finish(bus: Bus) -> None:
    entered, proceed = asyncio.Event(), asyncio.Event()

    async def slow_echo(msg: Msg) -> None:
        entered.set()
        await proceed.wait()
        await msg.respond(b"done")

    await bus.subscribe("svc.slow", slow_echo)
    await bus.flush()
    task = asyncio.create_task(bus.request("svc.slow", b"?", timeout=30))
    async with asyncio.timeout(5):
        await entered.wait()
        closing = asyncio.create_task(bus.close())
        proceed.set()
        reply = await task
        await closing
    assert reply.data == b"done"


async def test_close_does_not_hang_on_a_callback_that_ignores_cancellation(bus: Bus) -> None:
    entered = asyncio.Event()

    async def stubborn(msg: Msg) -> None:
        entered.set()
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if msg.data == b"twice":
                    return
                msg = Msg(msg.subject, b"twice")  # swallow the first cancel

    await bus.subscribe("svc.stubborn", stubborn)
    await bus.publish("svc.stubborn", b"?")
    async with asyncio.timeout(10):
        await entered.wait()
        await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish("svc.stubborn", b"")


async def test_close_survives_a_caller_that_stops_waiting(bus: Bus) -> None:
    entered = asyncio.Event()

    async def stuck(msg: Msg) -> None:
        entered.set()
        await asyncio.Event().wait()

    await bus.subscribe("svc.stuck", stuck)
    await bus.publish("svc.stuck", b"")
    async with asyncio.timeout(5):
        await entered.wait()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await bus.close()  # gives up before the drain deadline
    async with asyncio.timeout(5):
        await bus.close()  # the same close, carried on in the background
    with pytest.raises(BusClosed):
        await bus.publish("svc.stuck", b"")


async def test_operations_after_close_raise_bus_closed(bus: Bus) -> None:
    await bus.subscribe("a.b", echo)
    async with asyncio.timeout(5):
        await bus.close()
        await bus.close()  # idempotent
    with pytest.raises(BusClosed):
        await bus.publish("a.b", b"")
    with pytest.raises(BusClosed):
        await bus.request("a.b", b"", timeout=1)
    with pytest.raises(BusClosed):
        await bus.subscribe("a.b", echo)
    with pytest.raises(BusClosed):
        await bus.flush()


async def test_kind(bus: Bus) -> None:
    assert bus.kind in ("memory", "nats")


async def test_unsubscribe_from_inside_the_callback(bus: Bus) -> None:
    got: list[bytes] = []
    finished = asyncio.Event()
    holder: dict[str, Subscription] = {}

    async def once(msg: Msg) -> None:
        got.append(msg.data)
        await holder["sub"].unsubscribe()
        await bus.publish("once.done", b"")  # the callback keeps running after unsubscribing
        finished.set()

    holder["sub"] = await bus.subscribe("once.only", once)
    for data in (b"1", b"2", b"3"):
        await bus.publish("once.only", data)
    async with asyncio.timeout(5):
        await finished.wait()
    await barrier(bus)
    assert got == [b"1"]


async def test_close_from_inside_a_callback(bus: Bus) -> None:
    closed = asyncio.Event()

    async def closer(msg: Msg) -> None:
        await bus.close()
        closed.set()

    await bus.subscribe("close.me", closer)
    await bus.publish("close.me", b"")
    async with asyncio.timeout(5):
        await closed.wait()
    with pytest.raises(BusClosed):
        await bus.publish("close.me", b"")


async def test_callback_leaking_cancelled_error_does_not_kill_the_subscription(bus: Bus) -> None:
    rec = Recorder()

    async def leaky(msg: Msg) -> None:
        if msg.data == b"cancel":
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.cancel()
            await fut  # raises CancelledError inside the callback
        await rec(msg)

    await bus.subscribe("leaky.sub", leaky)
    await bus.publish("leaky.sub", b"cancel")
    await bus.publish("leaky.sub", b"after")
    await rec.wait_for(1)
    assert rec.data == [b"after"]


async def test_data_must_be_bytes_like(bus: Bus) -> None:
    rec = Recorder()
    await bus.subscribe("data.kinds", rec)
    await bus.publish("data.kinds", bytearray(b"ba"))
    await bus.publish("data.kinds", memoryview(b"mv"))
    with pytest.raises(BusError, match="must be bytes"):
        await bus.publish("data.kinds", "text")  # type: ignore[arg-type]
    await rec.wait_for(2)
    assert rec.data == [b"ba", b"mv"]
