"""Prediction events reach the durable stream (the prediction log's source), once per request id."""

from __future__ import annotations

import msgspec

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.config import Config, PathsConfig
from nbamcp.messages import GameQuery, PredictionEvent, PredictReply, PredictRequest, decode, encode
from nbamcp.streams import open_durable
from nbamcp.subjects import EVENTS_PREDICTION, PREDICT
from tests.serving.conftest import WAIT, Home, Models, register, running
from workers.inference import InferenceWorker


async def test_events_are_stored_durably_once_per_request(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    config = msgspec.structs.replace(Config(), paths=PathsConfig(home=str(home.root)))
    worker = InferenceWorker.from_config(bus, config)

    async def ask(rid: str, team: str) -> PredictReply:
        req = PredictRequest(games=[GameQuery(home=team, away="LAL")], client="t")  # today's game
        msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: rid})
        return decode(msg.data, PredictReply)

    stream = await open_durable(bus, config)
    try:
        consumer = await stream.consumer("serving-test", EVENTS_PREDICTION)
        async with running(worker):
            assert worker.events.durable
            first = await ask("dur-1", "BOS")
            assert await ask("dur-1", "BOS") == first  # a retry: answered from memory, not logged again
            await ask("dur-2", "MIA")
            got: list[PredictionEvent] = []
            while len(got) < 2:
                msgs = await consumer.fetch(10, timeout=WAIT)
                assert msgs, "no event reached the durable stream"
                got += [decode(m.data, PredictionEvent) for m in msgs]
                await consumer.ack_all(msgs)
            assert worker.health_detail()["events"] == "2 published, 0 lost (durable)"
        assert [(e.request_id, e.home, e.model_version, e.client) for e in got] == [
            ("dur-1", "BOS", 1, "t"),
            ("dur-2", "MIA", 1, "t"),
        ]
    finally:
        await stream.close()
