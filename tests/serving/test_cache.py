"""The cache worker: hits and misses, fills from inference, invalidation, TTL, counters."""

from __future__ import annotations

import asyncio
import csv

import numpy as np

from nbamcp.bus.base import Bus
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import GameQuery, ModelsChanged, encode
from nbamcp.ml.features import FeatureState
from nbamcp.serving.client import PredictClient
from nbamcp.subjects import MODELS_CHANGED
from tests.serving.conftest import (
    MODEL,
    WAIT,
    Data,
    FakeClock,
    Home,
    Models,
    Recorder,
    ingest,
    make_cache,
    make_inference,
    promote,
    register,
    serving,
    wait_fills,
)

BOS_LAL = GameQuery(home="BOS", away="LAL", date="2023-04-20")
# A hypothetical game on a past date (the Celtics and the Kings did not meet that day).
PAST = GameQuery(home="BOS", away="SAC", date="2022-01-15")
DEN_PHX = GameQuery(home="Nuggets", away="Suns", date="2023-04-20")


def client_for(bus: Bus) -> PredictClient:
    return PredictClient(Gateway(bus, timeout_s=WAIT, expected_workers=[]).call)


async def test_miss_then_fill_then_hit(bus: Bus, home: Home, models: Models, recorder: Recorder) -> None:
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    async with serving(bus, home, cache, inference):
        first = await client.predict([BOS_LAL, DEN_PHX])
        assert first.cache_hits == 0 and not any(p.cached for p in first.predictions)
        await wait_fills(cache, 2)
        second = await client.predict(
            [DEN_PHX, BOS_LAL, GameQuery(home="MIA", away="NYK", date="2023-04-20")]
        )
        assert second.cache_hits == 2
        assert [p.cached for p in second.predictions] == [True, True, False]
        assert second.predictions[1].home_win_prob == first.predictions[0].home_win_prob
        assert cache.hits_l1 == 2 and cache.misses == 3
        d = cache.health_detail()
        assert d["hits_l1"] == "2" and d["misses"] == "3" and d["l2"] == "memory kv nbamcp-predictions"
        events = await recorder.wait_for(None, 5)  # 2 + 1 fresh, 2 cached
        assert sum(e.cached for e in events) == 2


async def test_invalidated_when_the_model_changes(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    async with serving(bus, home, cache, inference):
        await client.predict([BOS_LAL])
        await wait_fills(cache, 1)
        assert (await client.predict([BOS_LAL])).cache_hits == 1
        await register(home, models.lr2, alias=None)
        changed = (cache.models_changed, inference.models_changed)
        await promote(bus, 2)
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(e.wait() for e in changed))
        assert len(cache.lru) == 0 and cache.invalidated == 1
        again = await client.predict([BOS_LAL])
        assert again.cache_hits == 0 and again.predictions[0].model_version == 2


async def test_kept_when_what_serves_is_announced_again(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    async with serving(bus, home, cache, inference):
        await client.predict([BOS_LAL])
        await wait_fills(cache, 1)
        changed = cache.models_changed
        # What the trainer's start and its recoveries do: every alias announced again, unchanged.
        await bus.publish(MODELS_CHANGED, encode(ModelsChanged(name=MODEL, alias="champion", version=1)))
        async with asyncio.timeout(WAIT):
            await changed.wait()
        assert len(cache.lru) == 1 and cache.invalidated == 0
        assert (await client.predict([BOS_LAL])).cache_hits == 1


async def test_invalidated_for_the_teams_with_new_results(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    # New results: two of the Celtics' games (DEN and PHX play in none of them).
    with home.later_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        bos = [
            r
            for r in reader
            if "BOS" in (r["team1"], r["team2"]) and not {"DEN", "PHX"} & {r["team1"], r["team2"]}
        ]
        header = list(reader.fieldnames or [])
    day = home.root / "celtics.csv"
    with day.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(bos[:2])
    async with serving(bus, home, cache, inference):
        await client.predict([BOS_LAL, DEN_PHX])
        await wait_fills(cache, 2)
        changed = (cache.features_changed, inference.features_changed)
        await ingest(bus, day)
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(e.wait() for e in changed))
        assert cache.invalidated == 1  # BOS-LAL's entry, not DEN-PHX's
        out = await client.predict([BOS_LAL, DEN_PHX])
        assert [p.cached for p in out.predictions] == [False, True]


async def test_entries_expire_after_the_ttl(bus: Bus, home: Home, models: Models, clock: FakeClock) -> None:
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home, clock=clock, ttl_s=600.0), await make_inference(bus, home)
    client = client_for(bus)
    async with serving(bus, home, cache, inference):
        await client.predict([BOS_LAL])
        await wait_fills(cache, 1)
        clock.advance(599)
        assert (await client.predict([BOS_LAL])).cache_hits == 1
        clock.advance(1)
        assert (await client.predict([BOS_LAL])).cache_hits == 0
        assert cache.lru.expired == 1


async def test_baseline_predictions_are_not_cached(bus: Bus, home: Home) -> None:
    # No champion: the Elo baseline answers.
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    async with serving(bus, home, cache, inference):
        out = await client.predict([BOS_LAL])
        assert out.predictions[0].source == "baseline" and not out.degraded
        out = await client.predict([BOS_LAL])
        assert out.cache_hits == 0 and cache.fills == 0


async def test_a_full_slate_is_answered_by_the_model_and_cached(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    """A slate of the published maximum (500 games): its reply is larger than one bus message
    (1 MiB), so the client sends it in parts; every game is the model's answer, then a hit."""
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    teams = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "MIL", "NYK", "CHI", "DAL"]
    pairs = [(h, a) for h in teams for a in teams if h != a]  # 90 pairings
    days = [f"2023-04-{d:02d}" for d in range(20, 26)]
    slate = [GameQuery(home=h, away=a, date=d) for d in days for h, a in pairs][:500]
    assert len(slate) == 500 and inference.settings.max_slate == 500
    async with serving(bus, home, cache, inference):
        first = await client.predict(slate)
        assert not first.degraded and first.cache_hits == 0, first.notes
        assert [(p.home, p.away, p.date) for p in first.predictions] == [
            (g.home, g.away, g.date) for g in slate
        ]
        assert {p.source for p in first.predictions} == {"model"}
        await wait_fills(cache, 500)
        again = await client.predict(slate)
        assert again.cache_hits == 500 and not again.degraded
        assert [p.home_win_prob for p in again.predictions] == [p.home_win_prob for p in first.predictions]


async def test_a_hypothetical_past_game_is_keyed_as_inference_answers_it(
    bus: Bus, home: Home, models: Models, serving_data: Data
) -> None:
    """The cache's key (no features) finds what inference filled for a game on a past date nobody
    played; inference's features are those of a state fed every result before that date; results
    after it change the key (the counts) but not the answer."""
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    client = client_for(bus)
    with home.later_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        bos = [r for r in reader if "BOS" in (r["team1"], r["team2"])][:2]
        header = list(reader.fieldnames or [])
    day = home.root / "celtics.csv"
    with day.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(bos)
    async with serving(bus, home, cache, inference):
        first = (await client.predict([PAST])).predictions[0]
        assert not first.cached and first.result is None
        state = FeatureState()
        state.consume_all(g for g in serving_data.games if g.date < PAST.date)
        want = state.features_for("BOS", "SAC", PAST.date, season=2022)
        got = np.array([np.nan if v is None else v for v in first.features.values()], np.float32)
        assert got.tobytes() == want.tobytes()
        await wait_fills(cache, 1)
        hit = await client.predict([PAST])
        assert hit.cache_hits == 1 and hit.predictions[0].home_win_prob == first.home_win_prob
        changed = (cache.features_changed, inference.features_changed)
        await ingest(bus, day)
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(e.wait() for e in changed))
        after = await client.predict([PAST])
        assert after.cache_hits == 0  # the key counts the Celtics' results
        assert after.predictions[0].home_win_prob == first.home_win_prob
        assert after.predictions[0].features == first.features
        await wait_fills(cache, 2)
        assert (await client.predict([PAST])).cache_hits == 1
