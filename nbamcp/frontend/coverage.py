"""What the data holds, as the front end knows it: for the server's instructions and prompts.

The stats worker computes the coverage from its store and publishes it after every ingest
(``nba.coverage.changed``); the book keeps the latest, asks for it when it has none, and
keeps a snapshot in the front end's own home so that a client connecting before the
workers are up (Claude Desktop does, at launch) already reads what the data held last.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.base import Msg, Subscription
from nbamcp.errors import NbaError
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import Coverage, CoverageRequest, decoder_for

log = structlog.get_logger(__name__)

ASK_TIMEOUT_S = 1.0  # asking the stats worker while a client waits for the handshake
UNKNOWN = (
    "What the data holds is not known yet (the stats worker has not answered: on a first start it "
    "ingests the data for up to a minute); read the nba://data/coverage resource."
)


class CoverageBook:
    def __init__(self, gw: Gateway, snapshot: Path | None = None) -> None:
        self._gw = gw
        self._snapshot = snapshot
        self._sub: Subscription | None = None
        self.current: Coverage | None = self._load()

    def _load(self) -> Coverage | None:
        if self._snapshot is None or not self._snapshot.is_file():
            return None
        try:
            return msgspec.json.decode(self._snapshot.read_bytes(), type=Coverage)
        except (OSError, msgspec.MsgspecError) as exc:
            log.warning("coverage.snapshot_unreadable", error=str(exc))
            return None

    def _keep(self, cov: Coverage) -> None:
        self.current = cov
        if self._snapshot is None:
            return
        try:
            self._snapshot.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._snapshot.with_suffix(".tmp")
            tmp.write_bytes(msgspec.json.encode(cov))
            tmp.replace(self._snapshot)
        except OSError as exc:  # a read-only home only costs the snapshot
            log.warning("coverage.snapshot_not_written", error=str(exc))

    async def _on_change(self, msg: Msg) -> None:
        try:
            self._keep(decoder_for(Coverage).decode(msg.data))
        except msgspec.MsgspecError as exc:
            log.warning("coverage.bad_event", error=str(exc))

    async def follow(self) -> None:
        """Subscribe to the stats worker's coverage events (once)."""
        if self._sub is None:
            self._sub = await self._gw.bus.subscribe(ep.COVERAGE_CHANGED.subject, self._on_change)

    async def fetch(self) -> Coverage:
        """The coverage asked of the stats worker now (raises NbaError when it cannot answer)."""
        cov = await self._gw.call(ep.COVERAGE, CoverageRequest())
        self._keep(cov)
        return cov

    async def refresh(self) -> None:
        """Follow the events and, when the workers are up, ask once: never waits for them to start."""
        await self.follow()
        if self._gw.is_ready(ep.COVERAGE.worker):
            with contextlib.suppress(NbaError):
                self._keep(await self._gw.call(ep.COVERAGE, CoverageRequest(), timeout_s=ASK_TIMEOUT_S))

    def summary(self) -> str:
        return self.current.summary if self.current is not None else UNKNOWN

    def latest_season(self) -> int | None:
        return self.current.latest_season if self.current is not None else None

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
