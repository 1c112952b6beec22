"""The trainer: training jobs (``jobs``, no bus), the registry's door (``registry_door``),
automated retraining (``retrain``: triggers, the durable job queue; ``book``: its record;
``gatekeeper``: the promotion gate and the canary watch) and the worker that puts them on the
bus (``worker``). Planning is ``nbamcp.ml.planning``; the gate's test ``nbamcp.ml.gate``; the
CLI's offline training is ``nbamcp.commands``."""

from workers.trainer.worker import TrainerWorker

__all__ = ["TrainerWorker"]
