"""Which embedded worker is up, per worker: a call waits only for the worker it needs.

The launcher starts the embedded workers side by side and tells the board how each one
goes (``starting`` with what it is doing, ``ok``, ``failed`` and why); the gateway waits
here for the one worker an endpoint needs, and the ``health`` tool reads the board for the
workers that cannot answer a ping yet, so it answers at once during a first start's
ingestion instead of after every worker is up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nbamcp import __version__
from nbamcp.errors import Unavailable
from nbamcp.messages import HealthReport

STARTING = "starting"
READY = "ok"
FAILED = "failed"


@dataclass
class _Slot:
    name: str
    state: str = STARTING
    phase: str = "waiting to start"
    why: str = ""
    since: float = field(default_factory=time.monotonic)
    # What the worker says about itself while it starts (the stats worker: the ingestion's file).
    progress: Callable[[], str] = lambda: ""
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class WorkerBoard:
    """The embedded workers' start-up states, by worker name."""

    def __init__(self, names: list[str], *, bus: str = "memory") -> None:
        self._slots = {name: _Slot(name) for name in names}
        self._bus = bus

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def starting(self, name: str, phase: str, progress: Callable[[], str] | None = None) -> None:
        slot = self._slots[name]
        slot.phase = phase
        if progress is not None:
            slot.progress = progress

    def ready(self, name: str) -> None:
        slot = self._slots[name]
        slot.state, slot.phase = READY, ""
        slot.settled.set()

    def failed(self, name: str, why: str) -> None:
        slot = self._slots[name]
        slot.state, slot.why = FAILED, why
        slot.settled.set()

    def is_ready(self, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is None or slot.state == READY

    def all_settled(self) -> bool:
        return all(s.settled.is_set() for s in self._slots.values())

    def unready(self) -> list[str]:
        return [n for n, s in self._slots.items() if s.state != READY]

    async def wait_settled(self, timeout_s: float) -> None:
        """Until every worker is up or has failed, or ``timeout_s`` has passed."""
        try:
            async with asyncio.timeout(timeout_s):
                for slot in self._slots.values():
                    await slot.settled.wait()
        except TimeoutError:
            pass  # health then says who is still starting

    async def settled(self, name: str) -> None:
        """Until ``name`` is up or has failed (a worker started after another waits here)."""
        slot = self._slots.get(name)
        if slot is not None:
            await slot.settled.wait()

    async def wait(self, name: str, timeout_s: float) -> None:
        """Until ``name`` is up; Unavailable, saying why, when it failed or is not up in time."""
        slot = self._slots.get(name)
        if slot is None:
            return  # not embedded: the bus says whether someone answers
        if not slot.settled.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await slot.settled.wait()
            except TimeoutError:
                raise Unavailable(
                    f"the {name} worker did not become ready within {timeout_s:g}s "
                    f"(server.startup_timeout_s); it is {self.describe(name)}; call health for every "
                    "worker's state"
                ) from None
        if slot.state == FAILED:
            raise Unavailable(f"the {name} worker failed to start: {slot.why}")

    def describe(self, name: str) -> str:
        slot = self._slots[name]
        if slot.state == FAILED:
            return f"failed: {slot.why}"
        if slot.state == READY:
            return "ready"
        progress = slot.progress()
        doing = f"{slot.phase} ({progress})" if progress else slot.phase
        return f"starting for {time.monotonic() - slot.since:.1f}s: {doing}"

    def report(self, name: str) -> HealthReport:
        """The health line of a worker that cannot answer a ping yet (starting or failed)."""
        slot = self._slots[name]
        detail = {"phase": slot.phase} if slot.state == STARTING else {"why": slot.why}
        progress = slot.progress() if slot.state == STARTING else ""
        if progress:
            detail["progress"] = progress
        return HealthReport(
            name=name,
            instance=f"{name}-embedded",
            status=slot.state,
            version=__version__,
            uptime_s=round(time.monotonic() - slot.since, 3),
            bus=self._bus,
            detail=detail,
        )
