"""``ingest_games`` with MCP progress: the stats worker's per-file steps relayed to the client.

The tool picks a token (a fresh request-scoped id), subscribes to
``nba.ingest.progress.<token>`` before asking for the ingest (so no step is missed), and
turns each step into a progress notification (0-100). MCP wants the progress value to
grow with each notification: a step that does not move it (the next file's "reading"
after the last one's result) is not sent, and the subscription ends before the final
100 is reported, so nothing arrives after it.
"""

from __future__ import annotations

import msgspec
import structlog
from mcp.server.mcpserver import Context

from nbamcp import endpoints as ep
from nbamcp.bus.base import Msg
from nbamcp.frontend.gateway import Gateway
from nbamcp.log import new_request_id
from nbamcp.messages import IngestReply, IngestRequest, IngestStep, decoder_for

log = structlog.get_logger(__name__)

TOTAL = 100.0


class _Relay:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.last = -1.0
        self._decoder = decoder_for(IngestStep)

    async def report(self, value: float, message: str) -> None:
        if value <= self.last:
            return
        self.last = value
        try:
            await self.ctx.report_progress(value, TOTAL, message)
        except Exception as exc:  # boundary: a client gone mid-ingest must not fail the ingest
            log.warning("ingest_games.progress_failed", error=repr(exc))

    async def __call__(self, msg: Msg) -> None:
        try:
            step = self._decoder.decode(msg.data)
        except msgspec.MsgspecError as exc:
            log.warning("ingest_games.bad_progress", error=str(exc))
            return
        # Below 100 until the reply is here: the final notification is the tool's own.
        await self.report(min(round(TOTAL * step.fraction, 2), TOTAL - 0.01), step.message)


async def ingest_with_progress(
    gw: Gateway, req: IngestRequest, ctx: Context, timeout_s: float
) -> IngestReply:
    token = new_request_id()
    relay = _Relay(ctx)
    sub = await gw.bus.subscribe(ep.INGEST_PROGRESS.at(token).subject, relay)
    try:
        await relay.report(0.0, "ingest started")
        reply = await gw.call(
            ep.INGEST, msgspec.structs.replace(req, progress_token=token), timeout_s=timeout_s
        )
    finally:
        await sub.unsubscribe()
    await relay.report(TOTAL, reply.report.summary)
    return reply
