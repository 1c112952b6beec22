"""Feedback: logged predictions joined with real results as they are ingested, day after day.

The season loop, on both buses: predict a date's games, let the stats worker ingest that
date's results (it announces them: GamesIngested with the rows, as ``ingest_games`` does),
predict the next date, ingest it. The monitor opens no other worker's file: the results
reach it in the events. Realized metrics are checked against values computed here from
the same CSV rows (FiveThirtyEight's pre-game Elo probability plays the model's prediction).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from nbamcp import endpoints as ep
from nbamcp.actor import open_context
from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import (
    Config,
    EventsConfig,
    MonitorConfig,
    PathsConfig,
    PredlogConfig,
    StatsConfig,
    TrainerConfig,
)
from nbamcp.data.games import read_played_games
from nbamcp.messages import (
    ErrorReply,
    GamesIngested,
    MonitorStatus,
    MonitorStatusRequest,
    PredictionEvent,
    decode,
    encode,
)
from nbamcp.predlog.outcomes import OutcomeBook
from nbamcp.streams import publish_durable
from nbamcp.subjects import EVENTS_GAMES, EVENTS_PREDICTION, MONITOR_STATUS
from tests.predlog.realgames import Game, event_for, ingest_rows, ingest_via_stats, on_dates, to_games
from workers.monitor import MonitorWorker
from workers.predlog import PredlogWorker
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

DAY1, DAY2 = "2023-01-15", "2023-01-16"


@dataclass
class Loop:
    config: Config
    bus: Bus
    events: DurableStream
    monitor: MonitorWorker
    predlog: PredlogWorker
    workdir: Path

    async def status(self, **kw: str) -> MonitorStatus:
        msg = await self.bus.request(MONITOR_STATUS, encode(MonitorStatusRequest(**kw)), timeout=10)
        reply = decode(msg.data, MonitorStatus | ErrorReply)  # type: ignore[arg-type]
        assert isinstance(reply, MonitorStatus), reply
        return reply

    async def until_resolved(self, n: int, within_s: float = 20.0) -> None:
        async with asyncio.timeout(within_s):
            while self.monitor.resolved < n:
                await self.monitor.consumers["monitor"].wait_progress(within_s)


def config_for(home: Path, data_dir: Path) -> Config:
    return Config(
        paths=PathsConfig(home=str(home), data_dir=str(data_dir)),
        stats=StatsConfig(auto_ingest=False, ingest_roots=[str(home.parent / "csv")]),
        events=EventsConfig(ack_wait_s=2.0),
        predlog=PredlogConfig(max_delay_s=0.01),
        monitor=MonitorConfig(max_delay_s=0.01),
        trainer=TrainerConfig(auto_train=False),
    )


@pytest.fixture(params=["memory", "nats"])
async def loop(request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path) -> AsyncIterator[Loop]:
    config = config_for(tmp_path / "home", data_dir)
    if request.param == "memory":
        bus: Bus = InMemoryBus()
    else:
        bus = await NatsBus.connect(request.getfixturevalue("nats_server").url, drain_timeout=0.5)
    async with open_context(bus, config) as ctx:
        monitor, predlog = MonitorWorker(ctx), PredlogWorker(ctx)
        actors = [StatsWorker(ctx), TrainerWorker(ctx), monitor, predlog]
        for actor in actors:
            await actor.start()
        try:
            yield Loop(config, bus, ctx.events, monitor, predlog, tmp_path / "csv")
        finally:
            for actor in reversed(actors):
                await actor.stop()
    await bus.close()


async def predict(loop: Loop, games: list[Game], tag: str) -> int:
    """The model (538's Elo) and the baseline (home team 60%) each predict every game."""
    for i, g in enumerate(games):
        await publish_durable(loop.events, ep.PREDICTION_EVENTS, event_for(g, f"{tag}-{i}", prob=g.elo_prob))
        # Its own request: a baseline answer of the model's request would withdraw the model's row.
        base = event_for(g, f"{tag}-{i}-baseline", prob=0.6, version=0, source="baseline")
        await publish_durable(loop.events, ep.PREDICTION_EVENTS, base)
    return 2 * len(games)


def expected(games: list[Game], probs: list[float]) -> tuple[float, float, float]:
    ys = [1.0 if g.home_won else 0.0 for g in games]
    brier = sum((p - y) ** 2 for p, y in zip(probs, ys, strict=True)) / len(ys)
    ll = -sum(y * math.log(p) + (1 - y) * math.log(1 - p) for p, y in zip(probs, ys, strict=True)) / len(ys)
    acc = sum((p >= 0.5) == (y == 1.0) for p, y in zip(probs, ys, strict=True)) / len(ys)
    return acc, brier, ll


async def test_predict_ingest_predict_is_a_loop(loop: Loop, data_dir: Path) -> None:
    header, rows1 = on_dates(data_dir, DAY1)
    _, rows2 = on_dates(data_dir, DAY2)
    day1, day2 = to_games(rows1), to_games(rows2)
    _, before = on_dates(data_dir, "2023-01-14")
    await ingest_via_stats(loop.bus, loop.workdir, header, before, "history")

    n1 = await predict(loop, day1, "d1")
    # The same game asked again later, with another answer: it counts once, with the last answer.
    again = event_for(day1[0], "d1-again", prob=0.5 if day1[0].elo_prob != 0.5 else 0.4)
    await publish_durable(loop.events, ep.PREDICTION_EVENTS, again)
    await ingest_via_stats(loop.bus, loop.workdir, header, rows1, "day1")
    await loop.until_resolved(n1 + 1)

    st = await loop.status()
    # The history's results came first (nothing waited for them), then the day's.
    assert st.pending == 0 and st.predictions_seen == n1 + 1 and st.results_events == 2
    assert st.last_results == f"{DAY1}..{DAY1}"
    model = next(r for r in st.realized if r.source == "model")
    probs = [again.home_win_prob] + [g.elo_prob for g in day1[1:]]
    acc, brier, ll = expected(day1, probs)
    assert (model.model_name, model.model_version, model.n_games, model.n_predictions) == (
        "game", 1, len(day1), len(day1) + 1,
    )  # fmt: skip
    assert model.accuracy == pytest.approx(acc, abs=1e-4)
    assert model.brier == pytest.approx(brier, abs=1e-4)
    assert model.log_loss == pytest.approx(ll, abs=1e-4)
    assert (model.first_game, model.last_game) == (DAY1, DAY1)

    # The next day: predicted before its results exist, so it waits...
    n2 = await predict(loop, day2, "d2")
    consumer = loop.monitor.consumers["monitor"]
    async with asyncio.timeout(60):
        while True:
            # The count before the (awaited) status: a batch handled while it is asked for is not
            # waited for again (that lost wake-up held this test for its whole deadline in CI).
            seen = consumer.batches
            if (st := await loop.status()).pending >= n2:
                break
            await consumer.wait_progress(60, after=seen)
    assert st.pending == n2
    # ...until they are ingested.
    await ingest_via_stats(loop.bus, loop.workdir, header, rows2, "day2")
    await loop.until_resolved(n1 + 1 + n2)
    st = await loop.status()
    assert st.pending == 0 and st.results_events == 3
    model = next(r for r in st.realized if r.source == "model")
    baseline = next(r for r in st.realized if r.source == "baseline")
    both = day1 + day2
    acc, brier, _ = expected(both, probs + [g.elo_prob for g in day2])
    assert model.n_games == len(both) and model.brier == pytest.approx(brier, abs=1e-4)
    acc0, brier0, _ = expected(both, [0.6] * len(both))
    assert (baseline.model_version, baseline.n_games, baseline.role) == (0, len(both), "")
    assert baseline.accuracy == pytest.approx(acc0, abs=1e-4) and baseline.brier == pytest.approx(
        brier0, abs=1e-4
    )
    assert (model.first_game, model.last_game) == (DAY1, DAY2)

    # Every prediction reached the log too.
    async with asyncio.timeout(10):
        while loop.predlog.plog.rows < n1 + 1 + n2:
            await loop.predlog.consumers["predlog"].wait_progress(10)


async def test_results_without_rows_are_skipped_and_said(loop: Loop, data_dir: Path) -> None:
    header, rows = on_dates(data_dir, DAY1)
    games = to_games(rows)
    n = await predict(loop, games, "early")
    # A GamesIngested from a stats worker that did not carry the rows yet: the monitor opens no
    # store to look them up; it says so, and the real announcement resolves the predictions.
    event = GamesIngested(game_ids=["x"], teams=[], date_from=DAY1, date_to=DAY1)
    with capture_logs() as logs:
        await publish_durable(loop.events, ep.GAMES_INGESTED, event)
        async with asyncio.timeout(10):
            while not any(e["event"] == "monitor.results_without_rows" for e in logs):
                await loop.monitor.consumers["monitor"].wait_progress(10)
    await ingest_via_stats(loop.bus, loop.workdir, header, rows, "late")
    await loop.until_resolved(n)
    assert (await loop.status()).pending == 0


async def test_bad_events_do_not_stop_the_monitor(loop: Loop, data_dir: Path) -> None:
    header, rows = on_dates(data_dir, DAY1)
    games = to_games(rows)
    with capture_logs() as logs:
        await loop.events.publish(EVENTS_GAMES, b"\x00garbage")
        await loop.events.publish(
            EVENTS_PREDICTION, encode(GamesIngested(game_ids=[], teams=[], date_from="", date_to=""))
        )
        await publish_durable(
            loop.events, ep.GAMES_INGESTED, GamesIngested(game_ids=[], teams=[], date_from="", date_to="")
        )
        n = await predict(loop, games, "ok")
        await ingest_via_stats(loop.bus, loop.workdir, header, rows, "ok")
        await loop.until_resolved(n)
    # Two do not decode (the actor base drops them); one names no games.
    assert (loop.monitor.failed, loop.monitor.bad) == (2, 1)
    assert sum(e["event"] == "actor.bad_event" and e["actor"] == "monitor" for e in logs) == 2
    assert sum(e["event"] == "monitor.bad_event" for e in logs) == 1


async def test_unknown_model_name_is_a_clear_error(loop: Loop) -> None:
    msg = await loop.bus.request(MONITOR_STATUS, encode(MonitorStatusRequest(model_name="nope")), timeout=10)
    reply = decode(msg.data, ErrorReply)
    assert reply.code == "not_found" and "nope" in reply.message
    st = await loop.status()
    assert (st.models, st.registry, st.traffic_mode) == ([], "missing", loop.config.inference.traffic)


async def test_join_by_game_id_and_neutral_site_orientation(tmp_path: Path, data_dir: Path) -> None:
    # 2015-01-15: Knicks "host" the Bucks in London (neutral site), Bucks win 95-79.
    header, rows = on_dates(data_dir, "2015-01-15")
    store = tmp_path / "store.sqlite"
    await ingest_rows(store, header, rows, tmp_path / "csv", "london")
    games = await read_played_games(store)
    london = next(g for g in games if g.neutral)
    other = next(g for g in games if not g.neutral)
    assert (london.home, london.away, london.home_pts, london.away_pts) == ("NYK", "MIL", 79, 95)
    book = await OutcomeBook.open(tmp_path / "monitor.sqlite")
    try:

        def pred(rid: str, home: str, away: str, prob: float, **kw: object) -> PredictionEvent:
            return PredictionEvent(
                request_id=rid, ts=1.0, model_name="game", model_version=1, source="model", home=home,
                away=away, date="2015-01-15", neutral=True, home_win_prob=prob, feature_set="v1",
                features=[], latency_ms=1.0, **kw,  # type: ignore[arg-type]
            )  # fmt: skip

        await book.add_predictions(
            [
                pred("swapped", "MIL", "NYK", 0.7),  # asked with the Bucks as "home"
                pred("by-id", other.home, other.away, 0.2, game_id=other.game_id),
                pred("unplayed", "BOS", "LAL", 0.5),
            ]
        )
        assert await book.resolve(games, date_from="2015-01-15", date_to="2015-01-15") == 2
        assert await book.resolve(games, date_from="2015-01-15", date_to="2015-01-15") == 0  # once only
        async with book.conn.execute(
            "SELECT p.request_id, o.home_pts, o.away_pts, o.home_win, o.correct, o.brier FROM outcomes o "
            "JOIN predictions p ON p.id = o.prediction_id ORDER BY p.request_id"
        ) as cur:
            got = {r[0]: tuple(r[1:]) for r in await cur.fetchall()}
        assert got["swapped"][:4] == (95, 79, 1, 1)  # scores and win from the Bucks' side
        assert got["swapped"][4] == pytest.approx(0.09)
        by_id = got["by-id"]
        assert by_id[2] == int(other.home_pts > other.away_pts)
        assert await book.pending() == 1
    finally:
        await book.close()
