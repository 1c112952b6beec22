"""Canary traffic: the challenger answers a share of the games, sticky per game, both logged."""

from __future__ import annotations

from itertools import combinations

from nbamcp.bus.base import Bus
from nbamcp.messages import GameQuery, PredictReply, PredictRequest
from nbamcp.serving.canary import in_canary
from nbamcp.serving.canonical import CanonicalGame
from tests.serving.conftest import Home, Models, Recorder, make_inference, register, serving
from tests.serving.test_inference import ask

TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "MIL", "DAL"]


def game(home: str, away: str, date: str) -> CanonicalGame:
    return CanonicalGame(home, away, date, 2023, False, home, away)


def test_the_canary_share_is_sticky_and_even() -> None:
    games = [
        game(h, a, f"2023-{m:02d}-{d:02d}")
        for h, a in combinations(TEAMS, 2)
        for m in (1, 2, 3)
        for d in range(1, 29)
    ]
    assert len(games) == 3780
    picked = [in_canary(g, 0.1) for g in games]
    assert 0.08 < sum(picked) / len(games) < 0.12
    assert picked == [in_canary(g, 0.1) for g in games]  # the same games every time
    assert not any(in_canary(g, 0.0) for g in games) and all(in_canary(g, 1.0) for g in games)
    # A bigger share keeps the smaller share's games (raising the share only adds games).
    assert all(in_canary(g, 0.3) for g, p in zip(games, picked, strict=True) if p)


async def test_canary_games_get_the_challenger_every_time_and_both_are_logged(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias="challenger")
    slate = PredictRequest(
        games=[GameQuery(home=h, away=a, date="2023-04-07") for h, a in combinations(TEAMS, 2)], client="test"
    )
    async with serving(bus, home, await make_inference(bus, home, traffic="canary", canary_share=0.5)):
        first = await ask(bus, slate, "c1")
        again = await ask(bus, slate, "c2")
        events = await recorder.wait_for("c1", 2 * len(slate.games))
    assert isinstance(first, PredictReply) and isinstance(again, PredictReply)
    assert first.traffic == "canary"
    served = [p.model_version for p in first.predictions]
    assert served == [p.model_version for p in again.predictions]  # sticky per game
    expected = [2 if in_canary(game(p.home, p.away, p.date), 0.5) else 1 for p in first.predictions]
    assert served == expected and 10 < served.count(2) < 35  # of 45 games
    for p in first.predictions:
        assert p.challenger is not None
        assert p.challenger.model_version == (1 if p.model_version == 2 else 2)  # the other one
        assert p.challenger.home_win_prob != p.home_win_prob
        assert p.contributions  # the canary answer explains itself with its own model
    # Every game is logged by both versions: the gate and the canary watch pair them.
    assert sorted((e.model_version, e.home, e.away) for e in events) == sorted(
        (v, p.home, p.away) for p in first.predictions for v in (1, 2)
    )
    # The answer the caller got is not marked; the one scored beside it (champion or challenger) is.
    served_as = {(p.home, p.away): p.model_version for p in first.predictions}
    for e in events:
        assert e.shadow == (e.model_version != served_as[(e.home, e.away)])
