"""The live season over a real MCP client: ``schedule`` and ``predict_game`` with no date.

The recorded ScheduleLeagueV2 answer (tests/data/recordings) is ingested into the home's
store; the stats worker publishes it into the data bucket, the inference and cache workers
replay it from there (they never open the store), and every worker's "today" is
2026-12-02, the day the recording was made.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from nbamcp.bus.base import Bus
from nbamcp.config import CacheConfig, InferenceConfig, StatsConfig, TrainerConfig
from nbamcp.data.live_schedule import ingest_live_schedule
from nbamcp.data.store import open_store
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from tests.serving.conftest import MODEL, WAIT, Home, Models, register, running
from workers.cache import CacheWorker
from workers.inference import InferenceWorker
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

RECORDING = Path(__file__).resolve().parents[1] / "data" / "recordings" / "scheduleleaguev2_2026-27.json"
TODAY = dt.date(2026, 12, 2)


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


@asynccontextmanager
async def served(bus: Bus, home: Home, models: Models, *, schedule: bool = True) -> AsyncIterator[Client]:
    if schedule:
        async with await open_store(home.store) as store:
            await ingest_live_schedule(store, 2027, response=json.loads(RECORDING.read_text()))
    await register(home, models.lr1)

    def today() -> dt.date:
        return TODAY

    stats = StatsWorker(
        await home.context(bus, home.config(stats=StatsConfig(auto_ingest=False))), today=today
    )
    trainer = TrainerWorker(
        await home.context(bus, home.config(trainer=TrainerConfig(model_name=MODEL, auto_train=False)))
    )
    inference_cfg = InferenceConfig(model_name=MODEL)
    inference = InferenceWorker(await home.context(bus, home.config(inference=inference_cfg)), today=today)
    cache = CacheWorker(
        await home.context(bus, home.config(cache=CacheConfig(), inference=inference_cfg)), today=today
    )
    async with running(stats, trainer, cache, inference):
        gw = Gateway(bus, timeout_s=WAIT, expected_workers=["stats", "inference", "cache"])
        async with Client(build_server(gw)) as client:
            yield client


async def test_schedule_lists_the_days_games_with_predictions(bus: Bus, home: Home, models: Models) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            day = await client.call_tool("schedule", {"date": "2026-12-04"})
            celtics = await client.call_tool("schedule", {"team": "Celtics", "days": 60})
            today = await client.call_tool("schedule", {})
    spec = tools["schedule"]
    assert (
        spec.output_schema is not None and spec.title and spec.annotations and spec.annotations.read_only_hint
    )
    assert {"date", "team", "days", "limit"} <= set(spec.input_schema["properties"])
    assert not day.is_error, text(day)
    out = day.structured_content
    assert out is not None and out["total"] == 2 and out["degraded"] is False
    games = out["games"]
    assert [(g["home"], g["away"], g["game_id"]) for g in games] == [
        ("BOS", "NYK", "0022600325"),
        ("MIA", "PHI", "0022600326"),
    ]
    p = games[0]["prediction"]
    assert p["date"] == "2026-12-04" and p["source"] == "model" and p["model_version"] == 1
    # The store's results end in 2023: the predictions say how old their ratings are.
    assert p["stale"] is True and p["data_through"] == "2023-03-31"
    assert "2 predictions from ratings as of 2023-03-31" in out["note"]
    assert "nbamcp ingest --live" in out["note"]
    t = text(day)
    assert "2 scheduled games on 2026-12-04" in t and "New York Knicks @ Boston Celtics" in t
    assert "00:30 UTC" in t  # 19:30 Eastern
    c = celtics.structured_content
    assert c is not None and [g["date"] for g in c["games"]] == ["2026-12-04", "2026-12-25", "2027-01-14"]
    # No date: the workers' today, 2026-12-02; its one game not played yet tips off at 22:30 Eastern.
    d = today.structured_content
    assert d is not None and [g["game_id"] for g in d["games"]] == ["0022600311"]


async def test_predict_game_without_a_date_is_the_next_meeting(bus: Bus, home: Home, models: Models) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            home_game = await client.call_tool("predict_game", {"home": "Celtics", "away": "Knicks"})
            again = await client.call_tool("predict_game", {"home": "BOS", "away": "NYK"})
            away_game = await client.call_tool("predict_game", {"home": "Knicks", "away": "Celtics"})
            neutral = await client.call_tool("predict_game", {"home": "Nuggets", "away": "Bucks"})
            unscheduled = await client.call_tool("predict_game", {"home": "Lakers", "away": "Heat"})
            named = await client.call_tool(
                "predict_game", {"home": "Celtics", "away": "Knicks", "date": "2026-12-04"}
            )
    for r in (home_game, again, away_game, neutral, unscheduled, named):
        assert not r.is_error, text(r)
    h = home_game.structured_content
    assert h is not None and (h["date"], h["scheduled_game_id"]) == ("2026-12-04", "0022600325")
    assert "no date given: the teams' next scheduled meeting, 2026-12-04" in h["note"]
    # The same question again comes from the cache, still said to be the scheduled meeting.
    a = again.structured_content
    assert a is not None and a["cached"] is True and a["scheduled_game_id"] == "0022600325"
    assert a["home_win_prob"] == h["home_win_prob"]
    w = away_game.structured_content
    assert w is not None and (w["date"], w["scheduled_game_id"]) == ("2026-12-25", "0022600400")
    n = neutral.structured_content
    assert n is not None and n["date"] == "2027-01-22" and n["neutral"] is True  # Paris
    u = unscheduled.structured_content
    assert u is not None and u["date"] == "2026-12-02" and u["scheduled_game_id"] is None
    assert "no date given: predicted for today (2026-12-02)" in u["note"]
    m = named.structured_content
    assert m is not None and m["scheduled_game_id"] is None and "no date given" not in m["note"]


async def test_no_schedule_fetched_says_how_to_fetch_it(bus: Bus, home: Home, models: Models) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home, models, schedule=False) as client:
            r = await client.call_tool("schedule", {"date": "2026-12-04"})
            bad = await client.call_tool("schedule", {"date": "2026-13-04"})
    assert not r.is_error, text(r)
    out = r.structured_content
    assert out is not None and out["total"] == 0 and out["games"] == []
    assert "nbamcp ingest --live" in out["note"] and out["schedule_through"] is None
    assert bad.is_error and text(bad).startswith("invalid_input: date")
