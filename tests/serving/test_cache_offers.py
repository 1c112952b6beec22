"""The inference worker's offers to the cache: queued by the handler, sent after it, in groups."""

from __future__ import annotations

import asyncio

import pytest

from nbamcp.errors import Unavailable
from nbamcp.messages import CachedPrediction, GamePrediction, PredictionsServed
from nbamcp.serving.cache_offers import CacheOffers
from tests.serving.conftest import WAIT


def entry(key: str) -> CachedPrediction:
    p = GamePrediction(
        home="BOS", away="LAL", home_name="Boston Celtics", away_name="Los Angeles Lakers",
        date="2023-04-05", season=2023, neutral=False, playoff=False, home_win_prob=0.6,
        away_win_prob=0.4, winner="BOS", winner_name="Boston Celtics", source="model",
        model_name="game", model_version=1, unit="log-odds", explanation="", contributions=[],
        features={},
    )  # fmt: skip
    return CachedPrediction(key, p)


class Sent:
    """What the offers hand to the bus, and an event per message."""

    def __init__(self) -> None:
        self.messages: list[PredictionsServed] = []
        self.changed = asyncio.Event()

    async def __call__(self, msg: PredictionsServed) -> None:
        self.messages.append(msg)
        self.changed.set()

    async def wait(self, n: int) -> list[list[str]]:
        async with asyncio.timeout(WAIT):
            while len(self.messages) < n:
                self.changed.clear()
                await self.changed.wait()
        return [[e.key for e in m.entries] for m in self.messages]


async def test_an_offer_is_sent_after_the_caller_goes_on() -> None:
    sent = Sent()
    offers = CacheOffers(sent, max_delay_s=0.0)
    offers.offer([entry("a")])
    assert sent.messages == []  # queued: the handler replies before anything is sent
    assert await sent.wait(1) == [["a"]]
    assert (offers.offered, offers.groups) == (1, 1)


async def test_offers_within_the_delay_go_as_one_message() -> None:
    sent = Sent()
    offers = CacheOffers(sent, max_delay_s=3600.0)
    offers.offer([entry("a")])
    offers.offer([entry("b"), entry("c")])
    offers.offer([])
    await offers.flush(WAIT)  # the worker's stop sends what waits
    assert await sent.wait(1) == [["a", "b", "c"]]


async def test_a_full_group_goes_at_once_and_a_large_offer_is_split() -> None:
    sent = Sent()
    offers = CacheOffers(sent, max_delay_s=3600.0, max_entries=2)
    offers.offer([entry("a"), entry("b"), entry("c"), entry("d"), entry("e")])
    assert await sent.wait(3) == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_failed_offer_is_counted_not_raised() -> None:
    async def refuse(msg: PredictionsServed) -> None:
        raise Unavailable("the bus is away")

    offers = CacheOffers(refuse, max_delay_s=3600.0)
    offers.offer([entry("a"), entry("b")])
    await offers.flush(WAIT)
    assert (offers.failed, offers.offered, offers.groups) == (2, 0, 0)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        CacheOffers(Sent(), max_delay_s=-1.0)
    with pytest.raises(ValueError):
        CacheOffers(Sent(), max_delay_s=0.0, max_entries=0)
