"""The workers: one module per actor, each a subclass of ``nbamcp.actor.Actor``.

``build_worker(ctx, name)`` is the one factory: every worker is built from the
process's context alone (its settings are its section of ``ctx.config``).
Classes are imported lazily by name so that a process loads only the worker
it runs (the inference worker's onnxruntime stays out of the stats worker).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nbamcp.errors import InvalidInput

if TYPE_CHECKING:
    from nbamcp.actor import Actor, WorkerContext

WORKERS: dict[str, str] = {
    "stats": "workers.stats:StatsWorker",
    "inference": "workers.inference:InferenceWorker",
    "cache": "workers.cache:CacheWorker",
    "predlog": "workers.predlog:PredlogWorker",
    "monitor": "workers.monitor:MonitorWorker",
    "trainer": "workers.trainer:TrainerWorker",
    "usage": "workers.usage:UsageWorker",
    "alerts": "workers.alerts:AlertsWorker",
}

# Embedded workers start side by side, each once the workers it asks at start are up (or
# failed): the trainer replays the games dataset the stats worker announces; inference, the
# cache and the monitor ask the trainer which model serves. The rest start at once.
STARTS_AFTER: dict[str, tuple[str, ...]] = {
    "trainer": ("stats",),
    "inference": ("trainer",),
    "cache": ("trainer",),
    "monitor": ("trainer",),
}

# Embedded workers that no prediction waits for start after the serving path (or its failure),
# not beside it: on two shared cores the monitor's start (its drift tests, the prediction log it
# reads) took CPU from inference and the cache, and a prediction waits for both of those.
YIELDS_TO: dict[str, tuple[str, ...]] = {
    "monitor": ("inference", "cache"),
}


def worker_class(name: str) -> type[Actor]:
    try:
        target = WORKERS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown worker {name!r}; the workers are: {', '.join(sorted(WORKERS))}"
        ) from None
    module, _, attr = target.partition(":")
    cls: type[Actor] = getattr(importlib.import_module(module), attr)
    return cls


def build_worker(ctx: WorkerContext, name: str) -> Actor:
    """The worker ``name``, configured by ``ctx.config``."""
    return worker_class(name)(ctx)
