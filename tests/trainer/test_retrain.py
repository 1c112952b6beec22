"""Automated retraining through the workers, on the in-memory bus and on a real nats-server.

Real models (the tiny budget, as the other trainer tests), the real durable stream and work
queue (SQLite outbox in process, JetStream on NATS), the real monitor joining predictions
with results. Waits are on events (alias changes, progress, gate decisions), bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from mcp import Client

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.bus.link import DISCONNECTED
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import InferenceConfig, RetrainConfig, TrainerConfig, WorkersConfig
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import (
    ErrorReply,
    GameRow,
    GamesIngested,
    ModelsChanged,
    PairedLosses,
    PairedLossesRequest,
    PredictionEvent,
    RetrainingStatus,
    RetrainingStatusRequest,
    RetrainTrigger,
    TrainJobRequest,
)
from nbamcp.ml.registry import ModelRegistry
from nbamcp.streams import publish_durable
from tests.conftest import NatsServer, restart_nats_server, start_nats_server, stop_nats_server
from tests.contexts import home_config
from tests.trainer.conftest import WAIT, Home, models_changed, progress_events, running
from tests.trainer.test_worker import call, run_job
from workers.monitor import MonitorWorker
from workers.trainer import TrainerWorker
from workers.trainer.book import OPEN_STATES


@pytest.fixture(params=["memory", "nats"])
async def any_bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        b: Bus = InMemoryBus()
    else:
        b = await NatsBus.connect(request.getfixturevalue("nats_server").url)
    yield b
    async with asyncio.timeout(WAIT):
        await b.close()


async def make(
    bus: Bus, home: Home, *, budget: str = "tiny", traffic: str = "shadow", **retrain: Any
) -> TrainerWorker:
    settings: dict[str, Any] = {"min_new_results": 0, "ack_wait_s": 2.0, "budget": budget}
    settings.update(retrain)
    config = home_config(
        home.root,
        trainer=TrainerConfig(auto_train=False, budget="tiny", train_from=2016),
        retrain=RetrainConfig(**settings),
        inference=InferenceConfig(traffic=traffic),  # type: ignore[arg-type]
        workers=WorkersConfig(stop_deadline_s=WAIT),
    )
    return TrainerWorker(await home.contexts.get(bus, config))


def trigger(i: int, kind: str = "drift") -> RetrainTrigger:
    return RetrainTrigger(
        trigger_id=f"{kind}:game:{i}",
        kind=kind,  # type: ignore[arg-type]
        reason=f"test alarm {i}: drift share 0.6 over the last 500 predictions",
        source="test",
        metrics={"drift_share": 0.6},
    )


def alias_moved(alias: str, version: int | None = None):  # type: ignore[no-untyped-def]
    def done(items: list[ModelsChanged]) -> bool:
        return any(e.alias == alias and (version is None or e.version == version) for e in items)

    return done


async def status(bus: Bus) -> RetrainingStatus:
    st = await call(bus, ep.RETRAINING_STATUS.subject, RetrainingStatusRequest(), RetrainingStatus)
    assert isinstance(st, RetrainingStatus), st
    return st


async def test_a_storm_of_triggers_makes_one_job_and_one_challenger(any_bus: Bus, home: Home) -> None:
    bus = any_bus
    changed = await models_changed(bus)
    trainer = await make(bus, home)
    async with running(trainer):
        first = await run_job(bus, TrainJobRequest(job_id="champ", promote=True))
        assert first[-1].state == "done"
        events = trainer.ctx.events
        await asyncio.gather(*(publish_durable(events, ep.RETRAIN_TRIGGERS, trigger(i)) for i in range(20)))
        await changed.wait_until(alias_moved("challenger", 2))
        # Re-sent alarms are not new triggers (the stream dedups the event, the trainer the id).
        await publish_durable(events, ep.RETRAIN_TRIGGERS, trigger(3))
        assert await trainer.retrainer.trigger(trigger(3)) is None
        st = await status(bus)
        # The same, as an MCP client sees it.
        gw = Gateway(bus, timeout_s=WAIT, expected_workers=["trainer"])
        async with Client(build_server(gw)) as client:
            result = await client.call_tool("retraining_status", {})
            bad = await client.call_tool("retraining_status", {"limit": 0})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["jobs"][0]["job_id"] == st.jobs[0].job_id
    words = "\n".join(c.text for c in result.content if getattr(c, "text", None))
    assert "20 trigger(s)" in words and "registered v2" in words and "challenger none -> v2" in words
    assert bad.is_error and bad.content[0].text.startswith("invalid_input: limit")  # type: ignore[union-attr]

    (job,) = st.jobs
    assert (job.state, job.version, job.parent_version, job.triggers, job.attempts) == ("done", 2, 1, 20, 1)
    assert job.kind == "drift" and job.n_games > 10_000
    assert len(st.triggers) == 20
    assert sorted(t.outcome for t in st.triggers) == ["coalesced"] * 19 + ["queued"]
    assert {t.job_id for t in st.triggers} == {job.job_id}
    assert st.aliases == {"champion": 1, "challenger": 2}
    (ch,) = st.challengers
    assert ch.version == 2 and ch.aliases == ["challenger"]
    lineage = ch.lineage
    assert lineage["job_id"] == job.job_id and lineage["parent_version"] == 1
    assert lineage["trigger"] == {"id": job.trigger_id, "kind": "drift", "reason": job.reason}
    assert lineage["n_games"] == job.n_games and lineage["last_game"] >= "2023-05-01"
    assert job.data_hash and len(job.data_hash) == 64
    assert st.audit[0].alias == "challenger" and st.audit[0].actor == "trainer retraining"
    assert job.job_id in st.audit[0].reason and "drift" in st.audit[0].reason
    assert st.settings["queue"] == ("jetstream" if bus.kind == "nats" else "sqlite")
    assert trainer.retrainer.jobs_run == 1
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        mv = await reg.get("game", 2)
        card = await reg.model_card("game", 2)
    assert mv.lineage["job_id"] == job.job_id and mv.data_hash == job.data_hash
    assert card["lineage"]["parent_version"] == 1  # the card shows where the version came from


async def test_a_trainer_stopped_mid_job_runs_the_job_again_after_restart(any_bus: Bus, home: Home) -> None:
    bus = any_bus
    first = await make(bus, home, budget="small")  # many fits: the stop lands mid-training
    progress = await progress_events(bus, "nba.train.progress.>")
    async with running(first):
        await publish_durable(first.ctx.events, ep.RETRAIN_TRIGGERS, trigger(1, "concept_drift"))
        await progress.wait_until(lambda items: len(items) >= 2)  # training has begun
    assert progress.items[-1].state == "cancelled"  # the stop cancelled it: not done, not acked
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        assert await reg.list_versions("game") == []

    changed = await models_changed(bus)
    second = await make(bus, home)  # a new process on the same home (tiny budget: quick)
    async with running(second):
        await changed.wait_until(alias_moved("challenger", 1))
        st = await status(bus)
    (job,) = st.jobs
    assert (job.state, job.attempts, job.version, job.kind) == ("done", 2, 1, "concept_drift")
    assert st.challengers[0].lineage["attempt"] == 2
    assert second.retrainer.jobs_run == 1


# ---- the gate, through the monitor ---------------------------------------------------------------
GAMES_PER_ROUND = 60


def predictions(games: list[GameRow], version: int, confidence: float, tag: str) -> list[PredictionEvent]:
    """``version`` leans towards the real winner with ``confidence`` on 4 games in 5, and the
    other way on the fifth (same games for every version: a paired comparison)."""
    out = []
    for i, g in enumerate(games):
        home_won = g.home_pts > g.away_pts
        right = i % 5 != 0
        p_home = confidence if home_won == right else 1 - confidence
        out.append(
            PredictionEvent(
                request_id=f"{tag}-{i}",
                ts=1.7e9 + i,
                model_name="game",
                model_version=version,
                source="model",
                home=g.home,
                away=g.away,
                date=g.date,
                neutral=g.neutral,
                home_win_prob=p_home,
                feature_set="fs1",
                features=[],
                latency_ms=0.1,
                game_id=g.game_id,
            )
        )
    return out


async def play(trainer: TrainerWorker, games: list[GameRow], *preds: list[PredictionEvent]) -> None:
    """Publish the predictions, then the games' results, on the durable stream (stream order)."""
    events = trainer.ctx.events
    for batch in preds:
        await asyncio.gather(*(publish_durable(events, ep.PREDICTION_EVENTS, p) for p in batch))
    done = GamesIngested(
        game_ids=[g.game_id for g in games], teams=sorted({g.home for g in games} | {g.away for g in games}),
        date_from=games[0].date, date_to=games[-1].date, rows=games,
    )  # fmt: skip
    await publish_durable(events, ep.GAMES_INGESTED, done)


async def decisions(trainer: TrainerWorker, n: int) -> None:
    gate = trainer.retrainer.gate
    async with asyncio.timeout(WAIT), gate.decided:
        await gate.decided.wait_for(lambda: gate.made >= n)


async def test_the_gate_keeps_the_champion_against_a_worse_challenger_and_promotes_a_better_one(
    any_bus: Bus, home: Home
) -> None:
    bus = any_bus
    changed = await models_changed(bus)
    trainer = await make(bus, home, gate_min_games=40, gate_check_s=0.2, gate_replicates=1000)
    monitor = MonitorWorker(await home.contexts.get(bus, home_config(home.root)))
    async with running(trainer):
        await monitor.start()
        try:
            await run_job(bus, TrainJobRequest(job_id="champ", promote=True))  # v1
            season = sorted((g for g in trainer.replica.games() if g.season == 2023), key=lambda g: g.game_id)
            round1, round2 = season[:GAMES_PER_ROUND], season[GAMES_PER_ROUND : 2 * GAMES_PER_ROUND]

            # A worse challenger (v2): no better than a coin, where the champion leans right 4 times in 5.
            await trainer.retrainer.trigger(trigger(1))
            await changed.wait_until(alias_moved("challenger", 2))
            await play(
                trainer, round1, predictions(round1, 1, 0.6, "r1c"), predictions(round1, 2, 0.5, "r1x")
            )
            await decisions(trainer, 1)
            kept = (await status(bus)).decisions[0]

            # A better challenger (v3): leans the same way, more confidently.
            await trainer.retrainer.trigger(trigger(2))
            await changed.wait_until(alias_moved("challenger", 3))
            await play(
                trainer, round2, predictions(round2, 1, 0.6, "r2c"), predictions(round2, 3, 0.75, "r2x")
            )
            await changed.wait_until(alias_moved("champion", 3))
            st = await status(bus)
        finally:
            await monitor.stop()

    assert (kept.challenger, kept.champion, kept.decision) == (2, 1, "keep")
    assert kept.n_games == GAMES_PER_ROUND and kept.mean_diff > 0 and kept.upper > 0
    assert kept.p_value > 0.5 and "keep the champion v1" in kept.reason
    promoted = st.decisions[0]
    assert (promoted.challenger, promoted.champion, promoted.decision) == (3, 1, "promote")
    assert promoted.n_games == GAMES_PER_ROUND and promoted.n_dates >= 2
    assert promoted.mean_diff < promoted.upper < 0 and promoted.p_value < 0.05
    assert promoted.challenger_log_loss < promoted.champion_log_loss
    assert st.aliases["champion"] == 3 and [d.decision for d in st.decisions] == ["promote", "keep"]
    # The alias change is in the audit trail, the test's numbers as its reason.
    last = st.audit[0]
    assert (last.alias, last.from_version, last.to_version, last.actor) == (
        "champion",
        1,
        3,
        "trainer promotion gate",
    )
    assert f"{promoted.upper:+.4f}" in last.reason and "paired t" in last.reason
    assert [a.alias for a in st.audit] == ["champion", "challenger", "challenger", "champion"]


async def test_enough_new_results_trigger_one_retraining(bus: Bus, home: Home) -> None:
    changed = await models_changed(bus)
    trainer = await make(bus, home, min_new_results=300)
    async with running(trainer):
        await run_job(bus, TrainJobRequest(job_id="champ", promote=True))
        n = len(trainer.replica.games())
        retrainer = trainer.retrainer
        assert await retrainer.book.snapshot_games("game") == n  # the champion's snapshot
        await retrainer.games_changed()
        assert (await status(bus)).triggers == []  # nothing new yet
        # As if the champion had been trained 400 results ago.
        await retrainer.book.set_snapshot("game", n - 400)
        await retrainer.games_changed()
        await retrainer.games_changed()  # the same snapshot: the same trigger, recorded once
        await changed.wait_until(alias_moved("challenger", 2))
        st = await status(bus)
    (t,) = st.triggers
    assert (t.kind, t.source, t.outcome, t.trigger_id) == (
        "new_results",
        "trainer",
        "queued",
        f"new_results:game:{n - 400}",
    )
    assert t.metrics == {"new_results": 400.0, "snapshot_games": float(n - 400)}
    assert "400 new results" in t.reason and "threshold 300" in t.reason
    (job,) = st.jobs
    assert job.state == "done" and job.version == 2 and job.kind == "new_results"
    assert st.new_results == 0  # counted from the new snapshot


async def test_bad_messages_meet_clear_errors(bus: Bus, home: Home) -> None:
    trainer = await make(bus, home)
    monitor = MonitorWorker(await home.contexts.get(bus, home_config(home.root)))
    async with running(trainer):
        await monitor.start()
        try:
            bad_status = await call(
                bus,
                ep.RETRAINING_STATUS.subject,
                RetrainingStatusRequest(model_name="Game!"),
                RetrainingStatus,
            )
            same = await call(
                bus,
                ep.MONITOR_PAIRED.subject,
                PairedLossesRequest(model_name="game", version_a=2, version_b=2),
                PairedLosses,
            )
            none = await call(
                bus,
                ep.MONITOR_PAIRED.subject,
                PairedLossesRequest(model_name="game", version_a=2, version_b=1),
                PairedLosses,
            )
            # A job message that does not decode is dropped (terminated), and the queue goes on.
            await trainer.retrainer.queue.publish(ep.TRAIN_QUEUE.subject, b"\x01not msgpack")
            await trainer.retrainer.trigger(trigger(1))
            changed = await models_changed(bus)
            await changed.wait_until(alias_moved("challenger", 1))
            empty = await status(bus)
        finally:
            await monitor.stop()
    assert isinstance(bad_status, ErrorReply) and bad_status.code == "invalid_input"
    assert "model_name" in bad_status.message
    assert isinstance(same, ErrorReply) and same.code == "invalid_input" and "both 2" in same.message
    assert isinstance(none, PairedLosses) and none.games == []
    assert [j.state for j in empty.jobs] == ["done"] and empty.jobs[0].parent_version is None


async def test_a_canary_doing_worse_is_rolled_back(any_bus: Bus, home: Home) -> None:
    bus = any_bus
    changed = await models_changed(bus)
    trainer = await make(
        bus, home, traffic="canary", gate_min_games=500, canary_rollback_min_games=40, gate_check_s=0.2,
        gate_replicates=1000,
    )  # fmt: skip
    monitor = MonitorWorker(await home.contexts.get(bus, home_config(home.root)))
    async with running(trainer):
        await monitor.start()
        try:
            await run_job(bus, TrainJobRequest(job_id="champ", promote=True))  # v1
            await trainer.retrainer.trigger(trigger(1))
            await changed.wait_until(alias_moved("challenger", 2))
            season = sorted((g for g in trainer.replica.games() if g.season == 2023), key=lambda g: g.game_id)
            # Injected degradation: the canary (v2) leans the wrong way where the champion leans right.
            first, second = season[:30], season[30:60]
            await play(trainer, first, predictions(first, 1, 0.6, "a1"), predictions(first, 2, 0.4, "a2"))
            await play(trainer, second, predictions(second, 1, 0.6, "b1"), predictions(second, 2, 0.4, "b2"))
            await changed.wait_until(alias_moved("challenger", 1))  # rolled back onto the champion
            st = await status(bus)
        finally:
            await monitor.stop()
    (d,) = st.decisions
    assert (d.challenger, d.champion, d.decision) == (2, 1, "rollback")
    assert 40 <= d.n_games <= 60 and d.mean_diff > 0 and d.lower is not None and d.lower > 0
    assert st.aliases == {"champion": 1, "challenger": 1}
    last = st.audit[0]
    assert (last.alias, last.from_version, last.to_version, last.actor) == (
        "challenger",
        2,
        1,
        "trainer canary watch",
    )
    assert "canary rollback" in last.reason and f"{d.lower:+.4f}" in last.reason


def ab_split(
    games: list[GameRow], share: float, *preds: list[PredictionEvent]
) -> list[list[PredictionEvent]]:
    """Mark each game's unserved row shadow as the inference worker does in ab traffic: the
    challenger (the higher version) answers the games in its sticky share, the champion the rest."""
    from nbamcp.serving.canary import in_canary
    from tests.serving.test_canary import game

    champ, chall = preds
    out_champ, out_chall = [], []
    for g, a, b in zip(games, champ, chall, strict=True):
        by_challenger = in_canary(game(g.home, g.away, g.date), share)
        out_champ.append(msgspec.structs.replace(a, shadow=by_challenger))
        out_chall.append(msgspec.structs.replace(b, shadow=not by_challenger))
    return [out_champ, out_chall]


async def test_ab_traffic_compares_the_arms_and_never_rolls_back(any_bus: Bus, home: Home) -> None:
    bus = any_bus
    changed = await models_changed(bus)
    trainer = await make(bus, home, traffic="ab", gate_min_games=40, gate_check_s=0.2, gate_replicates=1000)
    monitor = MonitorWorker(await home.contexts.get(bus, home_config(home.root)))
    async with running(trainer):
        await monitor.start()
        try:
            await run_job(bus, TrainJobRequest(job_id="champ", promote=True))  # v1
            await trainer.retrainer.trigger(trigger(1))
            await changed.wait_until(alias_moved("challenger", 2))
            season = sorted((g for g in trainer.replica.games() if g.season == 2023), key=lambda g: g.game_id)
            games = season[:GAMES_PER_ROUND]
            # The challenger (v2) is worse: a coin where the champion leans right 4 times in 5.
            champ, chall = ab_split(
                games, 0.5, predictions(games, 1, 0.6, "c"), predictions(games, 2, 0.5, "x")
            )
            await play(trainer, games, champ, chall)
            await decisions(trainer, 1)
            gate = trainer.retrainer.gate
            # The look after the decision compares the arms too: await one more.
            async with asyncio.timeout(WAIT), gate.looked:
                looked = gate.checks
                await gate.looked.wait_for(lambda: gate.checks > looked)
            st = await status(bus)
            gw = Gateway(bus, timeout_s=WAIT, expected_workers=["trainer", "monitor"])
            async with Client(build_server(gw)) as client:
                result = await client.call_tool("retraining_status", {})
                calib = await client.call_tool("calibration_report", {"model_version": 2})
        finally:
            await monitor.stop()
    (d,) = st.decisions
    assert (d.challenger, d.champion, d.decision) == (2, 1, "keep")  # a keep, not a rollback
    assert st.aliases == {"champion": 1, "challenger": 2}  # still answering its share
    assert [a.actor for a in st.audit if a.actor == "trainer canary watch"] == []
    ab = st.ab
    assert ab is not None and (ab.challenger, ab.champion, ab.share) == (2, 1, 0.5)
    assert ab.n_games == GAMES_PER_ROUND
    by_arm = {a.arm: a for a in ab.arms}
    served_by_2 = {p.game_id for p in chall if not p.shadow}
    assert by_arm["challenger"].n_games == len(served_by_2) and 10 < len(served_by_2) < 50
    assert by_arm["champion"].n_games == GAMES_PER_ROUND - len(served_by_2)
    # The numbers, recomputed from the predictions: log loss of what each arm served.
    import math

    def ll(p: PredictionEvent, g: GameRow) -> float:
        q = p.home_win_prob if g.home_pts > g.away_pts else 1 - p.home_win_prob
        return -math.log(q)

    rows = {g.game_id: g for g in games}
    arm2 = [ll(p, rows[p.game_id]) for p in chall if not p.shadow]  # type: ignore[index]
    arm1 = [ll(p, rows[p.game_id]) for p in champ if not p.shadow]  # type: ignore[index]
    assert by_arm["challenger"].served_log_loss == pytest.approx(sum(arm2) / len(arm2), abs=1e-5)
    assert by_arm["champion"].served_log_loss == pytest.approx(sum(arm1) / len(arm1), abs=1e-5)
    assert by_arm["challenger"].served_log_loss == pytest.approx(math.log(2), abs=1e-5)  # the coin
    assert ab.mean_diff is not None and ab.mean_diff > 0  # the challenger is worse, paired too
    assert ab.challenger_log_loss is not None and ab.champion_log_loss is not None
    assert ab.challenger_log_loss > ab.champion_log_loss
    assert ab.paired_p is not None and ab.arms_p is not None and ab.arms_t is not None
    words = "\n".join(c.text for c in result.content if getattr(c, "text", None))
    assert "A/B arms: ab (challenger share 0.5) on 60 realized games" in words
    assert result.structured_content is not None and result.structured_content["ab"]["n_games"] == 60
    # calibration_report of the challenger: the games it answered and those it shadowed, apart.
    assert not calib.is_error and calib.structured_content is not None
    arms = {a["arm"]: a for a in calib.structured_content["arms"]}
    assert arms["answered"]["n_games"] == len(served_by_2)
    assert arms["shadow"]["n_games"] == GAMES_PER_ROUND - len(served_by_2)
    assert arms["answered"]["brier"] == pytest.approx(0.25)  # the coin, on its own games
    text = "\n".join(c.text for c in calib.content if getattr(c, "text", None))
    assert f"Games it answered: {len(served_by_2)}" in text


@pytest.fixture
async def nats_box(tmp_path: Path) -> AsyncIterator[tuple[NatsBus, dict[str, NatsServer]]]:
    """A NATS bus and its server in a box (a test may restart the server); set up before ``home``,
    so the home's contexts close while the bus is still open."""
    box = {"server": start_nats_server(tmp_path / "nats")}
    bus = await NatsBus.connect(box["server"].url, reconnect_time_wait=0.01, reconnect_max_wait=0.05)
    try:
        yield bus, box
    finally:
        async with asyncio.timeout(WAIT):
            await bus.close()
        stop_nats_server(box["server"])


async def test_a_job_the_queue_did_not_take_is_queued_again(
    nats_box: tuple[NatsBus, dict[str, NatsServer]], home: Home, tmp_path: Path
) -> None:
    """A trigger that opens a job while NATS is away (the schedule's timer needs no bus) records the
    job as queued; its publish times out. nats-py sends the buffered message once it reconnects,
    but to a server that lost its store it arrives before the recovery makes the queue's stream
    again: stored nowhere. Every later trigger joined that job, and it ran only once the trainer
    restarted: retraining stood still for good."""
    bus, box = nats_box
    trainer = await make(bus, home)
    async with running(trainer):
        stop_nats_server(box["server"])
        await bus.link.wait_for(DISCONNECTED, WAIT)
        async with asyncio.timeout(WAIT):
            opened = await trainer.retrainer.trigger(trigger(1, "schedule"))  # its publish times out
        assert opened is not None and opened[1]
        job_id = opened[0].job_id
        box["server"] = restart_nats_server(box["server"], keep_store=False, workdir=tmp_path / "fresh")
        async with asyncio.timeout(4 * WAIT):  # a tiny job trains on a loaded machine
            while True:
                moved = trainer.progress
                job = await trainer.retrainer.book.job(job_id)
                if job is not None and job.state not in OPEN_STATES:
                    break
                await moved.wait()
        # A later trigger is a job of its own, not one more joining a job that never runs.
        assert job.state == "done" and trainer.retrainer.jobs_run == 1
