"""What an MCP client sees: metadata, published bounds, argument errors and protocol errors.

Over the SDK's in-process client against the real server (transport does not matter here);
the stats worker answers from a copy of the real store where a test needs data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from nbamcp.data.queries.statline import COUNTING, PCTS
from nbamcp.messages.fields import STAT_NAMES
from tests.frontend.conftest import WAIT, served, text

ADMIN = {"ingest_games", "train_model", "promote_model", "accept_games"}


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node that says what a value is, with its path."""
    out = []
    if isinstance(node, dict):
        if "type" in node or "enum" in node:
            out.append((path, node))
        for key in ("properties",):
            for name, child in node.get(key, {}).items():
                out += _walk(child, f"{path}.{name}")
        if "items" in node:
            out += _walk(node["items"], f"{path}[]")
        for i, branch in enumerate(node.get("anyOf", [])):
            out += _walk(branch, f"{path}|{i}")
    return out


async def test_every_tool_resource_and_prompt_says_what_it_is(tmp_path: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(tmp_path, data_dir, workers=False) as client:
            tools = (await client.list_tools()).tools
            resources = (await client.list_resources()).resources
            templates = (await client.list_resource_templates()).resource_templates
            prompts = (await client.list_prompts()).prompts
    assert len(tools) == 25
    for tool in tools:
        assert tool.title and tool.description, tool.name
        assert "\n " not in tool.description and "  " not in tool.description, tool.name
        ann = tool.annotations
        assert ann is not None
        assert ann.read_only_hint is (tool.name not in ADMIN), tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), (tool.name, name)
            # An example for every parameter, booleans too (what true means is not always plain).
            assert prop.get("examples") or "e.g." in prop["description"], (tool.name, name)
        assert tool.input_schema.get("additionalProperties") is False
        # Bounded work: every string has a length limit, every list a size, every integer a range.
        for path, node in _walk(tool.input_schema):
            kind = node.get("type")
            if kind == "string" and "enum" not in node:
                assert "maxLength" in node, (tool.name, path)
            elif kind == "array":
                assert "maxItems" in node, (tool.name, path)
            elif kind == "integer":
                assert "minimum" in node and "maximum" in node, (tool.name, path)
        # Nullable output fields as anyOf of single types (the Inspector's --strict wants that).
        for path, node in _walk(tool.output_schema or {}):
            assert not isinstance(node.get("type"), list), (tool.name, path)
    by_name = {t.name: t for t in tools}
    assert by_name["train_model"].annotations.idempotent_hint is False
    assert by_name["ingest_games"].annotations.idempotent_hint is True
    assert by_name["find_player"].annotations.idempotent_hint is True
    stat = by_name["league_leaders"].input_schema["properties"]["stat"]
    assert {"pts", "ast", "points", "assists", "apg", "rebounds"} <= set(stat["enum"])
    for item in [*resources, *templates, *prompts]:
        assert item.title and item.description, item.name
    for prompt in prompts:
        for arg in prompt.arguments or []:
            assert arg.description and arg.required, (prompt.name, arg.name)


def test_the_stat_names_are_the_stat_columns() -> None:
    assert set(STAT_NAMES) == {"gp", "gs", "min", *COUNTING, *PCTS, "per", "usg_pct", "ws",
                               "ws_per48", "bpm", "vorp"}  # fmt: skip


HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("find_player", {"query": "a" * 100_000}, "query: expected str of length <= 64, got a string of 100000"),
    ("find_player", {"query": "jokic", "limit": True}, "limit: expected int, got bool"),
    ("find_player", {"query": "jokic", "limit": 2**63}, "limit: expected int <= 50, got 9223372036854775808"),
    ("find_player", {"query": "jokic", "limit": -(2**80)}, "limit: expected int >= 1"),
    ("find_player", {"query": "jok\x00ic"}, "query: expected printable characters"),
    ("find_player", {"query": "jokic", "zz": 1}, "zz: unknown parameter (accepted: query, limit)"),
    ("find_player", {}, "query: missing (it is required)"),
    ("games", {"season": True}, "season: expected int | str | null, got bool"),
    ("games", {"limit": 5000}, "limit: expected int <= 100, got 5000 (accepted: an integer from 1 to 100"),
    ("compare_players", {"players": ["LeBron James"] * 6}, "players: expected array of length <= 5"),
    ("compare_players", {"players": {"a": {"b": [[[]]]}}}, "players: expected array, got object"),
    ("league_leaders", {"stat": "dunks", "season": 2016}, "stat: invalid enum value 'dunks'"),
    ("promote_model", {"version": True, "alias": "champion"}, "version: expected int, got bool"),
    ("promote_model", {"version": 2**64, "alias": "champion"}, "version: expected int <= 2147483647"),
    ("train_model", {"seed": 1.5}, "seed: expected int | null, got float"),
    ("train_model", {"job_id": "mine"}, "job_id: unknown parameter"),
    ("predict_games", {"games": [{"home": "BOS", "away": "LAL", "x": 1}]}, "games[0].x: unknown field"),
    ("ingest_games", {"paths": ["/data/\x00x.csv"]}, "paths[0]: expected printable characters"),
    ("ingest_games", {"paths": ["x"] * 33}, "paths: expected array of length <= 32"),
    ("drift_report", {"window_predictions": 10}, "window_predictions: expected int >= 30"),
    ("calibration_report", {"since": "yesterday"}, "since: expected str of length >= 10"),
]


@pytest.mark.parametrize(("tool", "args", "needle"), HOSTILE, ids=[f"{t}-{n[:24]}" for t, _, n in HOSTILE])
async def test_bad_arguments_are_invalid_input_naming_the_parameter(
    tmp_path: Path, data_dir: Path, tool: str, args: dict[str, Any], needle: str
) -> None:
    with anyio.fail_after(WAIT):
        async with served(tmp_path, data_dir, workers=False) as client:
            r = await client.call_tool(tool, args)
    assert r.is_error
    msg = text(r)
    assert msg.startswith(f"invalid_input: {needle}"), msg
    assert "(accepted: " in msg and "request id" in msg
    for leak in ("Error executing tool", "pydantic", "validation error", "Traceback", "a" * 100):
        assert leak not in msg


async def test_worker_errors_lead_with_their_code(tmp_path: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(tmp_path, data_dir, workers=False) as client:
            r = await client.call_tool("list_models", {})
    assert r.is_error and text(r).startswith("unavailable: no worker answers nba.models.list"), text(r)


async def test_protocol_errors_are_invalid_params(tmp_path: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(tmp_path, data_dir, workers=False) as client:
            calls = [
                (client.call_tool, ("no_such_tool", {}), "no tool named 'no_such_tool' (accepted: health,"),
                (client.get_prompt, ("no_such_prompt", {}), "no prompt named 'no_such_prompt'"),
                (client.get_prompt, ("game_preview", {"home": "BOS"}), "away: missing"),
                (client.get_prompt, ("game_preview", {"home": "BOS", "away": "x" * 1000}), "is not a name"),
                (client.get_prompt, ("scouting_report", {"player": "x", "team": "y"}), "unknown argument"),
                (client.read_resource, ("nba://nothing/here",), "Unknown resource"),
            ]
            for call, args, needle in calls:
                with pytest.raises(MCPError) as caught:
                    await call(*args)
                assert caught.value.error.code == INVALID_PARAMS, (args, caught.value.error)
                assert needle in caught.value.error.message, caught.value.error.message


async def test_resource_arguments_the_caller_got_wrong_are_invalid_params(
    stats_home: Path, data_dir: Path
) -> None:
    """A resource URI whose parts are wrong is the caller's error (-32602, the code first), checked
    at the front end where it can be; -32603 was answered before (found by tests/fuzz)."""
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            cases = [
                (
                    "nba://models/" + "a" * 65 + "/champion",
                    "invalid_input: name: expected str of length <= 64",
                ),
                ("nba://models/game/%20x", "invalid_input: version: "),
                ("nba://leaders/2100/pts", "invalid_input: no player stats for season 2100"),
                ("nba://leaders/abc/pts", "invalid_input: season: "),
            ]
            for uri, needle in cases:
                with pytest.raises(MCPError) as caught:
                    await client.read_resource(uri)
                assert caught.value.error.code == INVALID_PARAMS, (uri, caught.value.error)
                assert caught.value.error.message.startswith(needle), (uri, caught.value.error.message)
                assert "nba.models" not in caught.value.error.message  # checked here, not by the worker


async def test_stat_aliases_and_json_encoded_lists(stats_home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            results = {
                alias: await client.call_tool("league_leaders", {"stat": alias, "season": 2016, "limit": 1})
                for alias in ("assists", "Assists", "APG", " ast ")
            }
            rebounds = await client.call_tool(
                "league_leaders", {"stat": "rebounds", "season": 2016, "limit": 1}
            )
            cmp_ = await client.call_tool(
                "compare_players",
                {"players": '["Stephen Curry", "LeBron James"]', "stats": ["Points", "apg"]},
            )
    for alias, r in results.items():
        assert not r.is_error, (alias, text(r))
        assert r.structured_content["stat"] == "ast"
        assert r.structured_content["leaders"][0]["name"] == "Rajon Rondo"
    assert rebounds.structured_content["stat"] == "reb"
    assert not cmp_.is_error, text(cmp_)
    assert cmp_.structured_content["stats"] == ["pts", "ast"]


async def test_counts_in_texts_are_integers(stats_home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            totals = await client.call_tool(
                "player_season_stats", {"player": "Michael Jordan", "season": 1996, "per": "total"}
            )
            leaders = await client.call_tool(
                "league_leaders", {"stat": "pts", "season": 1996, "per": "total", "limit": 1}
            )
    assert "2491 pts" in text(totals) and "2491.0" not in text(totals)
    assert text(leaders).rstrip().endswith("2491")


async def test_a_raw_bus_client_meets_the_same_validation(stats_home: Path, data_dir: Path) -> None:
    """The stats worker decodes the same Struct: a hostile message gets the MCP client's words."""
    import msgspec

    from nbamcp.actor import open_context
    from nbamcp.bus import InMemoryBus
    from nbamcp.messages import ErrorReply, decode
    from tests.frontend.conftest import stats_config
    from workers.stats import StatsWorker

    bus = InMemoryBus()
    raw = {"type": "FindPlayerRequest", "query": "a" * 100_000, "limit": True}
    async with open_context(bus, stats_config(stats_home, data_dir)) as ctx:
        worker = StatsWorker(ctx)
        try:
            with anyio.fail_after(WAIT):
                await worker.start()
                reply = await bus.request("nba.stats.find_player", msgspec.msgpack.encode(raw), timeout=WAIT)
                async with served(stats_home, data_dir, workers=False) as client:
                    mcp = await client.call_tool("find_player", {"query": "a" * 100_000, "limit": True})
        finally:
            with anyio.CancelScope(shield=True):
                await worker.stop(5.0)
    await bus.close()
    err = decode(reply.data, ErrorReply)
    assert err.code == "invalid_input" and err.details["param"] == "query"
    words = err.message.removesuffix("; in a message on nba.stats.find_player")
    assert words != err.message and text(mcp).startswith(f"invalid_input: {words} (request id")


async def test_the_tool_names_kept_between_calls_still_refuse_and_find(tmp_path: Path) -> None:
    """The guard keeps the tool names from one call to the next (listing every tool per call cost
    ~0.3 ms): an unknown name is still refused after a known one, a tool added later still found."""
    from mcp import Client

    from nbamcp.bus import InMemoryBus
    from nbamcp.config import Config
    from nbamcp.frontend.app import build_server
    from nbamcp.frontend.gateway import Gateway

    async def added_later() -> str:
        return "here"

    bus = InMemoryBus()
    server = build_server(Gateway(bus, timeout_s=WAIT, expected_workers=[]), Config())
    try:
        with anyio.fail_after(WAIT):
            async with Client(server) as client:
                assert not (await client.call_tool("health", {})).is_error
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("added_later", {})
                assert "no tool named 'added_later'" in caught.value.error.message
                server.add_tool(added_later)
                r = await client.call_tool("added_later", {})
                assert not r.is_error and text(r) == "here", r
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("no_such_tool", {})
                assert caught.value.error.code == INVALID_PARAMS
    finally:
        await bus.close()
