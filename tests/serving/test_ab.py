"""A/B traffic through the inference worker, on both buses: the challenger answers ab_share of
the games (sticky per game), the log holds one served row per answer and the other model's
row marked shadow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import combinations

import pytest

from nbamcp.bus.base import Bus
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import InferenceConfig
from nbamcp.messages import GameQuery, PredictReply, PredictRequest
from nbamcp.serving.canary import in_canary
from tests.serving.conftest import WAIT, Home, Models, Recorder, make_inference, register, serving
from tests.serving.test_canary import TEAMS, game
from tests.serving.test_inference import ask


@pytest.fixture(params=["memory", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        b: Bus = InMemoryBus()
    else:
        b = await NatsBus.connect(request.getfixturevalue("nats_server").url)
    yield b
    async with asyncio.timeout(WAIT):
        await b.close()


def test_the_challengers_share_per_traffic_mode() -> None:
    assert InferenceConfig(traffic="ab", ab_share=0.3, canary_share=0.1).challenger_share() == 0.3
    assert InferenceConfig(traffic="canary", ab_share=0.3, canary_share=0.1).challenger_share() == 0.1
    assert InferenceConfig(traffic="shadow", ab_share=0.3).challenger_share() == 0.0
    assert InferenceConfig(traffic="champion", ab_share=0.3).challenger_share() == 0.0


async def test_ab_games_are_split_sticky_and_the_log_marks_the_unserved_answer(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias="challenger")
    slate = PredictRequest(
        games=[GameQuery(home=h, away=a, date="2023-04-07") for h, a in combinations(TEAMS, 2)], client="test"
    )
    # canary_share is not the ab's share: the split follows ab_share alone.
    worker = await make_inference(bus, home, traffic="ab", ab_share=0.5, canary_share=0.0)
    async with serving(bus, home, worker):
        first = await ask(bus, slate, "ab1")
        again = await ask(bus, slate, "ab2")
        events = await recorder.wait_for("ab1", 2 * len(slate.games))
        await recorder.wait_for("ab2", 2 * len(slate.games))
    assert isinstance(first, PredictReply) and isinstance(again, PredictReply)
    assert first.traffic == "ab"
    served = [p.model_version for p in first.predictions]
    assert served == [p.model_version for p in again.predictions]  # sticky per game
    expected = [2 if in_canary(game(p.home, p.away, p.date), 0.5) else 1 for p in first.predictions]
    assert served == expected and 10 < served.count(2) < 35  # both arms have games (of 45)
    for p in first.predictions:
        assert p.challenger is not None and p.challenger.model_version == 3 - p.model_version
        assert p.contributions  # each arm's answer explained by its own model
    # One served row per answer, with the probability the caller got; the other model's row is shadow.
    got = {(p.home, p.away): (p.model_version, p.home_win_prob) for p in first.predictions}
    assert len(events) == 2 * len(slate.games)
    for e in events:
        version, prob = got[(e.home, e.away)]
        assert e.shadow == (e.model_version != version)
        if not e.shadow:
            assert e.home_win_prob == prob
    assert sum(not e.shadow for e in events) == len(slate.games)
