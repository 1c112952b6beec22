"""Automated retraining: triggers in, one durable job at a time out, the result a challenger.

- Triggers: ``RetrainTrigger`` events (``nba.events.retrain``, the drift monitor's alarms),
  ``new_results`` once ``[retrain] min_new_results`` results arrived since the latest
  training snapshot, and ``schedule`` every ``schedule_s``. Each is recorded with its reason
  in ``retrain.sqlite`` (``book``); one that arrives while a job of its model is queued or
  running joins that job instead of opening another (a storm of triggers is one job).
- Jobs: a ``RetrainJob`` on the durable work queue ``nba.train.queue`` (JetStream work-queue
  stream on NATS, the SQLite outbox ``train-queue.sqlite`` in process: the durable seam of
  ``nbamcp.bus.durable``). The trainer fetches one, trains (the same job runner as
  ``nba.train.jobs``, telling the queue it is alive every ``ack_wait_s / 3``), registers the
  version with its lineage (trigger, data snapshot, parent version, job), points
  ``challenger`` at it, and only then acks. A trainer killed mid-job leaves the job
  unacked: it is delivered again after the restart and trained again (a version an
  earlier attempt registered is reused, not registered twice). A stop mid-job does the same.
  A job the queue did not take (the server away) is put on it again, 1 s doubling to 30 s,
  until it lands.
- The gate (``workers.trainer.gatekeeper``) then decides on the challenger's realized games.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from typing import TYPE_CHECKING

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Context
from nbamcp.bus.durable import DurableConsumer, DurableMsg, DurableStream
from nbamcp.errors import ErrorCode, NbaError
from nbamcp.log import bind_request
from nbamcp.messages import (
    AuditEntry,
    ChallengerRecord,
    JobRecord,
    RetrainingStatus,
    RetrainingStatusRequest,
    RetrainJob,
    RetrainTrigger,
    TrainJobRequest,
)
from nbamcp.ml.registry import ModelVersion
from nbamcp.serving.retry import UNTIL_IT_LANDS, retry_until
from nbamcp.streams import open_train_queue, publish_durable
from workers.trainer.book import OPEN_STATES, RetrainBook
from workers.trainer.gatekeeper import GateKeeper

if TYPE_CHECKING:
    from workers.trainer.worker import TrainerWorker

log = structlog.get_logger(__name__)

QUEUE_CONSUMER = "trainer"
ACTOR = "trainer retraining"


class Retrainer:
    """The trainer's retraining side; ``start`` once the games have replayed."""

    book: RetrainBook
    queue: DurableStream
    gate: GateKeeper

    def __init__(self, trainer: TrainerWorker) -> None:
        self.trainer = trainer
        self.settings = trainer.config.retrain
        self.model = trainer.config.trainer.model_name
        self.started = asyncio.Event()
        self.jobs_run = 0  # jobs this process finished (done, failed or cancelled)
        # Jobs recorded as queued whose message the queue did not take (job id -> job, request id).
        self._unqueued: dict[str, tuple[JobRecord, str]] = {}
        self._requeue: asyncio.Task[None] | None = None

    async def start(self) -> None:
        t = self.trainer
        self.book = await RetrainBook.open(t.config.retrain_path)
        t.close_with(self.book.close)
        self.queue = await open_train_queue(t.bus, t.config)
        t.close_with(self.queue.close)
        self.gate = GateKeeper(t, self.book)
        if await self.book.snapshot_games(self.model) is None:
            # A registry from before retraining (or none yet): count new results from now.
            await self.book.set_snapshot(self.model, len(t.replica.games()))
        # A job recorded but not on the queue (the process died between the two): put it there.
        for job in await self.book.open_jobs():
            await self._enqueue(job)
        # Opened here, connected: opened in the task, a server lost meanwhile (and the queue's stream
        # with it, until the recovery makes it again) ended the task and retraining for good.
        consumer = await self.queue.consumer(QUEUE_CONSUMER)
        t.spawn(self._consume(consumer), name="retrain-queue")
        if self.settings.schedule_s > 0:
            t.spawn(self._schedule(self.settings.schedule_s), name="retrain-schedule")
        t.spawn(self.gate.run(), name="gate")
        self.started.set()

    # ---- triggers ----------------------------------------------------------------------------------
    async def trigger(self, t: RetrainTrigger, *, request_id: str = "") -> tuple[JobRecord, bool] | None:
        """Record ``t``; queue a job unless one of its model is open (then ``t`` joins it).
        Returns the job and whether ``t`` opened it; None for a trigger id seen before."""
        recorded = await self.book.record_trigger(t, f"rt-{uuid.uuid4().hex[:12]}")
        if recorded is None:
            log.info("trainer.retrain_trigger_duplicate", trigger_id=t.trigger_id, kind=t.kind)
            return None
        job, created = recorded
        log.info(
            "trainer.retrain_trigger", trigger_id=t.trigger_id, kind=t.kind, reason=t.reason,
            job_id=job.job_id, outcome="queued" if created else "coalesced", job_state=job.state,
        )  # fmt: skip
        if created:
            await self._enqueue(job, request_id=request_id)
        self.trainer.moved()  # a trigger recorded, maybe a job opened
        return job, created

    async def _enqueue(self, job: JobRecord, *, request_id: str = "") -> None:
        msg = RetrainJob(
            job_id=job.job_id, model_name=job.model_name, trigger_id=job.trigger_id, kind=job.kind,  # type: ignore[arg-type]
            reason=job.reason,
        )  # fmt: skip
        try:
            await publish_durable(self.queue, ep.TRAIN_QUEUE, msg, request_id=request_id or None)
        except NbaError as exc:
            log.error("trainer.retrain_enqueue_failed", job_id=job.job_id, code=exc.code, error=exc.message)
            # Recorded as queued, every later trigger joins it: left off the queue it would never
            # run (nor would any other) until the trainer restarted. The dedup id makes a second
            # landing one job.
            self._unqueued[job.job_id] = (job, request_id)
            if self._requeue is None or self._requeue.done():
                self._requeue = self.trainer.spawn(self._enqueue_again(), name="retrain-requeue")

    async def _enqueue_again(self) -> None:
        async def attempt(n: int) -> bool:
            for job_id, (job, request_id) in list(self._unqueued.items()):
                del self._unqueued[job_id]
                await self._enqueue(job, request_id=request_id)  # puts it back if it fails again
                if job_id in self._unqueued:
                    return False  # still away: the next pause
            return True

        await retry_until(attempt, what="retraining job to the queue")

    async def games_changed(self) -> None:
        """New results: a ``new_results`` trigger once enough arrived since the latest snapshot."""
        if not self.started.is_set():
            return
        await self.gate.poke()
        threshold = self.settings.min_new_results
        if threshold <= 0:
            return
        base = await self.book.snapshot_games(self.model)
        n = len(self.trainer.replica.games())
        if base is None or n - base < threshold:
            return
        if "champion" not in await self.trainer.registry.aliases(self.model):
            return  # nothing to challenge yet: the first model is auto_train's
        await self.trigger(
            RetrainTrigger(
                # One per snapshot: every later change before the next training is the same trigger.
                trigger_id=f"new_results:{self.model}:{base}",
                kind="new_results",
                reason=f"{n - base} new results since the latest training snapshot ({base} games; "
                f"threshold {threshold})",
                model_name=self.model,
                source="trainer",
                metrics={"new_results": float(n - base), "snapshot_games": float(base)},
                ts=time.time(),
            )
        )

    async def trained(self, name: str, n_games: int) -> None:
        """A job of ``name`` finished on ``n_games`` games: new results count from there."""
        if self.started.is_set() and name == self.model:
            with contextlib.suppress(Exception):  # bookkeeping: never fails the job that trained
                await self.book.set_snapshot(name, n_games)

    async def _schedule(self, period: float) -> None:
        while True:
            await asyncio.sleep(period - time.time() % period)
            slot = int(time.time() // period)
            try:
                await self.trigger(
                    RetrainTrigger(
                        trigger_id=f"schedule:{self.model}:{slot}",
                        kind="schedule",
                        reason=f"scheduled retraining (every {period:g} s)",
                        model_name=self.model,
                        source="trainer",
                        ts=time.time(),
                    )
                )
            except NbaError as exc:
                log.warning("trainer.retrain_schedule_failed", code=exc.code, error=exc.message)

    # ---- the queue ----------------------------------------------------------------------------------
    async def _consume(self, consumer: DurableConsumer) -> None:
        failed = 0
        try:
            while True:
                try:
                    msgs = await consumer.fetch(1, timeout=5.0)
                except NbaError as exc:
                    # The server away: the queue's recovery makes its stream and consumer again.
                    failed += 1
                    pause = UNTIL_IT_LANDS.pause(failed, random.random())
                    log.warning(
                        "trainer.retrain_fetch_failed", code=exc.code, error=exc.message, pause_s=pause
                    )
                    await asyncio.sleep(pause)
                    continue
                failed = 0
                for m in msgs:
                    try:
                        await self._handle(m)
                    except Exception:
                        # Job boundary: a bug (or a registry error) in one job must not stop the
                        # queue; the job comes back later (at most max_deliver times).
                        log.exception("trainer.retrain_job_crashed", seq=m.seq)
                        with contextlib.suppress(Exception):
                            await m.nak(self.settings.ack_wait_s)
        finally:
            with contextlib.suppress(Exception):
                await consumer.close()

    async def _handle(self, m: DurableMsg) -> None:
        try:
            msg = msgspec.msgpack.decode(m.data, type=RetrainJob)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("trainer.retrain_bad_job", seq=m.seq, error=str(exc))
            await m.term()
            return
        job = await self.book.job(msg.job_id)
        if job is None or job.state not in OPEN_STATES:
            # Done already (acked late, or put on the queue twice): nothing to do.
            await m.ack()
            return
        alive = asyncio.create_task(self._keep_alive(m))
        try:
            with bind_request(f"retrain-{job.job_id}", actor="trainer", job_id=job.job_id):
                # The book counts attempts across restarts (the outbox's delivery count starts afresh).
                outcome = await self._run(job, attempt=job.attempts + 1)
        finally:
            alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alive
            self.trainer.moved()  # the job's state changed
        if outcome == "interrupted":
            return  # not acked: the queue delivers it again after the restart
        await m.ack()
        self.jobs_run += 1

    async def _keep_alive(self, m: DurableMsg) -> None:
        while True:
            await asyncio.sleep(self.settings.ack_wait_s / 3)
            try:
                await m.in_progress()
            except NbaError as exc:
                log.warning("trainer.retrain_heartbeat_failed", error=exc.message)

    async def _run(self, job: JobRecord, *, attempt: int) -> str:
        """Train ``job``, register its challenger; "done" | "failed" | "cancelled" | "interrupted"."""
        t = self.trainer
        registry = t.registry
        name = job.model_name
        parent = (await registry.aliases(name)).get("champion") if name in await registry.names() else None
        await self.book.job_started(job.job_id, parent_version=parent, n_games=len(t.replica.games()))
        log.info("trainer.retrain_job_started", job_id=job.job_id, attempt=attempt, parent=parent)
        earlier = [v for v in await registry.list_versions(name) if v.lineage.get("job_id") == job.job_id]
        if earlier:  # an earlier attempt registered it, then the trainer died: do not train twice
            return await self._challenger(
                job, earlier[-1], int(earlier[-1].lineage.get("n_games", 0)), parent
            )
        triggers = await self.book.trigger_ids(job.job_id)
        req = TrainJobRequest(
            job_id=f"{job.job_id}-{attempt}-{uuid.uuid4().hex[:4]}",
            name=name,
            promote=False,
            budget=self.settings.budget,
            actor=f"{ACTOR} job {job.job_id}",
            reason=f"retraining after {job.kind}: {job.reason}",
        )
        while True:
            # One job at a time per trainer: a job asked for on nba.train.jobs goes first.
            await t.idle.wait()
            try:
                run, plan = await t.begin(req, f"retrain-{job.job_id}")
            except NbaError as exc:
                if exc.code == ErrorCode.BUSY:
                    continue  # another job got in first: wait for it
                await self.book.job_finished(job.job_id, "failed", error=f"{exc.code}: {exc.message}")
                log.warning("trainer.retrain_job_failed", job_id=job.job_id, code=exc.code, error=exc.message)
                return "failed"
            break
        # Before the job's task first runs (no await since begin): what it registers with its version.
        n_games = len(plan.games)
        run.lineage.update(
            job_id=job.job_id,
            trigger={"id": job.trigger_id, "kind": job.kind, "reason": job.reason},
            coalesced_triggers=triggers[1:],
            parent_version=parent,
            n_games=n_games,
            last_game=max((g.date for g in plan.games), default=None),
            attempt=attempt,
        )
        assert run.task is not None
        await asyncio.shield(run.task)
        if run.state == "done" and run.result is not None:
            mv = await registry.get(name, run.result.version)
            return await self._challenger(job, mv, n_games, parent)
        if run.state == "cancelled" and t.status in ("stopping", "stopped"):
            await self.book.job_requeued(job.job_id, "interrupted by a stop: runs again after the restart")
            log.info("trainer.retrain_job_interrupted", job_id=job.job_id)
            return "interrupted"
        error = f"{run.error.code}: {run.error.message}" if run.error is not None else run.message
        await self.book.job_finished(job.job_id, run.state, error=error)
        log.warning("trainer.retrain_job_failed", job_id=job.job_id, state=run.state, error=error)
        return run.state

    async def _challenger(self, job: JobRecord, mv: ModelVersion, n_games: int, parent: int | None) -> str:
        t = self.trainer
        await t.door.publish_artifact(mv)  # in the model store before anyone hears of it
        reason = (
            f"retrained after {job.kind} ({job.reason}); job {job.job_id}, {n_games} games "
            f"(data {mv.data_hash[:12]}), parent v{parent if parent is not None else '-'}; "
            f"offline log loss {mv.metrics.get('valid', {}).get('log_loss', float('nan')):.4f}"
        )
        change = await t.registry.set_alias(
            mv.name, "challenger", mv.version, actor=ACTOR, reason=reason[:500]
        )
        await t.door.announce(mv.name, "challenger", mv.version, change.from_version, f"retrain-{job.job_id}")
        await self.book.job_finished(job.job_id, "done", version=mv.version, data_hash=mv.data_hash)
        await self.book.set_snapshot(mv.name, n_games)
        log.info("trainer.retrain_job_done", job_id=job.job_id, version=mv.version, parent=parent)
        return "done"

    # ---- status -------------------------------------------------------------------------------------
    async def status(self, req: RetrainingStatusRequest, ctx: Context) -> RetrainingStatus:
        registry = self.trainer.registry
        name = req.model_name
        known = name in await registry.names()
        aliases = await registry.aliases(name) if known else {}
        versions = await registry.list_versions(name) if known else []
        challengers = [
            ChallengerRecord(
                version=v.version,
                model_kind=v.model_kind,
                registered_at=v.registered_at,
                lineage=v.lineage,
                aliases=[a for a, n in aliases.items() if n == v.version],
            )
            for v in reversed(versions)
            if "job_id" in v.lineage
        ][: req.limit]
        audit = [
            AuditEntry(
                alias=c.alias,
                from_version=c.from_version,
                to_version=c.to_version,
                actor=c.actor,
                reason=c.reason,
                at=c.at,
            )
            for c in reversed(await registry.audit(name) if known else [])
        ][: req.limit]
        base = await self.book.snapshot_games(name)
        s = self.settings
        return RetrainingStatus(
            model_name=name,
            aliases=aliases,
            settings={
                "min_new_results": s.min_new_results,
                "schedule_s": s.schedule_s,
                "gate_min_games": s.gate_min_games,
                "gate_alpha": s.gate_alpha,
                "gate_replicates": s.gate_replicates,
                "gate_test": "one-sided paired bootstrap over game dates of mean log loss (challenger - "
                "champion); paired t-test beside it",
                "queue": self.queue.kind,
                "traffic": self.trainer.config.inference.traffic,
                "canary_share": self.trainer.config.inference.canary_share,
                "ab_share": self.trainer.config.inference.ab_share,
                "canary_rollback_min_games": s.canary_rollback_min_games,
            },
            triggers=await self.book.triggers(name, req.limit),
            jobs=await self.book.jobs(name, req.limit),
            challengers=challengers,
            waiting=self.gate.waiting if name == self.model else None,
            decisions=await self.book.decisions(name, req.limit),
            audit=audit,
            new_results=max(len(self.trainer.replica.games()) - base, 0) if base is not None else 0,
            ab=self.gate.ab if name == self.model else None,
        )
