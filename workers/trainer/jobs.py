"""One training job, with no bus: the fit in a thread, then registration, each step a TrainProgress.

The trainer worker starts jobs, publishes their steps (``Job.events``, in order)
and answers control requests; this module does the work and records what
happened in the ``Job``: done (with the result), failed or cancelled (with the
error). ``run_job`` never raises: it is the job's boundary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from nbamcp.data.games import GameRow
from nbamcp.errors import ErrorCode, NbaError
from nbamcp.messages import ErrorReply, TrainJobRequest, TrainJobResult, TrainJobState, TrainProgress
from nbamcp.ml.planning import default_reason
from nbamcp.ml.registration import job_result, register_trained
from nbamcp.ml.registry import AliasChange, ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from nbamcp.ml.rosters import RosterBook
    from nbamcp.ml.train import Budget

log = structlog.get_logger(__name__)

TERMINAL = ("done", "failed", "cancelled")
TRAIN_SHARE = 0.95  # training's share of a job's progress; registering takes the rest

# Called once the job's version is registered (and promoted, when it was): the worker
# publishes the artifact and announces the alias change before the job says "done".
Registered = Callable[[ModelVersion, AliasChange | None, str], Awaitable[None]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Plan:
    """What a job trains on, checked before it is accepted."""

    games: list[GameRow]
    train_seasons: list[int]
    valid_seasons: list[int]
    budget: Budget
    budget_name: str
    rosters: RosterBook | None = None  # fs2: the rosters dataset's book when the job was planned


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
    # The steps in order, then None once the job is over (the worker publishes them).
    events: asyncio.Queue[TrainProgress | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    # Recorded with the version it registers (a retraining job's trigger and parent).
    lineage: dict[str, Any] = field(default_factory=dict)

    def step(self, fraction: float, message: str, state: str = "running") -> None:
        """Record a step and queue its event. Event-loop thread only."""
        self.seq += 1
        self.fraction = max(self.fraction, fraction)
        self.message = message
        self.state = state
        self.events.put_nowait(
            TrainProgress(
                job_id=self.id,
                seq=self.seq,
                fraction=self.fraction,
                message=message,
                state=state,
                result=self.result,
                error=self.error,
            )
        )

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


async def run_job(
    job: Job, plan: Plan, registry: ModelRegistry, *, threads: int | None, registered: Registered
) -> None:
    """Train, register (promote when asked), and end the job with its result or its error."""
    # Here, not at the top: scikit-learn and skl2onnx take seconds to import, and the trainer
    # starts in every single-process server (it serves the registry) long before any job.
    from nbamcp.ml.train import TrainingCancelled, train

    loop = asyncio.get_running_loop()
    req = job.request

    def progress(fraction: float, message: str) -> None:  # called in the training thread
        loop.call_soon_threadsafe(job.step, round(TRAIN_SHARE * fraction, 4), message)

    try:
        job.step(0.0, f"training on seasons {plan.train_seasons[0]}-{plan.train_seasons[-1]}")
        result = await asyncio.to_thread(
            train,
            plan.games,
            train_seasons=plan.train_seasons,
            valid_seasons=plan.valid_seasons,
            seed=req.seed or 0,
            budget=plan.budget,
            progress=progress,
            cancel=job.cancel.is_set,
            n_threads=threads,
            rosters=plan.rosters,
        )
        job.step(TRAIN_SHARE, "registering the model")
        mv, change = await register_trained(
            registry,
            req.name,
            result,
            promote=req.promote,
            actor=req.actor or f"trainer job {job.id}",
            reason=req.reason or default_reason(result),
            lineage=job.lineage,
        )
        job.result = await job_result(registry, job.id, mv, change, result)
        await registered(mv, change, job.request_id)
        done = f"registered {mv.name} v{mv.version} ({mv.model_kind})"
        job.step(1.0, done + (", now champion" if change else ""), "done")
        log.info("trainer.job_done", version=mv.version, kind=mv.model_kind, promoted=bool(change))
    except TrainingCancelled as exc:
        job.error = ErrorReply(code=exc.code, message=f"job {job.id} cancelled: {exc.message}")
        job.step(job.fraction, "cancelled", "cancelled")
        log.info("trainer.job_cancelled")
    except NbaError as exc:
        job.error = ErrorReply(code=exc.code, message=exc.message, details=exc.details)
        job.step(job.fraction, f"failed: {exc.message}", "failed")
        log.warning("trainer.job_failed", code=exc.code, error=exc.message)
    except Exception:
        # Job boundary: a bug in training must end the job with an error, not the worker.
        log.exception("trainer.job_crashed")
        job.error = ErrorReply(
            code=ErrorCode.INTERNAL, message=f"training job {job.id} crashed (see the logs)"
        )
        job.step(job.fraction, "failed: internal error", "failed")
    finally:
        job.events.put_nowait(None)
