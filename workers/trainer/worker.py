"""The trainer worker: training jobs, and the model registry's door.

Subjects:
- ``nba.train.jobs`` (request/reply, queue "trainer"): TrainJobRequest ->
  TrainJobAccepted once the seasons are checked against the games. The job
  then runs in a thread (``workers.trainer.jobs``); one job at a time per
  instance: a second request while one runs is refused with code "busy"
  (not queued), naming the running job.
- ``nba.train.progress.<job>`` (events): TrainProgress in order (``seq``),
  fractions never going down, the last one with state "done" (fraction 1.0
  and the result), "failed" or "cancelled" (with the error; code "cancelled").
- ``nba.train.control.<job>`` (request/reply, only the owning instance
  subscribes, from the job's start until it drops out of the recent jobs):
  TrainCancel sets the job's cancel flag, checked by training before every
  fit; TrainStatusRequest answers the job's state.
- ``nba.models.list`` / ``.promote`` / ``.card`` / ``.serving`` (queue
  "trainer"): the registry (``workers.trainer.registry_door``). Artifacts go to
  the model object store before their version is announced on
  ``nba.models.changed``; on start the trainer uploads what the store lacks and,
  once it answers on these subjects, announces every alias (serving workers that
  started first load from that).
- the games dataset (a replica of the data bucket, replayed on start, then
  followed): what jobs train on; with ``trainer.auto_train`` and no champion
  of the served feature set yet, the replay (or new games) starts a training job.
- serving fs2 (``[features] served``), the rosters dataset too (replayed on start,
  then followed): every job trains with the ``RosterBook`` of what it holds then.

On start with ``auto_train`` and no champion, it trains one in the background
and promotes it, so the quick start serves a model without a manual step. Jobs
asked for on ``nba.train.jobs`` are not durable: a job lost with its process ends
with no final event, and the caller's status request then finds nobody answering.

Automated retraining (``workers.trainer.retrain``) is durable:
- ``nba.events.retrain`` (durable consumer ``trainer-triggers``): RetrainTrigger from the
  drift monitor; the trainer adds its own (new results, schedule). Recorded, coalesced,
  and turned into one job on the ``nba.train.queue`` work queue, acked once it is over.
- ``nba.train.retraining`` (queue "trainer"): the retraining status.
- the gate (``workers.trainer.gatekeeper``) asks the monitor (``nba.monitor.paired``)
  and promotes the challenger on a significant win.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import uuid
from collections import deque

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext
from nbamcp.bus.base import Msg, Subscription
from nbamcp.dataplane import data_bucket
from nbamcp.dataplane.replica import GameReplica, GamesChange
from nbamcp.dataplane.roster_replica import RosterReplica
from nbamcp.errors import ErrorCode, InvalidInput, NbaError, Unavailable
from nbamcp.log import bind_request, request_id_from
from nbamcp.messages import (
    ErrorReply,
    RetrainTrigger,
    TrainCancel,
    TrainJobAccepted,
    TrainJobRequest,
    TrainStatusRequest,
    decoder_for,
    encode,
)
from nbamcp.ml.dataset import seasons_of
from nbamcp.ml.planning import budget_named, check_model_name, plan_seasons, threads_setting
from nbamcp.ml.registry import AliasChange, ModelRegistry, ModelVersion
from nbamcp.ops.tracing import context_headers
from workers.trainer.jobs import Job, Plan, run_job
from workers.trainer.registry_door import RegistryDoor
from workers.trainer.retrain import Retrainer

log = structlog.get_logger(__name__)

RECENT_JOBS = 16  # finished jobs that still answer status requests
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TrainerBusy(Unavailable):
    """This trainer instance is running a job already."""

    code = ErrorCode.BUSY


class TrainerWorker(Actor):
    name = "trainer"

    door: RegistryDoor
    replica: GameReplica

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.settings = ctx.config.trainer
        self.current: Job | None = None  # the running job (or one being checked before it starts)
        self.recent: deque[Job] = deque()
        self._controls: dict[str, Subscription] = {}  # job id -> its control subscription
        self.auto_task: asyncio.Task[None] | None = None
        self._control_decoder = decoder_for(TrainCancel | TrainStatusRequest)
        self.jobs_done = 0
        self.idle = asyncio.Event()  # set while no job runs (retraining waits for it)
        self.idle.set()
        self.retrainer = Retrainer(self)
        self.rosters: RosterReplica | None = None  # serving fs2 only

    @property
    def registry(self) -> ModelRegistry:
        return self.door.registry

    def routes(self) -> list[Route]:
        return [
            Route(ep.TRAIN_JOBS, self.start_job),
            Route(ep.MODELS_LIST, self.door.list_models),
            Route(ep.MODELS_PROMOTE, self.door.promote),
            Route(ep.MODELS_CARD, self.door.model_card),
            Route(ep.MODELS_SERVING, self.door.serving),
            Route(ep.RETRAINING_STATUS, self.retrainer.status),
        ]

    def durable_routes(self) -> list[DurableRoute]:
        return [DurableRoute([ep.RETRAIN_TRIGGERS], "trainer-triggers", self._on_triggers, 16, 0.05)]

    async def _on_triggers(self, batch: list[Delivery[RetrainTrigger]]) -> None:
        for d in batch:
            await self.retrainer.trigger(d.event, request_id=request_id_from(d.msg.headers))

    async def on_start(self) -> None:
        config = self.config
        registry = await self.enter(await ModelRegistry.open(config.registry_path, config.artifacts_dir))
        objects = await self.ctx.stores.objects(config.data.models_bucket)
        self.door = RegistryDoor(self.bus, registry, objects)
        await self.door.reconcile()
        # The games arrive as the games dataset: replayed (before the trainer is ready), then followed.
        kv = await self.ctx.stores.kv(data_bucket(config))
        self.replica = GameReplica(kv)
        self.spawn(self.replica.run(self._games_changed), name="games")
        if config.features.served == "fs2":
            self.rosters = RosterReplica(kv)
            self.spawn(self.rosters.run(self._rosters_changed), name="rosters")
        timeout = config.data.replay_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await self.replica.caught_up.wait()
                if self.rosters is not None:
                    await self.rosters.caught_up.wait()
        except TimeoutError:
            why = f"the datasets did not replay within {timeout:g}s (data.replay_timeout_s)"
            raise Unavailable(why) from None
        await self.retrainer.start()
        if self.settings.auto_train:
            # In the background: the worker answers (and can be stopped) while the games are read.
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
        for sub in self._controls.values():
            await sub.unsubscribe()
        self._controls.clear()

    async def on_subscribed(self) -> None:
        # Announced only now that the registry's questions have a subscriber: a serving worker
        # told of a version asks about it at once, and "no responders" then would leave it
        # serving the baseline (an announcement is not sent twice).
        self.spawn(self._keep_reconciling(), name="reconcile")

    async def on_recovered(self) -> None:
        # NATS came back, perhaps without its store: the artifacts again, then who serves.
        if await self.door.reconcile():
            await self.door.announce_all(uuid.uuid4().hex)

    def health_detail(self) -> dict[str, str]:
        detail = {"registry": str(self.config.registry_path), "jobs_done": str(self.jobs_done)}
        if self.retrainer.started.is_set():
            detail |= {
                "retrain_jobs_run": str(self.retrainer.jobs_run),
                "retrain_queue": self.retrainer.queue.kind,
                "gate_decisions": str(self.retrainer.gate.made),
            }
        if self.current is not None:
            detail |= {"job": self.current.id, "progress": f"{100 * self.current.fraction:.0f}%"}
        return detail

    async def _keep_reconciling(self) -> None:
        # Serving workers that started before the trainer (or after a server restart) load now.
        await self.door.announce_all(uuid.uuid4().hex)
        while True:
            await asyncio.sleep(self.config.data.reconcile_s)
            try:
                if await self.door.reconcile():
                    await self.door.announce_all(uuid.uuid4().hex)
            except NbaError as exc:  # the server is away: next round
                log.warning("trainer.reconcile_failed", code=exc.code, error=exc.message)

    # ---- jobs --------------------------------------------------------------------------------------
    async def start_job(self, req: TrainJobRequest, ctx: Context) -> TrainJobAccepted:
        return await self.submit(req, ctx.request_id)

    async def submit(self, req: TrainJobRequest, request_id: str) -> TrainJobAccepted:
        """Check the request against the games, then start the job in the background."""
        job, plan = await self.begin(req, request_id)
        seasons, valid = plan.train_seasons, plan.valid_seasons
        return TrainJobAccepted(
            job_id=job.id,
            name=req.name,
            progress_subject=ep.TRAIN_PROGRESS.at(job.id).subject,
            train_seasons=seasons,
            valid_seasons=valid,
            budget=plan.budget_name,
        )

    async def begin(
        self, req: TrainJobRequest, request_id: str, *, lineage: dict[str, object] | None = None
    ) -> tuple[Job, Plan]:
        """Start a job (``lineage`` is recorded with the version it registers); TrainerBusy while
        one runs."""
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
        job = Job(id=job_id, name=req.name, request=req, request_id=request_id, lineage=dict(lineage or {}))
        self.current = job  # reserved before the first await: a second request is refused
        self.idle.clear()
        try:
            plan = await self._plan(job)
            self._controls[job_id] = await self.bus.subscribe(
                ep.TRAIN_CONTROL.at(job_id).subject, functools.partial(self._on_control, job=job)
            )
        except BaseException:
            self.current = None
            self.idle.set()
            raise
        job.task = self.spawn(self._run_job(job, plan), name=f"job-{job_id}")
        seasons, valid = plan.train_seasons, plan.valid_seasons
        log.info(
            "trainer.job_started", job_id=job_id, train=f"{seasons[0]}-{seasons[-1]}",
            valid=f"{valid[0]}-{valid[-1]}", budget=plan.budget_name,
        )  # fmt: skip
        return job, plan

    async def _plan(self, job: Job) -> Plan:
        req, t = job.request, self.settings
        check_model_name(req.name)
        budget_name = req.budget or t.budget
        budget = budget_named(budget_name)
        if not self.replica.caught_up.is_set():
            raise Unavailable(
                "the trainer is still receiving the games (the games dataset replays): try again"
            )
        games = self.replica.games()
        if not games:
            raise Unavailable(
                "there are no played games to train on yet: the stats worker publishes them once it has "
                "ingested the data"
            )
        train_from = t.train_from if req.train_from is None else req.train_from
        n_valid = t.valid_seasons if req.valid_seasons is None else req.valid_seasons
        seed = t.seed if req.seed is None else req.seed
        job.request = msgspec.structs.replace(req, train_from=train_from, valid_seasons=n_valid, seed=seed)
        train_seasons, valid = plan_seasons(seasons_of(games), train_from, n_valid)
        rosters = None
        if self.rosters is not None:
            if not self.rosters.caught_up.is_set():
                raise Unavailable("the trainer is still receiving the rosters (the rosters dataset replays)")
            rosters = self.rosters.book()
        return Plan(games, train_seasons, valid, budget, budget_name, rosters)

    async def _run_job(self, job: Job, plan: Plan) -> None:
        pump = asyncio.create_task(self._pump(job))
        with bind_request(job.request_id, actor=self.name, job_id=job.id):
            try:
                threads = threads_setting(self.settings.threads)
                await run_job(job, plan, self.registry, threads=threads, registered=self._registered)
            finally:
                await pump
                self._retire(job)
        if job.state == "done":  # new results are counted from this snapshot on
            await self.retrainer.trained(job.name, len(plan.games))

    async def _registered(self, mv: ModelVersion, change: AliasChange | None, rid: str) -> None:
        await self.door.publish_artifact(mv)
        if change is not None:
            await self.door.announce(change.name, change.alias, change.to_version, change.from_version, rid)

    async def _pump(self, job: Job) -> None:
        headers = context_headers(job.request_id)
        subject = ep.TRAIN_PROGRESS.at(job.id).subject
        while (event := await job.events.get()) is not None:
            try:
                await self.bus.publish(subject, encode(event), headers=headers)
            except NbaError as exc:  # progress is advisory: the job goes on
                log.warning("trainer.progress_publish_failed", job_id=job.id, error=exc.message)

    def _retire(self, job: Job) -> None:
        self.jobs_done += 1
        if self.current is job:
            self.current = None
            self.idle.set()
        self.recent.append(job)
        while len(self.recent) > RECENT_JOBS:
            old = self.recent.popleft()
            sub = self._controls.pop(old.id, None)
            if sub is not None:
                self.spawn(sub.unsubscribe(), name=f"retire-{old.id}")

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
    async def _games_changed(self, change: GamesChange) -> None:
        if change and self.replica.caught_up.is_set():
            await self.retrainer.games_changed()
        if (
            change
            and self.settings.auto_train
            and self.replica.caught_up.is_set()
            and self.current is None
            and (self.auto_task is None or self.auto_task.done())
        ):
            self.auto_task = self.spawn(self._auto_train("new games"), name="auto-train")

    async def _rosters_changed(self, seasons: list[int]) -> None:
        # The next job trains with them (``_plan`` takes the book of the moment); nothing else to do.
        log.info("trainer.rosters_changed", seasons=len(seasons))

    async def _champion_serves(self, name: str) -> bool:
        """Whether ``name`` has a champion of the feature set the workers serve."""
        champion = (await self.registry.aliases(name)).get("champion")
        if champion is None:
            return False
        return (await self.registry.get(name, champion)).feature_set_version == self.config.features.served

    async def _auto_train(self, why: str) -> None:
        name = self.settings.model_name
        await self.replica.caught_up.wait()  # the games first
        try:
            if self.current is not None or await self._champion_serves(name):
                return
            served = self.config.features.served
            req = TrainJobRequest(
                job_id=f"auto-{uuid.uuid4().hex[:11]}",
                name=name,
                promote=True,
                actor="trainer auto_train",
                reason=f"no champion of feature set {served} yet ({why}): trained automatically",
            )
            accepted = await self.submit(req, uuid.uuid4().hex)
            log.info("trainer.auto_train", job_id=accepted.job_id, why=why)
        except NbaError as exc:
            # No games yet (the stats worker may still be ingesting): new games retry.
            log.info("trainer.auto_train_skipped", why=why, code=exc.code, reason=exc.message)
