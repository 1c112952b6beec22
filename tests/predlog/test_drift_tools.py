"""``drift_report`` and ``calibration_report`` end to end: an MCP client, the front end, the monitor and
the trainer (whose champion's reference sample the monitor fetches from the model store), on the
in-process bus and on NATS (JetStream events, the NATS object store).

The champion is a real logistic regression trained on real seasons (2016-2020, 538's games file);
the served feature rows are the rows the same feature code computes for real games of 2019 and
2020 that are NOT in the reference sample, with the champion's own probabilities, and their real
results. "Stable": those rows as they are. "Drifted": the next games with their feature history
lost (ratings at the mean, no form), the failure a serving state that lost its results would show.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import msgspec
import numpy as np
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from nbamcp import endpoints as ep
from nbamcp.actor import open_context
from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.link import CONNECTED, DISCONNECTED
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import Config, MonitorConfig, PathsConfig, TrainerConfig
from nbamcp.frontend.drift import drift_tools
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import build_tool
from nbamcp.messages import (
    Alert,
    CalibrationReport,
    DriftReport,
    GameRow,
    GamesIngested,
    MonitorReport,
    MonitorReportRequest,
    PredictionEvent,
    RetrainTrigger,
    decode,
)
from nbamcp.monitoring.calibration import reliability
from nbamcp.streams import publish_durable
from tests.conftest import NatsServer, restart_nats_server, start_nats_server, stop_nats_server
from workers.monitor import MonitorWorker
from workers.trainer import TrainerWorker

TRAIN, VALID = [2016, 2017, 2018], [2019, 2020]
W = 150  # games per window: a few weeks of a season


@dataclass(frozen=True)
class Served:
    """Feature rows of real games outside the champion's reference sample, date order."""

    names: list[str]
    feature_set: str
    games: list[GameRow]
    X: np.ndarray
    p: np.ndarray  # the champion's P(home win) for each row


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Served]:
    from nbamcp.ml.features import build_training_matrix
    from nbamcp.ml.registry import ModelRegistry
    from nbamcp.ml.train import SMALL_BUDGET, register_result, train
    from tests.ml.csv_games import load_csv_games

    home = tmp_path_factory.mktemp("drift-home")
    games = load_csv_games(season_from=2013)
    games = [g for g in games if g.season <= max(VALID)]
    budget = msgspec.structs.replace(SMALL_BUDGET, candidates=("logreg",), lr_cs=(1.0,), cv_folds=1)
    result = train(games, train_seasons=TRAIN, valid_seasons=VALID, budget=budget)

    async def register() -> None:
        config = Config(paths=PathsConfig(home=str(home)))
        registry = await ModelRegistry.open(config.registry_path, config.artifacts_dir)
        try:
            await register_result(registry, "game", result)
            await registry.set_alias("game", "champion", 1, actor="test", reason="first model")
        finally:
            await registry.close()

    asyncio.run(register())
    X, _, meta = build_training_matrix(games)
    X = X.astype(np.float64)
    in_sample = {tuple(np.nan_to_num(r, nan=-999.0)) for r in np.asarray(result.sample.rows)}
    keep = [
        i
        for i, s in enumerate(meta.season)
        if s in VALID and tuple(np.nan_to_num(X[i], nan=-999.0)) not in in_sample
    ]
    assert len(keep) > 4 * W  # the sample leaves enough of the validation seasons out
    rows = X[keep]
    p = result.pipeline.predict_proba(rows)[:, 1]
    served = Served(
        names=list(result.feature_names),
        feature_set=result.feature_set_version,
        games=[games[i] for i in keep],
        X=rows,
        p=np.asarray(p, dtype=np.float64),
    )
    return home, served


def lost_history(names: list[str], X: np.ndarray) -> np.ndarray:
    """The serving state lost every result: ratings at the mean, no form, no season record."""
    X = X.copy()
    J = names.index
    X[:, J("elo_diff")] = 100.0
    X[:, J("home_elo")] = X[:, J("away_elo")] = 0.0
    for what in ("form_margin", "form_wins", "season_margin", "season_wins"):
        X[:, J(f"home_{what}")] = X[:, J(f"away_{what}")] = np.nan
    return X


class Rig:
    def __init__(
        self, bus: Bus, monitor: MonitorWorker, trainer: TrainerWorker, served: Served, events: DurableStream
    ) -> None:
        self.bus = bus
        self.monitor = monitor
        self.trainer = trainer
        self.served = served
        self.events = events
        gw = Gateway(bus, timeout_s=30.0, expected_workers=["monitor"])
        self.server = MCPServer(
            name="nbamcp-test", tools=[build_tool(spec, deadline_s=120.0) for spec in drift_tools(gw)]
        )

    async def serve(self, lo: int, hi: int, X: np.ndarray | None = None, p: np.ndarray | None = None) -> None:
        """Publish the predictions of games [lo, hi) (features ``X`` instead of the real ones), then
        their results, and wait until the monitor has joined them and run its check after results."""
        before = self.monitor.scheduled_checks
        await self.publish(lo, hi, X, p)
        with anyio.fail_after(180):
            while self.monitor.resolved < hi:
                await self.monitor.consumers["monitor"].wait_progress(30)
            # The check after these results (an earlier one may still have been running).
            while True:
                await self.monitor.wait_checked(before)
                before = self.monitor.scheduled_checks
                latest = self.monitor.drift.latest
                if latest is not None and latest.window_to == self.served.games[hi - 1].date:
                    return

    async def publish(
        self, lo: int, hi: int, X: np.ndarray | None = None, p: np.ndarray | None = None
    ) -> None:
        """The predictions of games [lo, hi), then their results, on the durable stream."""
        s = self.served
        X = s.X[lo:hi] if X is None else X
        p = s.p[lo:hi] if p is None else p
        for i, (g, x, prob) in enumerate(zip(s.games[lo:hi], X, p, strict=True)):
            event = PredictionEvent(
                request_id=f"r{lo + i}", ts=time.time(), model_name="game", model_version=1, source="model",
                home=g.home, away=g.away, date=g.date, neutral=g.neutral, home_win_prob=float(prob),
                feature_set=s.feature_set, features=[float(v) for v in x], latency_ms=1.0, game_id=g.game_id,
            )  # fmt: skip
            await publish_durable(self.events, ep.PREDICTION_EVENTS, event)
        rows = s.games[lo:hi]
        news = GamesIngested(
            game_ids=[g.game_id for g in rows], teams=sorted({t for g in rows for t in (g.home, g.away)}),
            date_from=rows[0].date, date_to=rows[-1].date, rows=rows,
        )  # fmt: skip
        await publish_durable(self.events, ep.GAMES_INGESTED, news)


@pytest.fixture(params=["memory", "nats"])
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path, trained: tuple[Path, Served]
) -> AsyncIterator[Rig]:
    source, served = trained
    home = tmp_path / "home"
    shutil.copytree(source, home)
    config = Config(
        paths=PathsConfig(home=str(home)),
        # The scheduled window is the latest W games; no timer, a check after each ingest.
        # Retraining triggers only where a test looks at them (with the trainer stopped: no job here).
        monitor=MonitorConfig(
            max_delay_s=0.01,
            drift_every_s=0,
            drift_window_predictions=W,
            retrain_on_alarm="retrain" in request.node.originalname,
        ),
        trainer=TrainerConfig(auto_train=False),
    )
    bus: Bus
    if request.param == "memory":
        bus = InMemoryBus()
    else:
        server: NatsServer = request.getfixturevalue("nats_server")
        bus = await NatsBus.connect(server.url)
    try:
        async with open_context(bus, config) as ctx:
            monitor, trainer = MonitorWorker(ctx), TrainerWorker(ctx)
            actors = [trainer, monitor]
            for actor in actors:
                await actor.start()
            try:
                yield Rig(bus, monitor, trainer, served, ctx.events)
            finally:
                for actor in reversed(actors):
                    await actor.stop()
    finally:
        await bus.close()


def structured(result: object, cls: type[msgspec.Struct]) -> msgspec.Struct:
    assert not result.is_error, result.content[0].text  # type: ignore[attr-defined]
    return msgspec.convert(result.structured_content, cls)  # type: ignore[attr-defined]


def png_of(result: object) -> bytes:
    (image,) = [c for c in result.content if c.type == "image"]  # type: ignore[attr-defined]
    data = base64.b64decode(image.data)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


async def test_stable_window_is_quiet_and_lost_history_is_drift(rig: Rig) -> None:
    names = rig.served.names
    await rig.serve(0, W)
    async with Client(rig.server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["drift_report"].output_schema is not None
        stable = structured(await client.call_tool("drift_report", {"window_predictions": W}), DriftReport)
        assert isinstance(stable, DriftReport)
        assert (stable.model_version, stable.n_current, stable.feature_set) == (1, W, rig.served.feature_set)
        assert [f.name for f in stable.features] == names
        assert not stable.drifted and stable.share <= stable.threshold
        assert stable.n_tested > 10 and all(f.test in ("ks", "chi2") for f in stable.features if f.test)
        assert stable.alarms == []  # the check after results found nothing either
        p = stable.performance
        assert p.n_realized == W and p.expected_brier is not None and 0.15 < p.expected_brier < 0.25
        assert p.realized_brier is not None and abs(p.realized_brier - p.expected_brier) < 0.05
        # Calibration of the window: the same numbers nbamcp.monitoring gives on the same games.
        y = np.array([g.home_pts > g.away_pts for g in rig.served.games[:W]], dtype=np.float64)
        want = reliability(rig.served.p[:W], y)
        assert (p.ece, p.realized_brier, p.expected_brier_realized) == (
            want.ece,
            want.brier,
            want.expected_brier,
        )
        assert [(b.n, b.observed) for b in p.bins] == [(b.n, b.observed) for b in want.bins]

        await rig.serve(W, 2 * W, lost_history(names, rig.served.X[W : 2 * W]))
        result = await client.call_tool("drift_report", {"window_predictions": W})
        drifted = structured(result, DriftReport)
        assert isinstance(drifted, DriftReport)
        assert drifted.drifted and drifted.share > drifted.threshold
        by_name = {f.name: f for f in drifted.features}
        assert by_name["elo_diff"].drifted and by_name["home_form_margin"].drifted
        assert by_name["home_form_margin"].current.missing == 1.0
        assert by_name["elo_diff"].reference.mean != by_name["elo_diff"].current.mean
        # The scheduled check after those results raised the dataset alarm; the report shows it.
        assert "dataset_drift" in {a.condition for a in drifted.alarms}
        assert len(png_of(result)) > 1000
        text = result.content[0].text  # type: ignore[union-attr]
        assert "DRIFT" in text and "elo_diff" in text

        # A window of days reaches back over both halves: the drift is diluted but found.
        both = structured(await client.call_tool("drift_report", {"window_days": 3660}), DriftReport)
        assert isinstance(both, DriftReport) and both.n_current == 2 * W

    # The dashboard's summary of the latest scheduled check.
    report = await rig.monitor.on_report(MonitorReportRequest(), None)  # type: ignore[arg-type]
    assert isinstance(report, MonitorReport) and report.drift is not None
    assert report.drift.drifted and "elo_diff" in report.drift.drifted_features
    assert "dataset_drift" in report.drift.alarms


async def test_calibration_report_matches_the_statistics_on_the_same_games(rig: Rig) -> None:
    await rig.serve(0, 2 * W)
    s = rig.served
    y = np.array([g.home_pts > g.away_pts for g in s.games[: 2 * W]], dtype=np.float64)
    since = s.games[W].date
    later = np.array([g.date >= since for g in s.games[: 2 * W]])
    async with Client(rig.server) as client:
        result = await client.call_tool("calibration_report", {})
        whole = structured(result, CalibrationReport)
        part = structured(await client.call_tool("calibration_report", {"since": since}), CalibrationReport)
        png_of(result)
    for got, mask in ((whole, np.ones(2 * W, dtype=bool)), (part, later)):
        assert isinstance(got, CalibrationReport)
        want = reliability(s.p[: 2 * W][mask], y[mask])
        assert got.model_version == 1 and got.n_games == want.n == int(mask.sum())
        assert (got.ece, got.mce, got.brier, got.expected_brier, got.base_rate) == pytest.approx(
            (want.ece, want.mce, want.brier, want.expected_brier, want.base_rate), abs=1e-6
        )
        assert [(b.n, b.mean_predicted, b.observed) for b in got.bins] == [
            (b.n, b.mean_predicted, b.observed) for b in want.bins
        ]


async def test_bad_input_and_missing_data_are_clear_errors(rig: Rig) -> None:
    async with Client(rig.server) as client:
        cases = {
            ("drift_report", "window_predictions", 5): "invalid_input: window_predictions",
            ("drift_report", "window_days", 0): "invalid_input: window_days",
            ("calibration_report", "since", "last week"): "invalid_input: since",
            ("calibration_report", "model_version", 0): "invalid_input: model_version",
        }
        for (tool, arg, value), want in cases.items():
            result = await client.call_tool(tool, {arg: value})
            assert result.is_error and result.content[0].text.startswith(want), result.content  # type: ignore[union-attr]
        # Nothing served yet: said so, not an empty report.
        result = await client.call_tool("drift_report", {})
        assert result.is_error
        assert result.content[0].text.startswith("not_found: no served predictions of game v1")  # type: ignore[union-attr]
        result = await client.call_tool("calibration_report", {"model_version": 7})
        assert result.is_error
        assert result.content[0].text.startswith("not_found: no realized games of game v7")  # type: ignore[union-attr]


async def test_without_a_registry_checks_are_skipped_and_the_report_says_why(tmp_path: Path) -> None:
    bus = InMemoryBus()
    config = Config(paths=PathsConfig(home=str(tmp_path)), monitor=MonitorConfig(drift_every_s=0.05))
    async with open_context(bus, config) as ctx:
        monitor = MonitorWorker(ctx)
        await monitor.start()
        try:
            with anyio.fail_after(60):  # the schedule runs checks; without a registry each is skipped
                await monitor.wait_checked(0)
            assert monitor.drift_errors >= 1 and monitor.drift.latest is None
            gw = Gateway(bus, timeout_s=5.0, expected_workers=["monitor"])
            server = MCPServer(name="t", tools=[build_tool(s, deadline_s=60.0) for s in drift_tools(gw)])
            async with Client(server) as client:
                result = await client.call_tool("drift_report", {})
        finally:
            await monitor.stop()
    await bus.close()
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("unavailable: no reference to compare with: the registry did not answer")


async def test_page_hinkley_raises_the_concept_alarm_on_worse_realized_losses(rig: Rig) -> None:
    s = rig.served
    await rig.serve(0, W)
    assert rig.monitor.drift.latest is not None and not rig.monitor.drift.latest.concept.alarm
    # The same rows, but the model now answers the opposite: the realized Brier jumps.
    await rig.serve(W, 2 * W, p=1.0 - s.p[W : 2 * W])
    async with Client(rig.server) as client:
        report = structured(await client.call_tool("drift_report", {}), DriftReport)
    assert isinstance(report, DriftReport)
    c = report.concept
    assert c.losses_seen == 2 * W and c.alarm and c.detections
    assert min(c.detections) >= s.games[W].date  # found in the bad games, not before
    assert "concept_drift" in {a.condition for a in report.alarms}
    assert report.performance.brier_gap is not None and report.performance.brier_gap > 0.1


async def test_the_reference_is_fetched_once_and_outlives_the_trainer(rig: Rig) -> None:
    await rig.serve(0, W)  # the check after results fetched the champion's sample
    assert rig.monitor.reference.fetched == 1
    await rig.trainer.stop()  # the registry is away: the last reference known still stands
    async with Client(rig.server) as client:
        report = structured(await client.call_tool("drift_report", {}), DriftReport)
    assert isinstance(report, DriftReport) and report.model_version == 1 and report.n_current == W
    assert rig.monitor.reference.fetched == 1


async def test_a_new_drift_alarm_alerts_and_asks_the_trainer_to_retrain_once(rig: Rig) -> None:
    triggers: list[RetrainTrigger] = []
    alerts: list[Alert] = []
    sub = await rig.bus.subscribe(
        ep.RETRAIN_TRIGGERS.subject, lambda m: triggers.append(decode(m.data, RetrainTrigger))
    )
    alert_sub = await rig.bus.subscribe(ep.ALERTS.subject, lambda m: alerts.append(decode(m.data, Alert)))
    await rig.serve(0, W)
    assert triggers == []  # no alarm, no trigger
    await rig.trainer.stop()  # the reference is known; no retraining job in this test
    names = rig.served.names
    await rig.serve(W, 2 * W, lost_history(names, rig.served.X[W : 2 * W]))
    await rig.serve(2 * W, 3 * W, lost_history(names, rig.served.X[2 * W : 3 * W]))
    await rig.bus.flush()
    await sub.unsubscribe()
    await alert_sub.unsubscribe()
    # Two checks saw the drift; the alarm was raised once, so one alert and one trigger.
    [a] = [a for a in alerts if a.key == "drift.dataset_drift"]
    assert a.source == "monitor" and a.numbers["drift_share"] > 0.5 and a.subjects == ["game v1"]
    [t] = triggers
    assert (t.kind, t.model_name, t.source) == ("drift", "game", "monitor")
    assert t.trigger_id.startswith("drift:game:v1:") and "features drifted" in t.reason
    assert t.metrics["drift_share"] > 0.5 and t.metrics["games"] == W
    assert rig.monitor.retrain_triggers == 1


async def test_a_retraining_request_the_bus_did_not_take_is_asked_again(
    tmp_path: Path, trained: tuple[Path, Served]
) -> None:
    """A drift alarm asks for retraining once, when it is raised. If that request did not land
    (NATS away), the alarm stood with nothing retraining, and it may stand for good: the next
    check must ask again. Checks run only when called here (no timer, none after results)."""
    source, served = trained
    home = tmp_path / "home"
    shutil.copytree(source, home)
    monitor_config = MonitorConfig(
        max_delay_s=0.01, drift_every_s=0, drift_after_results=False, drift_window_predictions=W,
        retrain_on_alarm=True,
    )  # fmt: skip
    config = Config(
        paths=PathsConfig(home=str(home)), monitor=monitor_config, trainer=TrainerConfig(auto_train=False)
    )
    server = start_nats_server(tmp_path / "nats")
    bus = await NatsBus.connect(server.url, reconnect_time_wait=0.01, reconnect_max_wait=0.05)
    try:
        async with open_context(bus, config) as ctx:
            monitor, trainer = MonitorWorker(ctx), TrainerWorker(ctx)
            with anyio.fail_after(120):
                await trainer.start()
                await monitor.start()
            try:
                rig = Rig(bus, monitor, trainer, served, ctx.events)
                with anyio.fail_after(180):
                    await monitor.reference.serving("prime")  # what a check fetches: known from now on
                    await trainer.stop()  # no retraining job in this test
                    await rig.publish(0, W, lost_history(served.names, served.X[:W]))
                    while monitor.resolved < W:
                        await monitor.consumers["monitor"].wait_progress(30)
                    stop_nats_server(server)
                    await bus.link.wait_for(DISCONNECTED, 30)
                    report = await monitor.scheduled_check("schedule")
                assert report is not None and "dataset_drift" in {a.condition for a in report.alarms}
                assert monitor.retrain_triggers == 0  # raised, and its request did not land
                server = restart_nats_server(server, keep_store=True)
                with anyio.fail_after(180):
                    await bus.link.wait_for(CONNECTED, 60)
                    again = await monitor.scheduled_check("schedule")
                assert again is not None and "dataset_drift" in {a.condition for a in again.alarms}
                assert monitor.retrain_triggers == 1  # the standing alarm asked again
                with anyio.fail_after(60):
                    await monitor.scheduled_check("schedule")
                assert monitor.retrain_triggers == 1  # and once it landed, not again
            finally:
                with anyio.fail_after(60):
                    await monitor.stop()
                    await trainer.stop()
    finally:
        await bus.close()
        stop_nats_server(server)
