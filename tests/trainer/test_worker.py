"""The trainer worker on the in-memory bus: jobs, progress, cancellation, the registry's door."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from nbamcp.bus.base import Bus
from nbamcp.bus.objects import get_verified
from nbamcp.errors import NoResponders
from nbamcp.messages import (
    AliasMoved,
    ErrorReply,
    ListModelsRequest,
    ModelCard,
    ModelCardRequest,
    ModelList,
    PromoteRequest,
    ReferenceSample,
    TrainCancel,
    TrainJobAccepted,
    TrainJobRequest,
    TrainJobState,
    TrainProgress,
    TrainStatusRequest,
    decode,
    encode,
)
from nbamcp.ml.registry import ModelRegistry
from nbamcp.subjects import MODELS_CARD, MODELS_LIST, MODELS_PROMOTE, TRAIN_JOBS, train_control
from tests.contexts import home_config
from tests.trainer.conftest import (
    WAIT,
    Home,
    finished,
    make_trainer,
    models_changed,
    progress_events,
    running,
)


async def call(bus: Bus, subject: str, req: Any, reply_type: Any) -> Any:
    """The reply, or the ErrorReply the worker sent instead."""
    msg = await bus.request(subject, encode(req), timeout=WAIT)
    return decode(msg.data, reply_type | ErrorReply)


async def run_job(bus: Bus, req: TrainJobRequest) -> list[TrainProgress]:
    events = await progress_events(bus, f"nba.train.progress.{req.job_id}")
    accepted = await call(bus, TRAIN_JOBS, req, TrainJobAccepted)
    assert isinstance(accepted, TrainJobAccepted), accepted
    return await events.wait_until(finished)


def check_progress(events: list[TrainProgress]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # every event, in order
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0 and fractions.count(1.0) == 1
    assert [e.state for e in events[:-1]] == ["running"] * (len(events) - 1)
    assert len(events) >= 5


async def test_job_trains_registers_and_promotes_the_first_model(bus: Bus, home: Home) -> None:
    changed = await models_changed(bus)
    async with running(await make_trainer(bus, home)):
        events = await progress_events(bus, "nba.train.progress.job1")
        accepted = await call(bus, TRAIN_JOBS, TrainJobRequest(job_id="job1"), TrainJobAccepted)
        assert accepted.train_seasons == list(range(2016, 2022))
        assert accepted.valid_seasons == [2022, 2023]
        assert accepted.progress_subject == "nba.train.progress.job1"
        await events.wait_until(finished)
        await changed.wait_until(bool)
        status = await call(bus, train_control("job1"), TrainStatusRequest(job_id="job1"), TrainJobState)

    check_progress(events.items)
    last = events.items[-1]
    assert last.state == "done" and last.error is None and last.result is not None
    r = last.result
    assert (r.name, r.version, r.model_kind, r.promoted, r.aliases) == (
        "game",
        1,
        "logreg",
        True,
        ["champion"],
    )
    assert r.valid.n == 2625 and 0.2 < r.valid.brier < 0.24  # 2022 + 2023 games in the 538 file
    assert r.onnx_parity_max_abs_diff is not None and r.onnx_parity_max_abs_diff < 1e-5
    assert r.uri == "nba://models/game/1"
    assert status.state == "done" and status.result == r

    (event,) = changed.items
    assert (event.name, event.alias, event.version, event.previous_version) == ("game", "champion", 1, None)
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        (audit,) = await reg.audit("game")
        mv = await reg.get("game", "champion")
        assert len(await reg.load_artifact(mv)) == r.artifact_size
    # The reference sample travels beside the artifact: in the model store under its sha256.
    trainer_ctx = await home.contexts.get(bus, home_config(home.root))
    store = await trainer_ctx.stores.objects(trainer_ctx.config.data.models_bucket)
    pointer = mv.reference["sample"]
    data = await get_verified(store, pointer["sha256"], size=pointer["size"])
    sample = msgspec.msgpack.decode(data, type=ReferenceSample)
    assert len(sample.rows) == 3000 and sample.feature_names == mv.feature_names
    assert (audit.actor, audit.from_version, audit.to_version) == ("trainer job job1", None, 1)
    assert "Brier" in audit.reason


async def test_second_job_is_refused_while_one_runs_and_cancel_stops_it(bus: Bus, home: Home) -> None:
    async with running(await make_trainer(bus, home, budget="small")) as trainer:
        events = await progress_events(bus, "nba.train.progress.long")
        accepted = await call(bus, TRAIN_JOBS, TrainJobRequest(job_id="long"), TrainJobAccepted)
        assert isinstance(accepted, TrainJobAccepted)
        busy = await call(bus, TRAIN_JOBS, TrainJobRequest(job_id="other"), TrainJobAccepted)
        assert isinstance(busy, ErrorReply) and busy.code == "busy"
        assert "already running job long" in busy.message

        state = await call(
            bus, train_control("long"), TrainCancel(job_id="long", actor="test"), TrainJobState
        )
        assert isinstance(state, TrainJobState) and state.state == "cancelling"
        await events.wait_until(finished)
        assert trainer.current is None
        # The worker is free again: the next job runs.
        after = await run_job(bus, TrainJobRequest(job_id="after", budget="tiny"))

    last = events.items[-1]
    assert last.state == "cancelled" and last.result is None
    assert last.error is not None and last.error.code == "cancelled"
    fractions = [e.fraction for e in events.items]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    assert after[-1].state == "done" and after[-1].result is not None
    assert after[-1].result.version == 1  # the cancelled job registered nothing


async def test_promote_list_and_card(bus: Bus, home: Home) -> None:
    changed = await models_changed(bus)
    async with running(await make_trainer(bus, home)):
        first = await run_job(bus, TrainJobRequest(job_id="v1"))
        second = await run_job(bus, TrainJobRequest(job_id="v2", seed=1, promote=False))
        assert first[-1].result is not None and first[-1].result.promoted
        assert second[-1].result is not None and not second[-1].result.promoted
        assert second[-1].result.aliases == []

        moved = await call(
            bus,
            MODELS_PROMOTE,
            PromoteRequest(version=2, alias="champion", actor="tester", reason="better on 2023"),
            AliasMoved,
        )
        await changed.wait_until(lambda items: len(items) == 2)
        listed = await call(bus, MODELS_LIST, ListModelsRequest(), ModelList)
        card = await call(bus, MODELS_CARD, ModelCardRequest(name="game", version="champion"), ModelCard)
        old_card = await call(bus, MODELS_CARD, ModelCardRequest(name="game", version="1"), ModelCard)

        unknown = await call(bus, MODELS_PROMOTE, PromoteRequest(version=9, alias="champion"), AliasMoved)
        bad_alias = await call(bus, MODELS_PROMOTE, PromoteRequest(version=1, alias="king"), AliasMoved)
        no_model = await call(bus, MODELS_CARD, ModelCardRequest(name="nope", version="1"), ModelCard)
        no_version = await call(bus, MODELS_CARD, ModelCardRequest(name="game", version="7"), ModelCard)
        no_list = await call(bus, MODELS_LIST, ListModelsRequest(name="nope"), ModelList)

    assert isinstance(moved, AliasMoved)
    assert (moved.version, moved.previous_version, moved.actor, moved.reason) == (
        2,
        1,
        "tester",
        "better on 2023",
    )
    assert [(e.alias, e.version, e.previous_version) for e in changed.items] == [
        ("champion", 1, None),
        ("champion", 2, 1),
    ]
    assert [(m.version, m.aliases) for m in listed.models] == [(1, []), (2, ["champion"])]
    assert listed.aliases == {"game": {"champion": 2}}
    assert listed.models[0].fit_seasons == list(range(2016, 2024))
    assert listed.models[0].valid.valid_seasons == [2022, 2023]

    c = card.card
    assert (c["uri"], c["version"], c["aliases"]) == ("nba://models/game/2", 2, ["champion"])
    assert c["lineage"]["feature_set_version"] and len(c["artifact"]["sha256"]) == 64
    assert [(a["from_version"], a["to_version"], a["actor"]) for a in c["audit"]] == [(1, 2, "tester")]
    assert [(a["from_version"], a["to_version"]) for a in old_card.card["audit"]] == [(None, 1), (1, 2)]
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        audit = await reg.audit("game")
    assert [(a.actor, a.from_version, a.to_version, a.reason) for a in audit][-1] == (
        "tester",
        1,
        2,
        "better on 2023",
    )

    assert isinstance(unknown, ErrorReply) and unknown.code == "not_found"
    assert "versions: 1, 2" in unknown.message and "champion=2" in unknown.message
    assert isinstance(bad_alias, ErrorReply) and bad_alias.code == "invalid_input"
    assert "(accepted: one of challenger, champion" in bad_alias.message
    assert isinstance(no_model, ErrorReply) and no_model.code == "not_found" and "game" in no_model.message
    assert isinstance(no_version, ErrorReply) and no_version.code == "not_found"
    assert isinstance(no_list, ErrorReply) and no_list.code == "not_found"


@pytest.mark.parametrize(
    ("req", "code", "text"),
    [
        (TrainJobRequest(valid_seasons=0), "invalid_input", "valid_seasons: expected int >= 1, got 0"),
        (TrainJobRequest(train_from=2030), "invalid_input", "train_from 2030 is after the last season"),
        (TrainJobRequest(train_from=2021), "invalid_input", "at least 2 are needed: use train_from <= 2020"),
        (TrainJobRequest(name="Bad Name"), "invalid_input", "name: expected str matching regex"),
        (TrainJobRequest(budget="huge"), "invalid_input", "budget: invalid enum value 'huge'"),
        (TrainJobRequest(job_id="a.b"), "invalid_input", "job_id: expected str matching regex"),
    ],
)
async def test_bad_job_requests(bus: Bus, home: Home, req: TrainJobRequest, code: str, text: str) -> None:
    async with running(await make_trainer(bus, home)) as trainer:
        reply = await call(bus, TRAIN_JOBS, req, TrainJobAccepted)
        assert trainer.current is None  # nothing started, nothing reserved
    assert isinstance(reply, ErrorReply) and reply.code == code
    assert text in reply.message


async def test_unknown_job_has_no_responder(bus: Bus, home: Home) -> None:
    async with running(await make_trainer(bus, home)):
        with pytest.raises(NoResponders):
            await bus.request(train_control("nope"), encode(TrainStatusRequest(job_id="nope")), timeout=WAIT)


async def test_auto_train_on_first_start_only(bus: Bus, home: Home) -> None:
    events = await progress_events(bus, "nba.train.progress.>")
    async with running(await make_trainer(bus, home, auto_train=True)) as trainer:
        await events.wait_until(finished)
    last = events.items[-1]
    assert last.state == "done" and last.job_id.startswith("auto-")
    assert last.result is not None and last.result.promoted
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        (audit,) = await reg.audit("game")
    assert audit.actor == "trainer auto_train"

    # With a champion, a restart trains nothing.
    async with running(await make_trainer(bus, home, auto_train=True)) as trainer:
        assert trainer.auto_task is not None
        async with asyncio.timeout(WAIT):
            await trainer.auto_task
        assert trainer.current is None and not trainer.recent


async def test_stop_cancels_the_running_job(bus: Bus, home: Home) -> None:
    trainer = await make_trainer(bus, home, budget="small")
    async with running(trainer):
        events = await progress_events(bus, "nba.train.progress.s")
        await call(bus, TRAIN_JOBS, TrainJobRequest(job_id="s"), TrainJobAccepted)
    # stop() set the job's cancel flag and waited for it: it ended, and said so, before the worker closed.
    await events.wait_until(finished)
    assert events.items[-1].state == "cancelled"
    assert trainer.current is None and trainer.status == "stopped"
