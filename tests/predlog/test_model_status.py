"""The ``model_status`` MCP tool, end to end in process: an MCP client, the front end, the monitor.

The registry holds two real models (logistic regressions trained on real
seasons and exported to ONNX), champion v1 and challenger v2; both "serve"
a real game day (shadow traffic), the day's results are ingested, and the tool
must report the aliases, the offline metrics the registry recorded, the traffic
mode and the realized metrics per version.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from nbamcp import endpoints as ep
from nbamcp.actor import open_context
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.memory import InMemoryBus
from nbamcp.config import Config, MonitorConfig, PathsConfig, StatsConfig, TrainerConfig
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.status import render_status, status_tools
from nbamcp.frontend.tooling import build_tool
from nbamcp.messages import MonitorStatus
from nbamcp.streams import publish_durable
from tests.predlog.realgames import event_for, ingest_rows, ingest_via_stats, on_dates, read_rows, to_games
from workers.monitor import MonitorWorker
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

DAY = "2023-01-15"


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A home whose registry has champion v1 and challenger v2 of the model "game"."""
    home = tmp_path_factory.mktemp("registry-home")
    asyncio.run(_train_and_register(home, data_dir))
    return home


async def _train_and_register(home: Path, data_dir: Path) -> None:
    from nbamcp.data.games import load_games
    from nbamcp.data.store import open_store
    from nbamcp.ml.registry import ModelRegistry
    from nbamcp.ml.train import SMALL_BUDGET, register_result, train

    config = Config(paths=PathsConfig(home=str(home)))
    header, rows = read_rows(data_dir, lambda r: 2017 <= int(r["season"]) <= 2021)
    await ingest_rows(config.store_path, header, rows, home / "csv", "seasons")
    store = await open_store(config.store_path)
    try:
        games = await load_games(store.conn)
    finally:
        await store.close()
    registry = await ModelRegistry.open(config.registry_path, config.artifacts_dir)
    try:
        for c in (1.0, 0.01):
            budget = msgspec.structs.replace(SMALL_BUDGET, candidates=("logreg",), lr_cs=(c,), cv_folds=1)
            result = train(games, train_seasons=[2018, 2019, 2020], valid_seasons=[2021], budget=budget)
            await register_result(registry, "game", result)
        await registry.set_alias("game", "champion", 1, actor="test", reason="first model")
        await registry.set_alias("game", "challenger", 2, actor="test", reason="stronger regularisation")
    finally:
        await registry.close()
    (config.store_path).unlink()  # each test brings its own store


def status_server(gw: Gateway) -> MCPServer:
    """The front end with this module's tools only (app.py adds them beside the others)."""
    return MCPServer(
        name="nbamcp-test", tools=[build_tool(spec, deadline_s=60.0) for spec in status_tools(gw)]
    )


class Rig:
    def __init__(
        self, config: Config, bus: InMemoryBus, monitor: MonitorWorker, events: DurableStream
    ) -> None:
        self.config = config
        self.bus = bus
        self.monitor = monitor
        self.events = events
        self.server = status_server(Gateway(bus, timeout_s=5.0, expected_workers=["monitor"]))


@pytest.fixture
async def rig(tmp_path: Path, trained_home: Path, data_dir: Path) -> AsyncIterator[Rig]:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("csv", "store.sqlite*"))
    config = Config(
        paths=PathsConfig(home=str(home), data_dir=str(data_dir)),
        monitor=MonitorConfig(max_delay_s=0.01),
        trainer=TrainerConfig(auto_train=False),
        stats=StatsConfig(auto_ingest=False),
    )
    bus = InMemoryBus()
    async with open_context(bus, config) as ctx:
        # The trainer owns the registry: the monitor asks it for the aliases and offline metrics;
        # the results come from the stats worker's announcement.
        monitor = MonitorWorker(ctx)
        actors = [StatsWorker(ctx), TrainerWorker(ctx), monitor]
        for actor in actors:
            await actor.start()
        try:
            yield Rig(config, bus, monitor, ctx.events)
        finally:
            for actor in reversed(actors):
                await actor.stop()
    await bus.close()


async def test_model_status_reports_aliases_offline_and_realized_metrics(rig: Rig, data_dir: Path) -> None:
    header, rows = on_dates(data_dir, DAY)
    games = to_games(rows)
    for i, g in enumerate(games):  # shadow traffic: both versions score every request
        await publish_durable(
            rig.events, ep.PREDICTION_EVENTS, event_for(g, f"r{i}", prob=g.elo_prob, version=1)
        )
        await publish_durable(rig.events, ep.PREDICTION_EVENTS, event_for(g, f"r{i}", prob=0.55, version=2))
    await ingest_via_stats(rig.bus, tmp_dir(rig), header, rows, "day")
    async with asyncio.timeout(20):
        while rig.monitor.resolved < 2 * len(games):
            await rig.monitor.consumers["monitor"].wait_progress(20)

    async with Client(rig.server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["model_status"].output_schema is not None
        result = await client.call_tool("model_status", {})
    assert not result.is_error
    st = msgspec.convert(result.structured_content, MonitorStatus)
    [model] = st.models
    assert model.name == "game" and st.registry == "ok"
    assert model.champion is not None and model.challenger is not None
    assert (model.champion.version, model.challenger.version) == (1, 2)
    assert model.champion.model_kind == "logreg"
    offline = model.champion.offline
    assert offline.valid_seasons == [2021] and offline.n is not None and offline.n > 1000
    assert offline.brier is not None and 0.15 < offline.brier < 0.3
    assert st.traffic_mode == rig.config.inference.traffic
    by_version = {r.model_version: r for r in st.realized}
    assert by_version[1].role == "champion" and by_version[2].role == "challenger"
    assert by_version[1].n_games == by_version[2].n_games == len(games)
    wins = sum(g.home_won for g in games)
    assert by_version[2].accuracy == pytest.approx(wins / len(games), abs=1e-4)  # 0.55: always the home team
    text = result.content[0].text  # type: ignore[union-attr]
    assert "champion: v1 (logreg" in text and "challenger: v2" in text
    assert f"game v1 (champion): {len(games)} games" in text
    assert text == render_status(st)


async def test_model_status_without_a_monitor_is_a_clear_error(tmp_path: Path) -> None:
    server = status_server(Gateway(InMemoryBus(), timeout_s=1.0, expected_workers=[]))
    async with Client(server) as client:
        result = await client.call_tool("model_status", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "unavailable: no worker answers nba.monitor.status" in text and "monitor" in text


def test_status_text_without_models_or_results() -> None:
    st = MonitorStatus(
        models=[], traffic_mode="champion", realized=[], pending=3, predictions_seen=3, results_events=0
    )
    text = render_status(st)
    assert "No registered models" in text and "No realized results yet" in text
    assert "3 predictions logged, 3 awaiting results" in text


def tmp_dir(rig: Rig) -> Path:
    return rig.config.home / "csv"
