"""The trainer worker: training jobs, and the model registry's door.

Subjects:
- ``nba.train.jobs`` (request/reply, queue "trainer"): TrainJobRequest ->
  TrainJobAccepted once the seasons are checked against the store. The job
  then runs in a thread (``asyncio.to_thread``); one job at a time per
  instance: a second request while one runs is refused with code "busy"
  (not queued), naming the running job.
- ``nba.train.progress.<job>`` (events): TrainProgress in order (``seq``),
  fractions never going down, the last one with state "done" (fraction 1.0
  and the result), "failed" or "cancelled" (with the error; code "cancelled").
- ``nba.train.control.<job>`` (request/reply, only the owning instance
  subscribes, from the job's start until it drops out of the recent jobs):
  TrainCancel sets the job's cancel flag, checked by training before every
  fit; TrainStatusRequest answers the job's state.
- ``nba.models.list`` / ``nba.models.promote`` / ``nba.models.card`` (queue
  "trainer"): the registry. A promotion (by request or by a job) records
  actor and reason in the audit trail and publishes ModelsChanged on
  ``nba.models.changed``.
- ``nba.events.games`` (broadcast): with ``trainer.auto_train`` and no
  champion yet, new games start the first training job.

On start with ``auto_train`` and no champion, it trains one in the background
and promotes it, so the quick start serves a model without a manual step. Jobs
are not durable: a job lost with its process ends with no final event, and the
caller's status request then finds nobody answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route, WorkerContext
from nbamcp.bus.base import REQUEST_ID_HEADER, Msg, Subscription
from nbamcp.data.games import GameRow, read_played_games
from nbamcp.errors import ErrorCode, InvalidInput, NbaError, NotFound, Unavailable
from nbamcp.log import bind_request
from nbamcp.messages import (
    AliasMoved,
    ErrorReply,
    GamesIngested,
    ListModelsRequest,
    ModelCard,
    ModelCardRequest,
    ModelInfo,
    ModelList,
    ModelsChanged,
    PromoteRequest,
    TrainCancel,
    TrainJobAccepted,
    TrainJobRequest,
    TrainJobResult,
    TrainJobState,
    TrainProgress,
    TrainStatusRequest,
    decoder_for,
    encode,
)
from nbamcp.ml.dataset import seasons_of
from nbamcp.ml.planning import budget_named, check_model_name, default_reason, plan_seasons, threads_setting
from nbamcp.ml.registration import job_result, offline_metrics, register_trained
from nbamcp.ml.registry import ModelRegistry
from nbamcp.ml.train import Budget, TrainingCancelled, train

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)

TERMINAL = ("done", "failed", "cancelled")
TRAIN_SHARE = 0.95  # training's share of a job's progress; registering takes the rest
RECENT_JOBS = 16  # finished jobs that still answer status requests
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TrainerBusy(Unavailable):
    """This trainer instance is running a job already."""

    code = ErrorCode.BUSY


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(eq=False)
class Job:
    """One training job and what its callers can see of it."""

    id: str
    name: str
    request: TrainJobRequest
    request_id: str
    started_at: str = field(default_factory=_now)
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "running"
    fraction: float = 0.0
    message: str = "starting"
    seq: int = 0
    result: TrainJobResult | None = None
    error: ErrorReply | None = None
    events: asyncio.Queue[TrainProgress | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    control: Subscription | None = None

    def snapshot(self) -> TrainJobState:
        state = "cancelling" if self.state == "running" and self.cancel.is_set() else self.state
        return TrainJobState(
            job_id=self.id,
            name=self.name,
            state=state,
            fraction=self.fraction,
            message=self.message,
            started_at=self.started_at,
            result=self.result,
            error=self.error,
        )


class TrainerWorker(Actor):
    name = "trainer"

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        config = ctx.config
        self.store_path = config.store_path
        self.registry_path = config.registry_path
        self.artifacts_dir = config.artifacts_dir
        self.settings = config.trainer
        self._registry: ModelRegistry | None = None
        self.current: Job | None = None  # the running job (or one being checked before it starts)
        self.recent: deque[Job] = deque()
        self.auto_task: asyncio.Task[None] | None = None
        self._control_decoder = decoder_for(TrainCancel | TrainStatusRequest)
        self.jobs_done = 0

    def routes(self) -> list[Route]:
        return [
            Route(ep.TRAIN_JOBS, self.start_job),
            Route(ep.MODELS_LIST, self.list_models),
            Route(ep.MODELS_PROMOTE, self.promote),
            Route(ep.MODELS_CARD, self.model_card),
            Route(ep.GAMES_INGESTED, self.on_games),
        ]

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            raise Unavailable("the trainer's model registry is not open")
        return self._registry

    async def on_start(self) -> None:
        self._registry = await ModelRegistry.open(self.registry_path, self.artifacts_dir)
        self.close_with(self._registry.close)
        if self.settings.auto_train:
            # In the background: the worker answers (and can be stopped) while the store is read.
            self.auto_task = self.spawn(self._auto_train("start"), name="auto-train")

    async def on_stop(self) -> None:
        if self.auto_task is not None:
            self.auto_task.cancel()
            await asyncio.gather(self.auto_task, return_exceptions=True)
        job = self.current
        if job is not None and job.task is not None:
            job.cancel.set()  # the thread stops before its next fit
            _, pending = await asyncio.wait({job.task}, timeout=self.remaining_s())
            if pending:
                log.warning("trainer.stop.job_still_running", job_id=job.id)
        for old in [*self.recent, *([job] if job else [])]:
            if old.control is not None:
                await old.control.unsubscribe()
                old.control = None

    def health_detail(self) -> dict[str, str]:
        detail = {"registry": str(self.registry_path), "jobs_done": str(self.jobs_done)}
        if self.current is not None:
            detail |= {"job": self.current.id, "progress": f"{100 * self.current.fraction:.0f}%"}
        return detail

    # ---- jobs --------------------------------------------------------------------------------------
    async def start_job(self, req: TrainJobRequest, ctx: Context) -> TrainJobAccepted:
        return await self.submit(req, ctx.request_id)

    async def submit(self, req: TrainJobRequest, request_id: str) -> TrainJobAccepted:
        """Check the request against the store, then start the job in the background."""
        if self.current is not None:
            run = self.current
            raise TrainerBusy(
                f"this trainer is already running job {run.id} ({100 * run.fraction:.0f}%, {run.message}); "
                "one job at a time: wait for it to finish or cancel it",
                details={"job_id": run.id},
            )
        job_id = req.job_id or uuid.uuid4().hex[:16]
        if not _JOB_ID.fullmatch(job_id):
            raise InvalidInput(f"job_id {job_id!r} is not valid: use 1-64 of A-Z a-z 0-9 _ -")
        if any(j.id == job_id for j in self.recent):
            raise InvalidInput(f"job_id {job_id!r} was used already; pick a new one")
        job = Job(id=job_id, name=req.name, request=req, request_id=request_id)
        self.current = job  # reserved before the first await: a second request is refused
        try:
            check_model_name(req.name)
            budget_name = req.budget or self.settings.budget
            budget = budget_named(budget_name)
            games = await read_played_games(self.store_path)
            t = self.settings
            train_from = t.train_from if req.train_from is None else req.train_from
            n_valid = t.valid_seasons if req.valid_seasons is None else req.valid_seasons
            seed = t.seed if req.seed is None else req.seed
            job.request = msgspec.structs.replace(
                req, train_from=train_from, valid_seasons=n_valid, seed=seed
            )
            train_seasons, valid = plan_seasons(seasons_of(games), train_from, n_valid)
            job.control = await self.bus.subscribe(
                ep.TRAIN_CONTROL.at(job_id).subject, functools.partial(self._on_control, job=job)
            )
        except BaseException:
            self.current = None
            raise
        job.task = self.spawn(self._run_job(job, games, train_seasons, valid, budget), name=f"job-{job_id}")
        log.info(
            "trainer.job_started",
            job_id=job_id,
            train=f"{train_seasons[0]}-{train_seasons[-1]}",
            valid=f"{valid[0]}-{valid[-1]}",
            budget=budget_name,
        )
        return TrainJobAccepted(
            job_id=job_id,
            name=req.name,
            progress_subject=ep.TRAIN_PROGRESS.at(job_id).subject,
            train_seasons=train_seasons,
            valid_seasons=valid,
            budget=budget_name,
        )

    def _emit(self, job: Job, fraction: float, message: str, state: str = "running") -> None:
        """Record a step and queue its event (the pump publishes them in order). Loop thread only."""
        job.seq += 1
        job.fraction = max(job.fraction, fraction)
        job.message = message
        job.state = state
        job.events.put_nowait(
            TrainProgress(
                job_id=job.id,
                seq=job.seq,
                fraction=job.fraction,
                message=message,
                state=state,
                result=job.result,
                error=job.error,
            )
        )

    async def _pump(self, job: Job) -> None:
        headers = {REQUEST_ID_HEADER: job.request_id}
        subject = ep.TRAIN_PROGRESS.at(job.id).subject
        while (event := await job.events.get()) is not None:
            try:
                await self.bus.publish(subject, encode(event), headers=headers)
            except NbaError as exc:  # progress is advisory: the job goes on
                log.warning("trainer.progress_publish_failed", job_id=job.id, error=exc.message)

    async def _run_job(
        self, job: Job, games: list[GameRow], train_seasons: list[int], valid: list[int], budget: Budget
    ) -> None:
        loop = asyncio.get_running_loop()
        pump = asyncio.create_task(self._pump(job))
        req = job.request

        def progress(fraction: float, message: str) -> None:  # called in the training thread
            loop.call_soon_threadsafe(self._emit, job, round(TRAIN_SHARE * fraction, 4), message)

        with bind_request(job.request_id, actor=self.name, job_id=job.id):
            try:
                self._emit(job, 0.0, f"training on seasons {train_seasons[0]}-{train_seasons[-1]}")
                result = await asyncio.to_thread(
                    train,
                    games,
                    train_seasons=train_seasons,
                    valid_seasons=valid,
                    seed=req.seed or 0,
                    budget=budget,
                    progress=progress,
                    cancel=job.cancel.is_set,
                    n_threads=threads_setting(self.settings.threads),
                )
                self._emit(job, TRAIN_SHARE, "registering the model")
                mv, change = await register_trained(
                    self.registry,
                    req.name,
                    result,
                    promote=req.promote,
                    actor=req.actor or f"trainer job {job.id}",
                    reason=req.reason or default_reason(result),
                )
                job.result = await job_result(self.registry, job.id, mv, change, result)
                if change is not None:
                    await self._announce(
                        change.name, change.alias, change.to_version, change.from_version, job.request_id
                    )
                done = f"registered {mv.name} v{mv.version} ({mv.model_kind})"
                self._emit(job, 1.0, done + (", now champion" if change else ""), "done")
                log.info("trainer.job_done", version=mv.version, kind=mv.model_kind, promoted=bool(change))
            except TrainingCancelled as exc:
                job.error = ErrorReply(code=exc.code, message=f"job {job.id} cancelled: {exc.message}")
                self._emit(job, job.fraction, "cancelled", "cancelled")
                log.info("trainer.job_cancelled")
            except NbaError as exc:
                job.error = ErrorReply(code=exc.code, message=exc.message, details=exc.details)
                self._emit(job, job.fraction, f"failed: {exc.message}", "failed")
                log.warning("trainer.job_failed", code=exc.code, error=exc.message)
            except Exception:
                # Job boundary: a bug in training must end the job with an error, not the worker.
                log.exception("trainer.job_crashed")
                job.error = ErrorReply(
                    code=ErrorCode.INTERNAL, message=f"training job {job.id} crashed (see the logs)"
                )
                self._emit(job, job.fraction, "failed: internal error", "failed")
            finally:
                job.events.put_nowait(None)
                await pump
                self._retire(job)

    def _retire(self, job: Job) -> None:
        self.jobs_done += 1
        if self.current is job:
            self.current = None
        self.recent.append(job)
        while len(self.recent) > RECENT_JOBS:
            old = self.recent.popleft()
            if old.control is not None:
                sub, old.control = old.control, None
                asyncio.get_running_loop().create_task(sub.unsubscribe())

    async def _on_control(self, msg: Msg, job: Job) -> None:
        try:
            req = self._control_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reply: msgspec.Struct = ErrorReply(
                code=ErrorCode.INVALID_INPUT, message=f"malformed control message: {exc}"
            )
        else:
            if req.job_id != job.id:
                reply = ErrorReply(
                    code=ErrorCode.INVALID_INPUT, message=f"job_id {req.job_id!r} sent to job {job.id}"
                )
            else:
                if isinstance(req, TrainCancel) and job.state == "running" and not job.cancel.is_set():
                    job.cancel.set()
                    log.info("trainer.cancel_requested", job_id=job.id, by=req.actor or "unknown")
                reply = job.snapshot()
        if msg.reply:
            with contextlib.suppress(NbaError):  # the requester may be gone
                await msg.respond(encode(reply))

    # ---- auto-train ----------------------------------------------------------------------------
    async def on_games(self, msg: GamesIngested, ctx: Context) -> None:
        if (
            self.settings.auto_train
            and self.current is None
            and (self.auto_task is None or self.auto_task.done())
        ):
            self.auto_task = self.spawn(self._auto_train("new games"), name="auto-train")

    async def _auto_train(self, why: str) -> None:
        name = self.settings.model_name
        try:
            if "champion" in await self.registry.aliases(name) or self.current is not None:
                return
            req = TrainJobRequest(
                job_id=f"auto-{uuid.uuid4().hex[:11]}",
                name=name,
                promote=True,
                actor="trainer auto_train",
                reason=f"no champion yet ({why}): first model trained automatically",
            )
            accepted = await self.submit(req, uuid.uuid4().hex)
            log.info("trainer.auto_train", job_id=accepted.job_id, why=why)
        except NbaError as exc:
            # No games yet (the stats worker may still be ingesting): new games retry.
            log.info("trainer.auto_train_skipped", why=why, code=exc.code, reason=exc.message)

    # ---- registry ---------------------------------------------------------------------------------
    async def list_models(self, req: ListModelsRequest, ctx: Context) -> ModelList:
        reg = self.registry
        versions = await reg.list_versions(req.name)
        names = await reg.names()
        if req.name is not None and not versions:
            raise NotFound(
                f"no model named {req.name!r}; registered models: {', '.join(names) or '(none)'}",
                details={"models": ",".join(names)},
            )
        aliases = {n: await reg.aliases(n) for n in ([req.name] if req.name else names)}
        models = [
            ModelInfo(
                name=mv.name,
                version=mv.version,
                model_kind=mv.model_kind,
                aliases=[a for a, v in aliases.get(mv.name, {}).items() if v == mv.version],
                feature_set_version=mv.feature_set_version,
                code_version=mv.code_version,
                trained_at=mv.trained_at,
                training_seconds=mv.training_seconds,
                artifact_sha256=mv.artifact_sha256,
                artifact_size=mv.artifact_size,
                data_hash=mv.data_hash,
                fit_seasons=list(mv.params.get("fit_seasons") or []),
                valid=offline_metrics(mv.metrics, mv.params),
                uri=f"nba://models/{mv.name}/{mv.version}",
            )
            for mv in versions
        ]
        return ModelList(models=models, aliases=aliases)

    async def promote(self, req: PromoteRequest, ctx: Context) -> AliasMoved:
        change = await self.registry.set_alias(
            req.name,
            req.alias,
            req.version,
            actor=req.actor.strip() or "unknown (bus request)",
            reason=req.reason.strip() or f"promoted v{req.version} to {req.alias}",
        )
        await self._announce(
            change.name, change.alias, change.to_version, change.from_version, ctx.request_id
        )
        log.info(
            "trainer.promoted",
            name=change.name,
            alias=change.alias,
            version=change.to_version,
            previous=change.from_version,
            actor=change.actor,
        )
        return AliasMoved(
            name=change.name,
            alias=change.alias,
            version=change.to_version,
            previous_version=change.from_version,
            actor=change.actor,
            reason=change.reason,
            at=change.at,
        )

    async def _announce(self, name: str, alias: str, version: int, previous: int | None, rid: str) -> None:
        event = ModelsChanged(name=name, alias=alias, version=version, previous_version=previous)
        await self.bus.publish(ep.MODELS_CHANGED.subject, encode(event), headers={REQUEST_ID_HEADER: rid})

    async def model_card(self, req: ModelCardRequest, ctx: Context) -> ModelCard:
        card = await self.registry.model_card(req.name, req.version)
        version = card["version"]
        card["audit"] = [
            msgspec.structs.asdict(c)
            for c in await self.registry.audit(req.name)
            if version in (c.to_version, c.from_version)
        ]
        return ModelCard(card=card)
