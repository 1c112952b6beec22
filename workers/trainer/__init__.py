"""The trainer: training jobs (``jobs``, no bus), the registry's door (``registry_door``) and the
worker that puts them on the bus (``worker``). Planning is ``nbamcp.ml.planning``; the CLI's
offline training is ``nbamcp.commands``."""

from workers.trainer.worker import TrainerWorker

__all__ = ["TrainerWorker"]
