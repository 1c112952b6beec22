"""Predictions that say how old they are, and factors in a fan's terms: over a real MCP client.

"Today" is 2026-12-01 for the workers of the first tests, the data ends in 2023 (the 538
file): a game then is predicted from ratings regressed once per summer, with the schedule
facts unknown (never invented), and says so. Expected values come from the raw CSV and
the training code's public formulas, not from the serving path.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import math
import re
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
from mcp import Client

from nbamcp.bus.base import Bus
from nbamcp.config import CacheConfig, InferenceConfig
from nbamcp.data.games import load_games
from nbamcp.data.store import open_store
from nbamcp.ml.features import FEATURE_NAMES
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.ratings import DEFAULT_ELO, rating_series, win_prob
from nbamcp.serving.explain import neutral_reference
from tests.serving.conftest import (
    CUTOFF,
    MODEL,
    WAIT,
    Home,
    Models,
    ingest,
    last_date,
    make_cache,
    make_inference,
    register,
    serving,
    wait_fills,
)
from tests.serving.test_tools import mcp_client, text
from workers.cache import CacheWorker
from workers.inference import InferenceWorker

TODAY = dt.date(2026, 12, 1)
UNKNOWN_SCHEDULE = ("home_rest", "away_rest", "home_b2b", "away_b2b", "season_frac")


@asynccontextmanager
async def served_on(bus: Bus, home: Home, models: Models, today: dt.date) -> AsyncIterator[Client]:
    """The MCP server with cache and inference (v1 champion) whose "today" is ``today``, after the
    games past the base store's end were ingested (the data then ends where the 538 file ends)."""
    await register(home, models.lr1)
    config = home.config(cache=CacheConfig(), inference=InferenceConfig(model_name=MODEL))
    inference = InferenceWorker(await home.context(bus, config), today=lambda: today)
    cache = CacheWorker(await home.context(bus, config), today=lambda: today)
    async with serving(bus, home, cache, inference), mcp_client(bus) as client:
        changed = (cache.features_changed, inference.features_changed)
        await ingest(bus, home.later_csv)
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(e.wait() for e in changed))
        yield client


async def predict(client: Client, **game: Any) -> tuple[dict[str, Any], str]:
    r = await client.call_tool("predict_game", game)
    assert not r.is_error, text(r)
    assert r.structured_content is not None
    return r.structured_content, text(r)


async def test_a_game_years_past_the_data_is_stale_and_says_so(bus: Bus, home: Home, models: Models) -> None:
    end = last_date(home.later_csv)
    with anyio.fail_after(WAIT * 2):
        async with served_on(bus, home, models, TODAY) as client:
            p, t = await predict(client, home="Knicks", away="Celtics", date="2026-12-01")
            opener, _ = await predict(client, home="Knicks", away="Celtics", date="2026-10-21")
            again, t2 = await predict(client, home="NYK", away="BOS", date="2026-12-01")
            instructions = client.instructions or ""
    days = (TODAY - dt.date.fromisoformat(end)).days
    assert end == "2023-05-29" and days == 1282
    assert (p["stale"], p["data_through"], p["days_since_data"], p["seasons_since_data"]) == (
        True, end, days, 4,
    )  # fmt: skip
    assert f"ratings as of {end}, 1,282 days before this game" in t
    assert "season opener" in p["caveat"] and "uncertainty is much wider" in p["caveat"]
    assert p["caveat"] in p["note"] and "NOTE:" in t
    assert "says how old its ratings are" in instructions
    # The schedule facts are unknown, never invented: missing values, said as unknown.
    for name in UNKNOWN_SCHEDULE:
        assert p["features"][name] is None, name
        assert name in p["unknown"]
    assert "unknown (counted as a typical game): both teams' days of rest, both teams' back-to-backs" in t
    assert not re.search(r"\d+ (or more )?days? of rest", t)
    assert all(c["feature"] not in UNKNOWN_SCHEDULE for c in p["contributions"])
    # Ratings carried over four summers the way training carries them over one: carry^4.
    final, move = await _ratings(home)
    c = DEFAULT_ELO.carry
    assert math.isclose(p["features"]["home_elo"], c**4 * (final["NYK"] - 1500.0), abs_tol=0.01)
    assert math.isclose(p["features"]["away_elo"], c**4 * (final["BOS"] - 1500.0), abs_tol=0.01)
    # The wider uncertainty, said: recent seasons' moves, compounded over four summers, both teams.
    gap = math.sqrt(2) * move * math.sqrt((1 - c**8) / (1 - c**2))
    low, high = (win_prob(p["features"]["elo_diff"] + d) for d in (-gap, gap))
    assert f"a team's rating moves about {move:.0f} Elo points in a season" in p["caveat"]
    assert f"the New York Knicks could as well be anywhere from about {low:.0%} to {high:.0%}" in t
    assert high - low > 0.4  # four seasons on, barely more than a coin flip with home court
    # December of a season past the data is predicted as that season's opener would be.
    assert opener["home_win_prob"] == p["home_win_prob"] and opener["stale"] is True
    # The cache answers the same, just as old.
    assert again["cached"] is True and again["days_since_data"] == days and "1,282 days" in t2


async def _ratings(home: Home) -> tuple[dict[str, float], float]:
    """Each team's rating after the data's last game, and the standard deviation of the last 300
    team-seasons' moves (season end minus the carried-over start), from the training code's
    rating series over the store's games (read once the workers are stopped)."""
    store = await open_store(home.store)
    try:
        games = await load_games(store.conn)
    finally:
        await store.close()
    final: dict[str, float] = {}
    season: dict[str, int] = {}
    start: dict[str, float] = {}
    moves: list[float] = []
    for pt in rating_series(games):
        if season.get(pt.team, -1) < pt.season:
            if pt.team in start:
                moves.append(final[pt.team] - start[pt.team])
            start[pt.team], season[pt.team] = pt.rating_before, pt.season
        final[pt.team] = pt.rating_after
    return final, statistics.pstdev(moves[-300:])


async def test_factors_in_a_fans_terms(bus: Bus, home: Home, models: Models) -> None:
    with anyio.fail_after(WAIT * 2):
        async with served_on(bus, home, models, TODAY) as client:
            p, t = await predict(client, home="Knicks", away="Celtics", date="2026-12-01")
    assert p["contributions"]
    for c in p["contributions"]:
        assert c["favours"] == ("NYK" if c["points"] > 0 else "BOS"), c
        assert c["sentence"] and c["sentence"].endswith(".")
        assert f"{abs(c['points']):+.1f} percentage points for {c['favours']}: {c['sentence']}" in t
    # Each factor against its neutral value, through the model itself (the ONNX champion).
    model = OnnxModel.from_bytes(models.lr1.onnx_bytes)
    neutral = neutral_reference(models.lr1.reference, FEATURE_NAMES)
    x = np.array([[math.nan if v is None else v for v in p["features"].values()]], dtype=np.float32)
    base = float(model.predict_proba(x)[0])
    assert math.isclose(base, p["home_win_prob"], abs_tol=1e-6)
    for c in p["contributions"]:
        variant = x.copy()
        j = FEATURE_NAMES.index(c["feature"])
        variant[0, j] = neutral[j]
        assert math.isclose(c["points"], 100 * (base - float(model.predict_proba(variant)[0])), abs_tol=0.01)
    gap = next(c for c in p["contributions"] if c["feature"] == "elo_diff")
    leader, trailer = ("New York Knicks", "Boston Celtics")[:: 1 if gap["value"] > 0 else -1]
    assert gap["sentence"] == (
        f"The {leader} are rated {abs(gap['value']):.0f} Elo points above the {trailer}, home court included."
    )


async def test_fresh_stale_and_a_cached_answer_that_ages(bus: Bus, home: Home, models: Models) -> None:
    """The base store ends on CUTOFF: the next day's game is fresh (its rest days are known), a game
    three weeks on is stale; results of other teams then age the cached answer, not its features."""
    with home.later_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    first = min(r["date"] for r in rows)
    other = [r for r in rows if r["date"] == first and not {r["team1"], r["team2"]} & {"BOS", "LAL"}]
    day = home.root / "other-teams.csv"
    with day.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(other)
    slate = [
        {"home": "Nuggets", "away": "Suns", "date": "2023-04-01"},
        {"home": "Celtics", "away": "Lakers", "date": "2023-04-20"},
    ]
    with anyio.fail_after(WAIT * 2):
        await register(home, models.lr1)
        cache, inference = await make_cache(bus, home), await make_inference(bus, home)
        async with serving(bus, home, cache, inference), mcp_client(bus) as client:
            r = await client.call_tool("predict_games", {"games": slate})
            assert not r.is_error and r.structured_content is not None, text(r)
            await wait_fills(cache, 2)
            changed = (cache.features_changed, inference.features_changed)
            await ingest(bus, day)
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*(e.wait() for e in changed))
            later, t = await predict(client, home="Celtics", away="Lakers", date="2023-04-20")
    fresh, stale = r.structured_content["predictions"]
    assert (fresh["stale"], fresh["data_through"], fresh["days_since_data"]) == (False, CUTOFF, 1)
    assert fresh["features"]["home_rest"] is not None and fresh["unknown"] == [] and fresh["caveat"] == ""
    assert (stale["stale"], stale["days_since_data"], stale["seasons_since_data"]) == (True, 20, 0)
    assert stale["features"]["home_rest"] is None and "home_rest" in stale["unknown"]
    assert "results since then are not in the data" in stale["caveat"]
    assert "1 game after the data's end (2023-03-31)" in r.structured_content["note"]
    assert "stale: ratings as of 2023-03-31, 20 days before" in text(r)
    # Other teams' results: the same features from the cache, its age as of the new data.
    days = (dt.date(2023, 4, 20) - dt.date.fromisoformat(first)).days
    assert later["cached"] is True and later["features"] == stale["features"]
    assert (later["data_through"], later["days_since_data"]) == (first, days)
    assert f"ratings as of {first}, {days} days before this game" in t
