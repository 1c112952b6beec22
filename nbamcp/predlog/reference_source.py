"""Where the monitor gets its drift reference: the serving champion's reference sample.

The trainer owns the registry; the monitor asks it which version is champion
(``nba.models.serving``) and fetches that version's ``ReferenceSample`` from the model store by
the sha256 the registry recorded (``reference["sample"]``), verified. The sample is kept until the
champion changes; while the trainer is away, the last one known still stands (and says so in the log).
"""

from __future__ import annotations

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.bus.objects import ObjectStore, get_verified
from nbamcp.calls import call
from nbamcp.errors import NotFound, RemoteError, Unavailable
from nbamcp.messages import ReferenceSample, ServingModelsRequest
from nbamcp.ml.registry import sample_pointer
from nbamcp.predlog.drift_watch import Served

log = structlog.get_logger(__name__)


class ReferenceSource:
    def __init__(self, bus: Bus, objects: ObjectStore, *, model_name: str, timeout_s: float) -> None:
        self.bus = bus
        self.objects = objects
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.current: Served | None = None  # the latest reference fetched
        self.fetched = 0

    async def serving(self, rid: str) -> Served:
        """The serving champion and its reference sample (fetched once per version, verified)."""
        name = self.model_name
        try:
            models = await call(
                self.bus, ep.MODELS_SERVING, ServingModelsRequest(name=name), timeout_s=self.timeout_s,
                request_id=rid,
            )  # fmt: skip
        except (Unavailable, RemoteError) as exc:
            if self.current is not None:  # the trainer is away: its last answer still stands
                log.warning("monitor.reference_last_known", version=self.current.version, why=exc.message)
                return self.current
            raise Unavailable(
                f"no reference to compare with: the registry did not answer ({exc.message})"
            ) from None
        champion = models.version("champion")
        if champion is None:
            raise NotFound(f"model {name!r} has no champion yet: no reference sample to compare with")
        pointer = sample_pointer(champion.reference)
        if pointer is None:
            raise NotFound(
                f"{name} v{champion.version} has no reference sample (registered before samples were "
                "stored): train a new version to monitor drift"
            )
        if self.current is not None and self.current.version == champion.version:
            return self.current
        data = await get_verified(self.objects, pointer[0], size=pointer[1])
        try:
            sample = msgspec.msgpack.decode(data, type=ReferenceSample)
        except msgspec.MsgspecError as exc:
            raise Unavailable(
                f"the reference sample of {name} v{champion.version} does not decode: {exc}"
            ) from None
        self.current = Served(model_name=name, version=champion.version, sample=sample)
        self.fetched += 1
        log.info("monitor.reference_loaded", model=name, version=champion.version, rows=len(sample.rows))
        return self.current
