"""The inference worker on the in-memory bus: predictions, events, baseline, reloads, new results."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Route, WorkerContext
from nbamcp.bus.base import REQUEST_ID_HEADER, Bus, Msg
from nbamcp.messages import (
    ErrorReply,
    GameQuery,
    ModelsChanged,
    PredictReply,
    PredictRequest,
    ServingModels,
    ServingModelsRequest,
    decode,
    encode,
)
from nbamcp.ml.features import FEATURE_NAMES
from nbamcp.ml.ratings import win_prob
from nbamcp.ml.registry import ModelRegistry
from nbamcp.subjects import MODELS_CHANGED, MODELS_SERVING, PREDICT
from tests.serving.conftest import (
    MODEL,
    WAIT,
    Home,
    Models,
    Recorder,
    ingest,
    last_date,
    make_inference,
    make_stats,
    make_trainer,
    promote,
    register,
    running,
    serving,
)
from workers.inference import InferenceWorker
from workers.trainer.registry_door import RegistryDoor


async def ask(bus: Bus, req: PredictRequest, rid: str) -> PredictReply | ErrorReply:
    msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: rid})
    return decode(msg.data, PredictReply | ErrorReply)  # type: ignore[arg-type]


def one(home: str, away: str, date: str | None = None, neutral: bool = False) -> PredictRequest:
    return PredictRequest(games=[GameQuery(home=home, away=away, date=date, neutral=neutral)], client="test")


async def test_future_game_from_the_champion(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        reply = await ask(bus, one("Celtics", "lakers", "2023-04-05"), "r1")
        assert isinstance(reply, PredictReply), reply
        (p,) = reply.predictions
        assert (p.home, p.away, p.date, p.season) == ("BOS", "LAL", "2023-04-05", 2023)
        assert p.source == "model" and p.model_name == MODEL and p.model_version == 1
        assert math.isclose(p.home_win_prob + p.away_win_prob, 1.0)
        assert p.winner == ("BOS" if p.home_win_prob >= 0.5 else "LAL")
        assert p.result is None and p.cached is False
        assert set(p.features) == set(FEATURE_NAMES)
        assert p.unit == "log-odds" and "coefficient" in p.explanation
        assert 0 < len(p.contributions) <= 5
        assert any("Boston Celtics" in c.label or "Los Angeles Lakers" in c.label for c in p.contributions)
        # The event carries the request id; one per game.
        (ev,) = await recorder.wait_for("r1")
        assert ev.source == "model" and ev.model_version == 1 and ev.home == "BOS" and ev.client == "test"
        assert ev.home_win_prob == p.home_win_prob and len(ev.features) == len(FEATURE_NAMES)


async def test_played_game_gives_its_point_in_time_prediction_and_result(
    bus: Bus, home: Home, models: Models, serving_data
) -> None:
    await register(home, models.lr1)
    g = next(g for g in serving_data.games if g.season == 2022 and g.season_type == "playoffs")
    async with serving(bus, home, await make_inference(bus, home)):
        reply = await ask(bus, one(g.home, g.away, g.date), "r2")
        assert isinstance(reply, PredictReply), reply
        (p,) = reply.predictions
        assert p.result is not None and p.result.game_id == g.game_id
        assert (p.result.home_pts, p.result.away_pts) == (g.home_pts, g.away_pts)
        assert p.result.winner == (g.home if g.home_pts > g.away_pts else g.away)
        assert p.playoff is True


async def test_no_champion_answers_from_the_elo_baseline(bus: Bus, home: Home, recorder: Recorder) -> None:
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        reply = await ask(bus, one("BOS", "NYK", "2023-04-05"), "r3")
        assert isinstance(reply, PredictReply), reply
        (p,) = reply.predictions
        assert p.source == "baseline" and p.model_version == 0 and p.unit == "elo"
        assert math.isclose(p.home_win_prob, win_prob(p.features["elo_diff"]), rel_tol=1e-5)
        assert {c.feature for c in p.contributions} <= {"home_elo", "away_elo", "home_court"}
        assert (await recorder.wait_for("r3"))[0].source == "baseline"


async def test_challenger_is_shadow_scored_and_both_are_logged(
    bus: Bus, home: Home, models: Models, recorder: Recorder
) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias="challenger")
    async with serving(bus, home, await make_inference(bus, home)):
        reply = await ask(bus, one("DEN", "PHX", "2023-04-07"), "r4")
        assert isinstance(reply, PredictReply)
        (p,) = reply.predictions
        assert p.model_version == 1 and p.challenger is not None and p.challenger.model_version == 2
        assert p.challenger.home_win_prob != p.home_win_prob
        events = await recorder.wait_for("r4", 2)
        assert sorted((e.source, e.model_version) for e in events) == [
            ("model", 1),
            ("model", 2),
        ]


async def test_hot_reload_under_load_fails_no_request(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        teams = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI"]
        stop = asyncio.Event()
        seen: list[int] = []
        progress = asyncio.Condition()
        failures: list[object] = []

        async def client(i: int) -> None:
            n = 0
            while not stop.is_set() or n < 3:
                req = one(teams[i % 8], teams[(i + 1) % 8], f"2023-04-{10 + n % 15:02d}")
                reply = await ask(bus, req, f"load-{i}-{n}")
                async with progress:
                    if isinstance(reply, PredictReply):
                        seen.append(reply.predictions[0].model_version)
                    else:
                        failures.append(reply)
                    progress.notify_all()
                n += 1

        async def until(count: int) -> None:
            async with progress:
                await progress.wait_for(lambda: len(seen) >= count)

        async with asyncio.timeout(WAIT):
            clients = [asyncio.create_task(client(i)) for i in range(16)]
            await until(50)
            changed = worker.models_changed
            await register(home, models.lr2, alias=None)  # a training job registers v2...
            await promote(bus, 2)  # ...which becomes champion: the trainer announces it
            await changed.wait()
            await until(len(seen) + 50)
            stop.set()
            await asyncio.gather(*clients)
        assert failures == []
        assert seen[0] == 1 and seen[-1] == 2 and set(seen) == {1, 2}
        assert worker.reloads == 2  # start + the change


async def _until_champion(worker: InferenceWorker, version: int | None = None) -> None:
    """Until a champion is loaded (``version`` of it, if given)."""
    async with asyncio.timeout(WAIT):
        while True:
            changed = worker.models_changed  # taken before the look: a reload between is not missed
            c = worker.models.champion
            if c is not None and (version is None or c.version == version):
                return
            await changed.wait()


async def test_inference_started_before_the_trainer_serves_its_champion(
    bus: Bus, home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    async with running(await make_stats(bus, home), worker):
        assert worker.models.champion is None and worker.reload_error.startswith("unavailable")
        async with running(await make_trainer(bus, home)):
            await _until_champion(worker)
            reply = await ask(bus, one("BOS", "LAL", "2023-04-05"), "r-late")
            assert isinstance(reply, PredictReply) and reply.predictions[0].source == "model"


async def test_the_trainer_announces_only_what_it_answers_about(bus: Bus, home: Home, models: Models) -> None:
    """A serving worker asks about an announced version at once: the trainer must already answer
    (it used to announce before subscribing, and the question met "no responders")."""
    await register(home, models.lr1)
    answers: list[ServingModels | ErrorReply] = []
    answered = asyncio.Event()

    async def on_announcement(msg: Msg) -> None:
        reply = await bus.request(MODELS_SERVING, encode(ServingModelsRequest(name=MODEL)), timeout=WAIT)
        answers.append(decode(reply.data, ServingModels | ErrorReply))  # type: ignore[arg-type]
        answered.set()

    await bus.subscribe(MODELS_CHANGED, on_announcement)
    async with running(await make_stats(bus, home)), running(await make_trainer(bus, home)):
        async with asyncio.timeout(WAIT):
            await answered.wait()
    assert answers and all(isinstance(a, ServingModels) for a in answers), answers
    assert answers[0].aliases == {"champion": 1}  # type: ignore[union-attr]


class _RegistryDoorOnly(Actor):
    """The trainer's answers about models and nothing else: no announcement is ever made."""

    name = "trainer"

    def __init__(self, ctx: WorkerContext, door: RegistryDoor) -> None:
        super().__init__(ctx)
        self.door = door

    def routes(self) -> list[Route]:
        return [Route(ep.MODELS_SERVING, self.door.serving)]


@asynccontextmanager
async def _only_the_registry_door(bus: Bus, home: Home) -> AsyncIterator[None]:
    """The trainer's answers about models, from its registry, with nobody announcing anything."""
    config = home.config()
    ctx = await home.context(bus, config)
    async with await ModelRegistry.open(home.registry, home.artifacts) as registry:
        door = RegistryDoor(bus, registry, await ctx.stores.objects(config.data.models_bucket))
        await door.reconcile()  # the artifacts in the model store, as the trainer's start does
        async with running(_RegistryDoorOnly(ctx, door)):
            yield


async def test_a_reload_nobody_answered_is_tried_again(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    announced: list[bytes] = []

    async def on_announcement(msg: Msg) -> None:
        announced.append(msg.data)

    await bus.subscribe(MODELS_CHANGED, on_announcement)
    worker = await make_inference(bus, home)
    async with running(await make_stats(bus, home), worker):
        assert worker.models.champion is None and worker.reload_error.startswith("unavailable")
        async with _only_the_registry_door(bus, home):
            await _until_champion(worker)
    assert worker.models.champion is not None and worker.models.champion.version == 1
    assert worker.reload_error == "" and announced == []  # no announcement: the retry loaded it


async def test_a_catch_up_after_a_reconnect_that_nobody_answered_is_tried_again(
    bus: Bus, home: Home, models: Models
) -> None:
    """v2 became champion while the worker was away from the bus (no announcement reaches it); its
    catch-up after the reconnect finds the trainer gone too. It must still come to serve v2."""
    await register(home, models.lr1)
    await register(home, models.lr2, alias=None)  # in the model store from the trainer's start on
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker) as trainer:
        await _until_champion(worker)
        await trainer.registry.set_alias(MODEL, "champion", 2, actor="test", reason="while it was away")
        await trainer.stop()
        recoveries = bus.link.recoveries
        bus.link.mark_disconnected()
        bus.link.mark_reconnected()
        await bus.link.wait_until(lambda: bus.link.recoveries > recoveries, WAIT)
        assert worker.models.champion is not None and worker.models.champion.version == 1
        async with _only_the_registry_door(bus, home):
            await _until_champion(worker, 2)


async def test_a_re_announcement_of_what_serves_is_not_a_reload(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias=None)
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        await _until_champion(worker)
        reloads = worker.reloads
        # The trainer's start and recoveries announce every alias again; then a real change.
        await bus.publish(MODELS_CHANGED, encode(ModelsChanged(name=MODEL, alias="champion", version=1)))
        await promote(bus, 2)
        await _until_champion(worker, 2)
        assert worker.reloads == reloads + 1  # the change, not the re-announcement


async def test_a_tampered_artifact_in_the_model_store_keeps_the_old_model(
    bus: Bus, home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        # v2 becomes champion in the registry, and other bytes sit under its sha256 in the model
        # store: the receiver checks what it fetches against the sha256 the registry recorded.
        await register(home, models.lr2)
        store = await worker.ctx.stores.objects(worker.config.data.models_bucket)
        await store.put(hashlib.sha256(models.lr2.onnx_bytes).hexdigest(), models.lr1.onnx_bytes)
        changed = worker.models_changed
        await bus.publish(MODELS_CHANGED, encode(ModelsChanged(name=MODEL, alias="champion", version=2)))
        async with asyncio.timeout(WAIT):
            await changed.wait()
        assert worker.reload_error.startswith("integrity") and "refusing it" in worker.reload_error
        reply = await ask(bus, one("BOS", "LAL", "2023-04-05"), "r5")
        assert isinstance(reply, PredictReply) and reply.predictions[0].model_version == 1


async def test_new_results_update_the_live_features(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    async with serving(bus, home, worker):
        before = await ask(bus, one("BOS", "MIL", "2023-04-20"), "r6")
        assert isinstance(before, PredictReply)
        changed, rebuilds = worker.features_changed, worker.games.rebuilds
        report = await ingest(bus, home.later_csv)  # the stats worker announces them
        assert report.new_games > 0
        async with asyncio.timeout(WAIT):
            await changed.wait()
        # Later results: the state moved forward in place, no rebuild.
        assert worker.live.latest_date == last_date(home.later_csv) and worker.games.rebuilds == rebuilds
        # 2023-04-20 is now in the past: the played game (if any) or a replay from results before it.
        after = await ask(bus, one("BOS", "MIL", "2023-06-20"), "r7")
        assert isinstance(after, PredictReply)
        assert after.predictions[0].features != before.predictions[0].features


async def test_a_broken_challenger_does_not_stop_the_champion(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.lr1)
    await register(home, models.lr2, alias="challenger")
    worker = await make_inference(bus, home)
    async with serving(bus, home):
        # The challenger's copy in the model store is truncated (a writer died halfway, say).
        store = await worker.ctx.stores.objects(worker.config.data.models_bucket)
        await store.put(hashlib.sha256(models.lr2.onnx_bytes).hexdigest(), models.lr2.onnx_bytes[:100])
        async with running(worker):
            reply = await ask(bus, one("BOS", "LAL", "2023-04-05"), "r8")
            assert isinstance(reply, PredictReply), reply
            (p,) = reply.predictions
            assert p.model_version == 1 and p.challenger is None
            assert "challenger v2: integrity" in worker.health_detail()["reload_error"]
