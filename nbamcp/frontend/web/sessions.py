"""Open MCP sessions per client, so that one client cannot take every session.

The SDK caps sessions in all (``max_sessions``) and ends idle ones; this table
adds a cap per client (an API key, or an address without auth). It follows the
SDK's rules from what crosses the wire: a streamable-HTTP session is born with
the ``mcp-session-id`` header of a successful opening response, is busy while a
request for it is in flight (an open GET stream included), ends on a DELETE or
a 404 for its id, and counts as gone once idle longer than the SDK's idle
timeout. An SSE session lives as long as its GET stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nbamcp.ops import metrics


@dataclass(slots=True)
class _Session:
    owner: str
    inflight: int = 0
    last: float = 0.0


class SessionTable:
    def __init__(
        self, *, per_client: int, idle_timeout_s: float, clock: Callable[[], float] = time.monotonic
    ):
        self.per_client = per_client
        self.idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._streams: dict[str, int] = {}  # owner -> open SSE streams

    def _expired(self, s: _Session, now: float) -> bool:
        return s.inflight == 0 and now - s.last > self.idle_timeout_s

    def _prune(self) -> None:
        now = self._clock()
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]

    def count(self, owner: str) -> int:
        self._prune()
        return sum(1 for s in self._sessions.values() if s.owner == owner) + self._streams.get(owner, 0)

    def total(self) -> int:
        self._prune()
        return len(self._sessions) + sum(self._streams.values())

    def has_room(self, owner: str) -> bool:
        return self.count(owner) < self.per_client

    def _gauge(self) -> None:
        metrics.HTTP_SESSIONS.set(self.total())

    # ---- streamable HTTP -------------------------------------------------------------------------
    def opened(self, owner: str, sid: str) -> None:
        self._sessions[sid] = _Session(owner=owner, last=self._clock())
        self._gauge()

    def begin(self, sid: str) -> None:
        s = self._sessions.get(sid)
        if s is not None:
            s.inflight += 1

    def end(self, sid: str) -> None:
        s = self._sessions.get(sid)
        if s is not None:
            s.inflight = max(0, s.inflight - 1)
            s.last = self._clock()

    def closed(self, sid: str) -> None:
        if self._sessions.pop(sid, None) is not None:
            self._gauge()

    # ---- SSE -------------------------------------------------------------------------------------
    def stream_opened(self, owner: str) -> None:
        self._streams[owner] = self._streams.get(owner, 0) + 1
        self._gauge()

    def stream_closed(self, owner: str) -> None:
        left = self._streams.get(owner, 0) - 1
        if left > 0:
            self._streams[owner] = left
        else:
            self._streams.pop(owner, None)
        self._gauge()
