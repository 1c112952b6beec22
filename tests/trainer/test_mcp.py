"""Model admin over MCP end to end: a real MCP client, the real server, the trainer on the bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from nbamcp.bus.base import Bus
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from nbamcp.ml.registry import ModelRegistry
from tests.trainer.conftest import WAIT, Home, finished, make_trainer, progress_events, running


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


@asynccontextmanager
async def served(bus: Bus, home: Home, **settings: object) -> AsyncIterator[Client]:
    gw = Gateway(bus, timeout_s=WAIT, expected_workers=["trainer"])
    server = build_server(gw)
    async with running(await make_trainer(bus, home, **settings)), Client(server) as client:
        yield client


class Notes:
    """The progress notifications of one tool call."""

    def __init__(self) -> None:
        self.items: list[tuple[float, float | None, str | None]] = []
        self.first = anyio.Event()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.items.append((progress, total, message))
        if progress > 0:
            self.first.set()


async def test_train_list_promote_and_read_the_card(bus: Bus, home: Home) -> None:
    notes = Notes()
    with anyio.fail_after(WAIT):
        async with served(bus, home) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            first = await client.call_tool("train_model", {"train_from": 2016}, progress_callback=notes)
            second = await client.call_tool("train_model", {"train_from": 2017, "seed": 3})
            listed = await client.call_tool("list_models", {})
            promoted = await client.call_tool("promote_model", {"version": 2, "alias": "champion"})
            challenger = await client.call_tool("promote_model", {"version": 1, "alias": "challenger"})
            unknown = await client.call_tool("promote_model", {"version": 9, "alias": "champion"})
            card = await client.read_resource("nba://models/game/2")
            by_alias = await client.read_resource("nba://models/game/challenger")
            templates = (await client.list_resource_templates()).resource_templates

    assert not first.is_error, text(first)
    r1 = first.structured_content
    assert r1 is not None and (r1["version"], r1["promoted"], r1["aliases"]) == (1, True, ["champion"])
    assert r1["train_seasons"] == list(range(2016, 2022)) and "Trained game v1" in text(first)
    progress = [p for p, _, _ in notes.items]
    assert progress == sorted(progress) and progress[0] == 0.0 and progress[-1] == 100.0
    assert len(progress) >= 5 and all(total == 100.0 for _, total, _ in notes.items)
    assert all(m for _, _, m in notes.items)

    r2 = second.structured_content
    assert r2 is not None and (r2["version"], r2["promoted"], r2["aliases"]) == (2, False, [])
    assert "promote_model(version=2" in text(second)

    models = listed.structured_content
    assert models is not None and [m["version"] for m in models["models"]] == [1, 2]
    assert models["aliases"] == {"game": {"champion": 1}}
    assert "v1 [champion]" in text(listed)

    moved = promoted.structured_content
    assert moved is not None and (moved["version"], moved["previous_version"]) == (2, 1)
    assert moved["actor"] == "mcp promote_model" and "was v1" in text(promoted)
    assert not challenger.is_error
    assert unknown.is_error and "not_found: model 'game' has no version or alias 9; versions: 1, 2" in text(
        unknown
    )

    doc = json.loads(card.contents[0].text)  # type: ignore[union-attr]
    assert (doc["uri"], doc["version"], doc["aliases"]) == ("nba://models/game/2", 2, ["champion"])
    assert doc["params"]["train_seasons"] == list(range(2017, 2022))
    assert [(a["from_version"], a["to_version"], a["actor"]) for a in doc["audit"]] == [
        (1, 2, "mcp promote_model")
    ]
    assert json.loads(by_alias.contents[0].text)["version"] == 1  # type: ignore[union-attr]
    assert "nba://models/{name}/{version}" in [t.uri_template for t in templates]

    for name in ("train_model", "promote_model"):
        ann = tools[name].annotations
        assert ann is not None and ann.read_only_hint is False
    assert tools["train_model"].output_schema is not None
    assert "version" in tools["train_model"].output_schema["properties"]
    assert tools["list_models"].output_schema is not None

    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        audit = await reg.audit("game")
    assert [(a.alias, a.from_version, a.to_version, a.actor) for a in audit] == [
        ("champion", None, 1, "mcp train_model"),
        ("champion", 1, 2, "mcp promote_model"),
        ("challenger", None, 1, "mcp promote_model"),
    ]


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        (
            "promote_model",
            {"version": 9, "alias": "champion"},
            "not_found: no model named 'game'; registered",
        ),
        ("promote_model", {"version": 1, "alias": "king"}, "champion"),
        ("promote_model", {"version": 0, "alias": "champion"}, "invalid_input: version: expected int >= 1"),
        ("train_model", {"valid_seasons": 0}, "invalid_input: valid_seasons: expected int >= 1"),
        ("train_model", {"train_from": 2030}, "invalid_input: train_from 2030 is after the last season"),
        ("train_model", {"train_from": 2022}, "at least 2 are needed"),
        ("list_models", {"name": "nope"}, "not_found: no model named 'nope'"),
    ],
)
async def test_bad_inputs_are_clear_errors(
    bus: Bus, home: Home, tool: str, args: dict, expected: str
) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home) as client:
            r = await client.call_tool(tool, args)
    assert r.is_error
    assert expected in text(r)


async def test_unknown_model_card_is_not_found(bus: Bus, home: Home) -> None:
    with anyio.fail_after(WAIT):
        async with served(bus, home) as client:
            with pytest.raises(MCPError, match="no model named 'game'"):
                await client.read_resource("nba://models/game/1")


async def test_cancelling_the_call_cancels_the_job(bus: Bus, home: Home) -> None:
    events = await progress_events(bus, "nba.train.progress.>")
    notes = Notes()
    with anyio.fail_after(WAIT):
        async with served(bus, home, budget="small") as client:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("train_model", {"train_from": 2016}, progress_callback=notes)

                tg.start_soon(call)
                await notes.first.wait()  # the job is running
                tg.cancel_scope.cancel()
            await events.wait_until(finished)
            listed = await client.call_tool("list_models", {})

    last = events.items[-1]
    assert last.state == "cancelled" and last.error is not None and last.error.code == "cancelled"
    assert last.fraction < 1.0
    assert listed.structured_content is not None and listed.structured_content["models"] == []


async def test_no_trainer_on_the_bus_is_unavailable(bus: Bus) -> None:
    gw = Gateway(bus, timeout_s=WAIT, expected_workers=[])
    with anyio.fail_after(WAIT):
        async with Client(build_server(gw)) as client:
            r = await client.call_tool("train_model", {})
            listed = await client.call_tool("list_models", {})
    assert r.is_error and "unavailable: no worker answers nba.train.jobs" in text(r)
    assert listed.is_error and "unavailable" in text(listed)
