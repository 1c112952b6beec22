"""A process's link to the bus: is it up, since when is it down, and what to redo when it is back.

NATS keeps no state for a client that reconnects beyond its core subscriptions
(nats-py replays those): a JetStream stream, a key-value bucket, a durable
consumer or an ordered watch may be gone, most of all when the server came back
without its store. Whoever opened one registers a *recovery hook* here
(:meth:`Link.on_recovery`): an idempotent "make sure it exists again" coroutine.
After each reconnect the hooks run in registration order (streams before their
consumers, buckets before what writes into them); one that fails is tried again
with back-off until all succeed or the link drops again.

States: ``connected``; ``disconnected`` (the client is reconnecting, forever);
``recovering`` (connected again, hooks not done yet). Health reports anything
but ``connected`` as degraded. The in-process bus has a link that is always
connected, so callers need no special case.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

CONNECTED, DISCONNECTED, RECOVERING = "connected", "disconnected", "recovering"

Hook = Callable[[], Awaitable[object]]

# A hook that fails is tried again after this back-off (doubling, bounded): a JetStream that
# answers a moment after the socket does is not hammered, and recovery is never stretched by more.
_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0
_HOOK_TIMEOUT_S = 30.0


@dataclass(slots=True)
class _Registered:
    name: str
    hook: Hook


class Link:
    def __init__(self) -> None:
        self.state = CONNECTED
        self.disconnects = 0
        self.reconnects = 0
        self.attempts = 0  # reconnect attempts, all outages together
        self.recoveries = 0  # reconnects after which every hook succeeded
        self.down_since: float | None = None  # monotonic, while not connected
        self.last_outage_s = 0.0  # disconnect -> recovered, the last time
        self.recovery_error = ""  # the last hook failure of the current recovery
        self._hooks: list[_Registered] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closed = False

    # ---- for the owners of server-side state ----------------------------------------------------
    def on_recovery(self, name: str, hook: Hook) -> Callable[[], None]:
        """Run ``hook`` after every reconnect (in registration order); returns the way to unregister."""
        entry = _Registered(name, hook)
        self._hooks.append(entry)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._hooks.remove(entry)

        return remove

    # ---- for readers (health, tests) ---------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    def problem(self) -> str:
        """Why the link is not fully up ('' when it is): for health."""
        if self.state == CONNECTED:
            return ""
        down = time.monotonic() - self.down_since if self.down_since is not None else 0.0
        if self.state == DISCONNECTED:
            return f"not connected to the bus (reconnecting for {down:.1f}s)"
        why = f": {self.recovery_error}" if self.recovery_error else ""
        return f"reconnected to the bus, re-creating its streams, buckets and consumers{why}"

    async def wait_for(self, state: str, timeout: float) -> None:
        """Return once the link is in ``state``; TimeoutError after ``timeout``."""
        await self.wait_until(lambda: self.state == state, timeout)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Return once ``predicate()`` holds, checked after each change; TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # ---- driven by the bus ---------------------------------------------------------------------
    def _set(self, state: str) -> None:
        self.state = state
        self._changed.set()

    def attempt(self) -> None:
        """The client is about to try the server again (counted: an outage outlasts any give-up)."""
        self.attempts += 1
        self._changed.set()

    def mark_disconnected(self) -> None:
        if self._closed:
            return
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.state == CONNECTED:
            self.down_since = time.monotonic()
        self.disconnects += 1
        self._set(DISCONNECTED)

    def mark_reconnected(self) -> None:
        if self._closed:
            return
        self.reconnects += 1
        if self.down_since is None:
            self.down_since = time.monotonic()
        self.recovery_error = ""
        self._set(RECOVERING)
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._recover(), name="bus-recovery")

    async def _recover(self) -> None:
        pending = list(self._hooks)
        pause = _RETRY_FIRST_S
        while pending:
            entry = pending[0]
            try:
                async with asyncio.timeout(_HOOK_TIMEOUT_S):
                    await entry.hook()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Recovery boundary: a hook that fails is retried; the process stays up.
                self.recovery_error = f"{entry.name}: {getattr(exc, 'message', None) or exc!r}"
                log.warning(
                    "bus.recovery_retry", hook=entry.name, error=self.recovery_error, retry_in_s=pause
                )
                await asyncio.sleep(pause)  # a real pause: the server is not ready for it yet
                pause = min(pause * 2, _RETRY_MAX_S)
                continue
            pending.pop(0)
        self.recoveries += 1
        self.last_outage_s = time.monotonic() - self.down_since if self.down_since is not None else 0.0
        self.down_since = None
        self.recovery_error = ""
        self._task = None
        self._set(CONNECTED)
        log.info("bus.recovered", hooks=len(self._hooks), outage_s=round(self.last_outage_s, 3))

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
