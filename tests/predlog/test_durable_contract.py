"""The durable stream contract: every test runs on the SQLite outbox and on JetStream (real nats-server).

See ``nbamcp/bus/durable.py`` for the semantics. "Nothing more comes" is checked
with a bounded fetch that returns empty; redelivery after ``ack_wait`` (0.5 s
here) is awaited with a bounded fetch, never a sleep.
"""

from __future__ import annotations

import asyncio

import pytest

from nbamcp import endpoints as ep
from nbamcp.bus.base import REQUEST_ID_HEADER, Msg
from nbamcp.bus.durable import DurableConsumer, DurableMsg
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.errors import InvalidInput, InvalidSubject
from nbamcp.messages import GamesIngested, PredictionEvent, decode, encode
from nbamcp.streams import publish_durable
from nbamcp.subjects import EVENTS_ALL, EVENTS_GAMES, EVENTS_PREDICTION
from tests.predlog.conftest import TEST_SETTINGS, StreamKit, prediction

PAST_ACK_WAIT_S = TEST_SETTINGS.ack_wait_s + 0.5


async def fetch_n(consumer: DurableConsumer, n: int, within_s: float = 10.0) -> list[DurableMsg]:
    out: list[DurableMsg] = []
    async with asyncio.timeout(within_s):
        while len(out) < n:
            out += await consumer.fetch(n - len(out), timeout=0.5)
    return out


async def publish_predictions(kit: StreamKit, n: int, start: int = 0) -> list[bytes]:
    datas = []
    for i in range(start, start + n):
        data = encode(prediction(i))
        await kit.stream.publish(EVENTS_PREDICTION, data, headers={REQUEST_ID_HEADER: f"rid-{i}"})
        datas.append(data)
    return datas


async def test_consumer_gets_every_event_in_order_with_headers(kit: StreamKit) -> None:
    acks = [
        await kit.stream.publish(
            EVENTS_PREDICTION, encode(prediction(i)), headers={REQUEST_ID_HEADER: f"r{i}"}
        )
        for i in range(50)
    ]
    seqs = [a.seq for a in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50
    assert all(not a.duplicate for a in acks)
    # The consumer is created after the events were stored: it still gets all of them.
    consumer = await kit.stream.consumer("c1", EVENTS_PREDICTION)
    msgs = await fetch_n(consumer, 50)
    assert [m.seq for m in msgs] == seqs
    assert [decode(m.data, PredictionEvent).request_id for m in msgs] == [f"req-{i:06d}" for i in range(50)]
    assert [m.headers[REQUEST_ID_HEADER] for m in msgs] == [f"r{i}" for i in range(50)]
    assert all(m.subject == EVENTS_PREDICTION and m.num_delivered == 1 for m in msgs)
    await consumer.ack_all(msgs)
    assert await consumer.fetch(10, timeout=0.2) == []


async def test_filters_and_stream_order_across_subjects(kit: StreamKit) -> None:
    games = GamesIngested(game_ids=["g1"], teams=["BOS"], date_from="2023-01-15", date_to="2023-01-15")
    expected = []
    for i in range(12):
        if i % 4 == 3:
            await kit.stream.publish(EVENTS_GAMES, encode(games))
            expected.append(EVENTS_GAMES)
        else:
            await kit.stream.publish(EVENTS_PREDICTION, encode(prediction(i)))
            expected.append(EVENTS_PREDICTION)
    everything = await kit.stream.consumer("all", EVENTS_ALL)
    only_predictions = await kit.stream.consumer("preds", EVENTS_PREDICTION)
    got_all = await fetch_n(everything, 12)
    assert [m.subject for m in got_all] == expected
    got_preds = await fetch_n(only_predictions, 9)
    assert {m.subject for m in got_preds} == {EVENTS_PREDICTION}
    assert [m.seq for m in got_preds] == [m.seq for m in got_all if m.subject == EVENTS_PREDICTION]
    await only_predictions.ack_all(got_preds)
    assert await only_predictions.fetch(5, timeout=0.2) == []


async def test_each_name_gets_everything_and_one_name_shares_the_work(kit: StreamKit) -> None:
    await publish_predictions(kit, 30)
    a = await kit.stream.consumer("a", EVENTS_PREDICTION)
    b = await kit.stream.consumer("b", EVENTS_PREDICTION)
    assert len(await fetch_n(a, 30)) == 30
    assert len(await fetch_n(b, 30)) == 30
    # Two members of one durable consumer (on JetStream, in two "processes": two connections)
    # split the events between them: each gets some, none gets one twice, together all of them.
    s1 = await kit.stream.consumer("shared", EVENTS_PREDICTION)
    other = kit.stream
    if kit.kind == "jetstream":
        other = await JetStreamEvents.open(await kit.new_bus(), TEST_SETTINGS)  # type: ignore[arg-type]
    s2 = await other.consumer("shared", EVENTS_PREDICTION)
    got: dict[int, list[DurableMsg]] = {1: [], 2: []}
    async with asyncio.timeout(10):
        while len(got[1]) + len(got[2]) < 30:
            for member, handle in ((1, s1), (2, s2)):
                batch = await handle.fetch(7, timeout=0.3)
                await handle.ack_all(batch)
                got[member] += batch
    assert got[1] and got[2], {k: len(v) for k, v in got.items()}
    seqs = [m.seq for m in got[1] + got[2]]
    assert len(seqs) == len(set(seqs)) == 30


async def test_acked_events_are_not_delivered_again_after_a_restart(kit: StreamKit) -> None:
    await publish_predictions(kit, 10)
    consumer = await kit.stream.consumer("worker", EVENTS_PREDICTION)
    await consumer.ack_all(await fetch_n(consumer, 10))
    stream = await kit.reopen()
    again = await stream.consumer("worker", EVENTS_PREDICTION)
    assert await again.fetch(10, timeout=0.5) == []
    # ...while new events still arrive.
    await stream.publish(EVENTS_PREDICTION, encode(prediction(99)))
    [m] = await fetch_n(again, 1)
    assert decode(m.data, PredictionEvent).request_id == "req-000099"


async def test_unacked_events_are_delivered_again_after_a_restart(kit: StreamKit) -> None:
    datas = await publish_predictions(kit, 10)
    consumer = await kit.stream.consumer("worker", EVENTS_PREDICTION)
    msgs = await fetch_n(consumer, 10)
    await consumer.ack_all(msgs[:4])  # the "process" dies with six in flight
    stream = await kit.reopen()
    again = await stream.consumer("worker", EVENTS_PREDICTION)
    redelivered = await fetch_n(again, 6, within_s=TEST_SETTINGS.ack_wait_s + 10)
    assert [m.data for m in redelivered] == datas[4:]
    await again.ack_all(redelivered)
    assert await again.fetch(10, timeout=0.3) == []


async def test_unacked_event_comes_back_after_ack_wait(kit: StreamKit) -> None:
    await publish_predictions(kit, 1)
    consumer = await kit.stream.consumer("slow", EVENTS_PREDICTION)
    [first] = await fetch_n(consumer, 1)
    [second] = await fetch_n(consumer, 1, within_s=TEST_SETTINGS.ack_wait_s + 5)
    assert second.seq == first.seq
    assert second.num_delivered == 2
    await second.ack()


async def test_nak_redelivers_and_the_first_settlement_wins(kit: StreamKit) -> None:
    await publish_predictions(kit, 1)
    consumer = await kit.stream.consumer("nak", EVENTS_PREDICTION)
    [m] = await fetch_n(consumer, 1)
    await m.nak()
    await m.ack()  # too late: this delivery was already settled by the nak
    [again] = await fetch_n(consumer, 1)
    assert again.seq == m.seq and again.num_delivered == 2
    await consumer.ack_all([again])
    assert await consumer.fetch(1, timeout=PAST_ACK_WAIT_S) == []


async def test_term_is_never_delivered_again(kit: StreamKit) -> None:
    await publish_predictions(kit, 2)
    consumer = await kit.stream.consumer("poison", EVENTS_PREDICTION)
    bad, good = await fetch_n(consumer, 2)
    await bad.term()
    await consumer.ack_all([good])
    assert await consumer.fetch(2, timeout=PAST_ACK_WAIT_S) == []


async def test_redelivery_stops_after_max_deliver(kit: StreamKit) -> None:
    await publish_predictions(kit, 1)
    consumer = await kit.stream.consumer("flaky", EVENTS_PREDICTION)
    deliveries = 0
    async with asyncio.timeout(20):
        while True:
            msgs = await consumer.fetch(1, timeout=PAST_ACK_WAIT_S)
            if not msgs:
                break
            deliveries += 1
            await msgs[0].nak()
    assert deliveries == TEST_SETTINGS.max_deliver


async def test_a_msg_id_is_stored_once(kit: StreamKit) -> None:
    data = encode(prediction(1))
    first = await kit.stream.publish(EVENTS_PREDICTION, data, msg_id="once")
    second = await kit.stream.publish(EVENTS_PREDICTION, data, msg_id="once")
    other = await kit.stream.publish(EVENTS_PREDICTION, data, msg_id="other")
    assert not first.duplicate and second.duplicate and second.seq == first.seq
    assert other.seq > first.seq
    consumer = await kit.stream.consumer("dedup", EVENTS_PREDICTION)
    msgs = await fetch_n(consumer, 2)
    assert [m.seq for m in msgs] == [first.seq, other.seq]
    await consumer.ack_all(msgs)
    assert await consumer.fetch(5, timeout=0.3) == []


async def test_publish_durable_stores_a_retried_prediction_once(kit: StreamKit) -> None:
    event = prediction(7, request_id="retry-me")
    a1 = await publish_durable(kit.stream, ep.PREDICTION_EVENTS, event, request_id="retry-me")
    a2 = await publish_durable(kit.stream, ep.PREDICTION_EVENTS, event, request_id="retry-me")
    # The same request answered by another model version is another prediction.
    a3 = await publish_durable(
        kit.stream, ep.PREDICTION_EVENTS, prediction(7, request_id="retry-me", model_version=2)
    )
    assert a2.duplicate and a2.seq == a1.seq and not a3.duplicate
    consumer = await kit.stream.consumer("log", EVENTS_PREDICTION)
    msgs = await fetch_n(consumer, 2)
    assert [decode(m.data, PredictionEvent).model_version for m in msgs] == [1, 2]
    assert msgs[0].headers[REQUEST_ID_HEADER] == "retry-me"


async def test_plain_subscribers_of_the_core_bus_see_durable_events(kit: StreamKit) -> None:
    got: list[Msg] = []
    arrived = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        got.append(msg)
        arrived.set()

    listener = await kit.new_bus()
    await listener.subscribe(EVENTS_GAMES, on_msg)
    await listener.flush()
    games = GamesIngested(game_ids=["g"], teams=["BOS"], date_from="2023-01-15", date_to="2023-01-15")
    await publish_durable(kit.stream, ep.GAMES_INGESTED, games, request_id="rid-games")
    async with asyncio.timeout(5):
        await arrived.wait()
    assert decode(got[0].data, GamesIngested) == games
    assert got[0].headers[REQUEST_ID_HEADER] == "rid-games"


async def test_concurrent_publishers_each_get_their_own_seq(kit: StreamKit) -> None:
    acks = await asyncio.gather(
        *(kit.stream.publish(EVENTS_PREDICTION, encode(prediction(i))) for i in range(300))
    )
    assert len({a.seq for a in acks}) == 300
    consumer = await kit.stream.consumer("many", EVENTS_PREDICTION)
    msgs = await fetch_n(consumer, 300)
    assert sorted(m.seq for m in msgs) == sorted(a.seq for a in acks)


async def test_fetch_on_an_empty_stream_returns_nothing_in_time(kit: StreamKit) -> None:
    consumer = await kit.stream.consumer("idle", EVENTS_ALL)
    async with asyncio.timeout(3):
        assert await consumer.fetch(10, timeout=0.2) == []


@pytest.mark.parametrize("subject", ["nba.predict", "nba.events.*", "nba.events", "", "nba..events"])
async def test_publish_outside_the_stream_is_refused(kit: StreamKit, subject: str) -> None:
    with pytest.raises(InvalidSubject):
        await kit.stream.publish(subject, b"x")


@pytest.mark.parametrize(
    ("name", "filter", "error"),
    [
        ("a.b", EVENTS_ALL, InvalidInput),
        ("", EVENTS_ALL, InvalidInput),
        ("has space", EVENTS_ALL, InvalidInput),
        ("ok", "nba.stats.>", InvalidSubject),
        ("ok", "nba.events.a b", InvalidSubject),
    ],
)
async def test_bad_consumer_names_and_filters_are_refused(
    kit: StreamKit, name: str, filter: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await kit.stream.consumer(name, filter)


async def test_in_progress_holds_a_delivery_past_ack_wait(kit: StreamKit) -> None:
    await publish_predictions(kit, 1)
    consumer = await kit.stream.consumer("long-job", EVENTS_PREDICTION)
    [m] = await fetch_n(consumer, 1)
    # Alive for twice the ack wait: in_progress every fifth of it, and nothing comes back meanwhile.
    for _ in range(10):
        await m.in_progress()
        assert await consumer.fetch(1, timeout=TEST_SETTINGS.ack_wait_s / 5) == []
    await consumer.ack_all([m])
    assert await consumer.fetch(1, timeout=PAST_ACK_WAIT_S) == []
