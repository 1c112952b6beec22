"""Prediction events reach the durable stream (the prediction log's source), once per request id."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import anyio

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.bus.durable import DurableConsumer, StreamSettings
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.durable_sqlite import SqliteEvents
from nbamcp.bus.link import DISCONNECTED
from nbamcp.bus.nats import NatsBus
from nbamcp.messages import GameQuery, PredictionEvent, PredictReply, PredictRequest, decode, encode
from nbamcp.serving.event_journal import EventJournal, orphans, read_segment
from nbamcp.serving.event_log import PredictionEventLog
from nbamcp.subjects import EVENTS_PREDICTION, PREDICT
from tests.conftest import restart_nats_server, start_nats_server, stop_nats_server
from tests.predlog.conftest import TEST_SETTINGS, prediction
from tests.serving.conftest import WAIT, Home, Models, make_inference, register, serving

OUTAGE_WAIT = 60.0


async def test_events_are_stored_durably_once_per_request(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)

    async def ask(rid: str, team: str) -> PredictReply:
        req = PredictRequest(games=[GameQuery(home=team, away="LAL")], client="t")  # today's game
        msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: rid})
        return decode(msg.data, PredictReply)

    consumer = await worker.ctx.events.consumer("serving-test", EVENTS_PREDICTION)
    try:
        async with serving(bus, home, worker):
            first = await ask("dur-1", "BOS")
            assert await ask("dur-1", "BOS") == first  # a retry: answered from memory, not logged again
            await ask("dur-2", "MIA")
            got: list[PredictionEvent] = []
            while len(got) < 2:
                msgs = await consumer.fetch(10, timeout=WAIT)
                assert msgs, "no event reached the durable stream"
                got += [decode(m.data, PredictionEvent) for m in msgs]
                await consumer.ack_all(msgs)
            assert worker.health_detail()["events"] == "2 published, 0 lost"
        assert [(e.request_id, e.home, e.model_version, e.client) for e in got] == [
            ("dur-1", "BOS", 1, "t"),
            ("dur-2", "MIA", 1, "t"),
        ]
    finally:
        await consumer.close()


async def test_events_go_out_in_groups_and_flush_sends_the_rest(tmp_path: Path) -> None:
    stream = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    consumer = await stream.consumer("group-test", EVENTS_PREDICTION)
    try:
        # Within one delay, one event per call: one group, one outbox transaction.
        events = PredictionEventLog(stream, max_events=100, max_delay_s=0.05)
        for i in range(10):
            events.log(f"g-{i}", [prediction(i, request_id=f"g-{i}")])
        got = await drain(consumer, 10)
        assert events.groups == 1 and events.published == 10
        # A full group goes out at once, without waiting for the delay.
        full = PredictionEventLog(stream, max_events=4, max_delay_s=3600)
        # (A slate: one request, four games; each event its own dedup id.)
        full.log("f-0", [prediction(100 + i, request_id="f-0", date=f"2023-01-1{i}") for i in range(4)])
        got += await drain(consumer, 4)
        assert full.groups == 1
        # A graceful stop sends what is queued.
        full.log("f-1", [prediction(200, request_id="f-1")])
        assert full.groups == 1  # queued until the delay, or the flush
        await full.flush(WAIT)
        got += await drain(consumer, 1)
        assert [e.request_id for e in got] == [f"g-{i}" for i in range(10)] + ["f-0"] * 4 + ["f-1"]
        assert (full.published, full.lost) == (5, 0)
    finally:
        await consumer.close()
        await stream.close()


async def test_a_store_that_is_behind_gets_bigger_groups_not_more_publishes(tmp_path: Path) -> None:
    # Before: a group a publish, however many were still waiting for the store; behind a slow
    # outbox writer that was 344 groups, a task and a future per event, +230 MB of RSS.
    stream = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    consumer = await stream.consumer("behind-test", EVENTS_PREDICTION)
    try:
        events = PredictionEventLog(stream, max_events=4, max_delay_s=3600, max_in_flight=2)
        for i in range(10):  # ten full groups before the store has stored any
            events.log(
                f"b-{i}",
                [prediction(10 * i + k, request_id=f"b-{i}", date=f"2023-01-1{k}") for k in range(4)],
            )
            assert events.in_flight <= 2
        assert events.in_flight == 2
        got = await drain(consumer, 40)
        await events.flush(WAIT)  # (nothing queued: waits for the last group's bookkeeping)
        assert (events.published, events.lost) == (40, 0)
        assert events.groups == 3  # two of four, then the 32 that waited as one
        assert sorted(e.request_id for e in got) == sorted(f"b-{i}" for i in range(10) for _ in range(4))
        # A graceful stop sends the queue even at the bound.
        for i in range(12):
            events.log(f"s-{i}", [prediction(500 + i, request_id=f"s-{i}")])
        assert events.in_flight == 2
        await events.flush(WAIT)
        assert sorted(e.request_id for e in await drain(consumer, 12)) == sorted(f"s-{i}" for i in range(12))
        assert (events.published, events.in_flight) == (52, 0)
    finally:
        await consumer.close()
        await stream.close()


async def drain(consumer: DurableConsumer, n: int) -> list[PredictionEvent]:
    out: list[PredictionEvent] = []
    with anyio.fail_after(WAIT):
        while len(out) < n:
            msgs = await consumer.fetch(n - len(out), timeout=WAIT)
            out += [decode(m.data, PredictionEvent) for m in msgs]
            await consumer.ack_all(msgs)
    return out


async def test_an_event_published_during_a_nats_outage_is_held_and_sent_after_it(tmp_path: Path) -> None:
    # Before: two quick failures and the event of a prediction answered just before the outage
    # was lost (the prediction log never heard of it). Now it waits for the bus and the stream.
    server = start_nats_server(tmp_path / "nats")
    bus = await NatsBus.connect(server.url, reconnect_time_wait=0.01, reconnect_max_wait=0.05)
    try:
        settings = StreamSettings(name="HELD", subjects="nba.events.>", publish_timeout_s=0.25)
        stream = await JetStreamEvents.open(bus, settings)
        consumer = await stream.consumer("held-test", EVENTS_PREDICTION)
        events = PredictionEventLog(stream, max_delay_s=0, link=bus.link)
        stop_nats_server(server)
        await bus.link.wait_for(DISCONNECTED, OUTAGE_WAIT)
        held = events.held_changed
        events.log("h-1", [prediction(1, request_id="h-1")])
        with anyio.fail_after(OUTAGE_WAIT):
            await held.wait()  # it failed while NATS was away, and waits
            # The outage outlasts a quick retry (30 more attempts, >= 40 ms apart, vs 0.25 s).
            attempts = bus.link.attempts
            await bus.link.wait_until(lambda: bus.link.attempts >= attempts + 30, OUTAGE_WAIT)
        server = restart_nats_server(server, keep_store=False, workdir=tmp_path / "fresh")
        await events.flush(OUTAGE_WAIT)
        assert (events.published, events.lost, events.held) == (1, 0, 1)
        got = await drain(consumer, 1)
        assert [e.request_id for e in got] == ["h-1"]  # in the stream made anew after the restart
    finally:
        with anyio.fail_after(OUTAGE_WAIT):
            await bus.close()
        stop_nats_server(server)


def test_the_journal_of_a_live_process_is_not_replayed_and_a_torn_record_is_skipped(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "j", "inference")
    journal.append("j-1", [prediction(1, request_id="j-1")])
    journal.append(
        "j-2", [prediction(2, request_id="j-2"), prediction(3, request_id="j-2", date="2023-01-12")]
    )
    segment = journal.group()
    assert orphans(tmp_path / "j") == []  # its process (this one) holds the lock
    # A process that died mid-write leaves a torn last record: the whole ones are read.
    with segment.open("ab") as f:
        f.write((1000).to_bytes(4, "big") + b"\x93partial")
    records = read_segment(segment)
    assert [(rid, len(events)) for rid, events in records] == [("j-1", 1), ("j-2", 2)]
    assert records[1][1][1].date == "2023-01-12"


async def test_the_journal_is_emptied_once_its_groups_are_stored_and_rolls_over_when_full(
    tmp_path: Path,
) -> None:
    stream = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    consumer = await stream.consumer("roll-test", EVENTS_PREDICTION)
    directory = tmp_path / "journal"
    try:
        events = PredictionEventLog(stream, max_events=2, max_delay_s=3600)
        events.journal = journal = EventJournal(directory, "inference", segment_bytes=1)
        for i in range(6):  # three full groups, a segment each (every one is past 1 byte)
            events.log(f"r-{i}", [prediction(i, request_id=f"r-{i}")])
        await drain(consumer, 6)
        await events.flush(WAIT)
        assert sorted(p.suffix for p in directory.iterdir()) == [".lock"]  # every segment stored: gone
        small = PredictionEventLog(stream, max_events=1, max_delay_s=3600)
        small.journal = EventJournal(directory, "cache", truncate_bytes=1)
        small.log("s-0", [prediction(10, request_id="s-0")])
        await drain(consumer, 1)
        await small.flush(WAIT)
        assert small.journal.truncations == 1  # the open segment, emptied in place
        assert [p.stat().st_size for p in directory.glob("cache-*.seg")] == [0]
        events.close()
        small.close()
        assert sorted(directory.iterdir()) == []
        assert journal.appended == 6
    finally:
        await consumer.close()
        await stream.close()


async def test_a_journal_left_by_a_dead_process_is_published_once_and_removed(tmp_path: Path) -> None:
    stream = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    consumer = await stream.consumer("journal-test", EVENTS_PREDICTION)
    directory = tmp_path / "journal"
    try:
        # The dead process: a child that journals two requests and is killed before any group goes out.
        code = (
            "import os, signal, sys\n"
            "from pathlib import Path\n"
            "from nbamcp.serving.event_journal import EventJournal\n"
            "from tests.predlog.conftest import prediction\n"
            "j = EventJournal(Path(sys.argv[1]), 'inference')\n"
            "for i in range(2):\n"
            "    j.append(f'd-{i}', [prediction(i, request_id=f'd-{i}')])\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(directory))
        assert await proc.wait() == -signal.SIGKILL
        events = PredictionEventLog(stream, max_delay_s=3600)
        events.open_journal(directory, "inference")
        assert await events.recover() == 2
        got = await drain(consumer, 2)
        assert sorted(e.request_id for e in got) == ["d-0", "d-1"]
        # Replayed once: the dead process's files are gone, a second recovery sends nothing.
        assert await events.recover() == 0
        events.close()
        assert sorted(directory.iterdir()) == []
    finally:
        await consumer.close()
        await stream.close()
