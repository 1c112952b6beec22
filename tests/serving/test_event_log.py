"""Prediction events reach the durable stream (the prediction log's source), once per request id."""

from __future__ import annotations

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.messages import GameQuery, PredictionEvent, PredictReply, PredictRequest, decode, encode
from nbamcp.subjects import EVENTS_PREDICTION, PREDICT
from tests.serving.conftest import WAIT, Home, Models, make_inference, register, serving


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
