"""predict_game / predict_games end to end: a real MCP client, the real server, real workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import Client

from nbamcp.bus.base import Bus
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from tests.serving.conftest import WAIT, Home, Models, Recorder, make_cache, make_inference, register, serving


@asynccontextmanager
async def mcp_client(bus: Bus) -> AsyncIterator[Client]:
    gw = Gateway(bus, timeout_s=WAIT, expected_workers=["inference", "cache"])
    server = build_server(gw)
    async with Client(server) as client:
        yield client


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


@asynccontextmanager
async def served(bus: Bus, home: Home, models: Models) -> AsyncIterator[Client]:
    """The MCP server over the bus with the cache and inference workers (v1 champion).

    Entered inside each test: the client's task group must start and end in the same task.
    """
    await register(home, models.lr1)
    cache, inference = await make_cache(bus, home), await make_inference(bus, home)
    async with serving(bus, home, cache, inference), mcp_client(bus) as client:
        yield client


async def test_tools_are_listed_with_output_schemas(bus: Bus, home: Home, models: Models) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("predict_game", "predict_games"):
        assert tools[name].output_schema is not None
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint
    props = tools["predict_game"].output_schema["properties"]
    for field in ("home_win_prob", "away_win_prob", "winner", "model_version", "contributions", "features",
                  "cached", "request_id", "result", "source"):  # fmt: skip
        assert field in props
    games = tools["predict_games"].input_schema["properties"]["games"]
    assert games["maxItems"] == 500
    assert "at most 500 games" in (tools["predict_games"].description or "")


async def test_predict_game_then_from_the_cache(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            r = await client.call_tool(
                "predict_game", {"home": "Celtics", "away": "lakers", "date": "2023-04-05"}
            )
            assert not r.is_error, text(r)
            p = r.structured_content
            assert p is not None
            (event,) = await recorder.wait_for(p["request_id"])
            again = await client.call_tool(
                "predict_game", {"home": "BOS", "away": "LAL", "date": "2023-04-05"}
            )
    assert (p["home"], p["away"], p["source"], p["model_version"], p["cached"]) == (
        "BOS",
        "LAL",
        "model",
        1,
        False,
    )
    assert abs(p["home_win_prob"] + p["away_win_prob"] - 1) < 1e-9
    assert p["request_id"] and p["degraded"] is False and p["result"] is None
    t = text(r)
    assert "Los Angeles Lakers @ Boston Celtics, 2023-04-05" in t and "Main factors" in t
    assert p["request_id"] in t
    assert event.client == "mcp"
    q = again.structured_content
    assert q is not None and q["cached"] is True and q["home_win_prob"] == p["home_win_prob"]
    assert "from the cache" in text(again)


async def test_predict_games_slate_with_a_played_game(
    bus: Bus, home: Home, models: Models, serving_data
) -> None:
    played = next(g for g in serving_data.games if g.season == 2023 and g.season_type == "regular")
    games = [
        {"home": "Nuggets", "away": "Suns", "date": "2023-04-10"},
        {"home": played.home, "away": played.away, "date": played.date},
        {"home": "Knicks", "away": "Nets", "date": "2023-04-10", "neutral": True},
    ]
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            r = await client.call_tool("predict_games", {"games": games})
    assert not r.is_error, text(r)
    out = r.structured_content
    assert out is not None and out["count"] == 3 and out["degraded"] is False
    preds = out["predictions"]
    assert [p["home"] for p in preds] == ["DEN", played.home, "NYK"]
    assert preds[1]["result"]["game_id"] == played.game_id and preds[0]["result"] is None
    assert preds[2]["neutral"] is True
    assert "3 games" in text(r) and "actual" in text(r)


async def test_a_full_slate_of_500_fits_in_one_request(bus: Bus, home: Home, models: Models) -> None:
    teams = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL", "SAC"]
    games = [
        {
            "home": teams[i % 11],
            "away": teams[(i + 1 + i // 11) % 11],
            "date": f"2023-{4 + i // 100:02d}-{1 + i % 28:02d}",
        }
        for i in range(600)
    ]
    games = [g for g in games if g["home"] != g["away"]][:500]
    with anyio.fail_after(WAIT):
        async with served(bus, home, models) as client:
            r = await client.call_tool("predict_games", {"games": games})
    assert not r.is_error, text(r)[:500]
    assert r.structured_content is not None and r.structured_content["count"] == 500


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    (
        "predict_game",
        {"home": "Zorblats", "away": "Lakers"},
        "not_found: home team: no team matches 'Zorblats'",
    ),
    ("predict_game", {"home": "Celtics", "away": "BOS"}, "same team"),
    (
        "predict_game",
        {"home": "BOS", "away": "LAL", "date": "1900-01-01"},
        "before the first BAA/NBA game",
    ),
    ("predict_game", {"home": "BOS", "away": "LAL", "date": "2023-02-30"}, "does not exist"),
    ("predict_game", {"home": "BOS", "away": "LAL", "date": "3023-01-01"}, "too far ahead"),
    (
        "predict_game",
        {"home": "BOS", "away": "LAL", "date": "05/01/2023"},
        "invalid_input: date: expected a date YYYY-MM-DD, got '05/01/2023'",
    ),
    (
        "predict_game",
        {"home": 5, "away": "LAL"},
        "invalid_input: home: expected str, got int (accepted: text",
    ),
    ("predict_game", {"home": "BOS", "away": "LAL", "neutral": "yes"}, "neutral: expected bool, got str"),
    ("predict_game", {"home": "BOS"}, "invalid_input: away: missing (it is required)"),
    ("predict_games", {"games": []}, "invalid_input: games: expected array of length >= 1"),
    ("predict_games", {"games": "BOS-LAL"}, "invalid_input: games: expected array, got str"),
    (
        "predict_games",
        {"games": [{"home": "BOS", "away": "LAL", "venue": "TD Garden"}]},
        "invalid_input: games[0].venue: unknown field (accepted: home, away, date, neutral)",
    ),
    (
        "predict_games",
        {"games": [{"home": "BOS", "away": "LAL"}] * 10_000},
        "games: expected array of length <= 1000",
    ),
    ("predict_games", {"games": [{"home": "BOS", "away": "LAL"}] * 501}, "accepted: 1 to 500 games"),
    (
        "predict_games",
        {"games": [{"home": "BOS", "away": "LAL"}, {"home": "Heat", "away": "Miami"}]},
        "games[1]: home and away are the same team",
    ),
]


async def test_bad_input_is_a_clear_error(bus: Bus, home: Home, models: Models, recorder: Recorder) -> None:
    # One server for every case (starting the workers is the slow part).
    with anyio.fail_after(WAIT * 2):
        async with served(bus, home, models) as client:
            for tool, args, needle in BAD_INPUT:
                r = await client.call_tool(tool, args)
                assert r.is_error, (tool, args)
                assert needle in text(r), (needle, text(r))
                assert "Traceback" not in text(r)
    assert recorder.events == []  # nothing logged


async def test_degraded_without_inference_worker(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    async with serving(bus, home, await make_cache(bus, home)), mcp_client(bus) as client:
        with anyio.fail_after(WAIT):
            r = await client.call_tool(
                "predict_game", {"home": "Warriors", "away": "Kings", "date": "2023-04-15"}
            )
    assert not r.is_error, text(r)
    p = r.structured_content
    assert p is not None and p["degraded"] is True and p["source"] == "baseline" and p["model_version"] == 0
    assert "Elo rating baseline" in p["note"] and "NOTE:" in text(r)
