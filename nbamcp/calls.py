"""A typed request to an endpoint of the table, with the errors a caller can act on.

Used by the front end's gateway and by workers that ask another worker
(inference asking the trainer which models serve). "No responders", timeouts and a bus
that is reconnecting become ``Unavailable`` naming the worker that should answer; an ``ErrorReply``
becomes ``RemoteError`` with the responder's code. Each call is counted in
``nbamcp_bus_requests_total{subject,outcome}`` and timed in ``nbamcp_bus_latency_seconds``.
"""

from __future__ import annotations

import time
from typing import TypeVar, cast

import msgspec

from nbamcp.bus.base import Bus
from nbamcp.endpoints import Endpoint
from nbamcp.errors import (
    BusTimeout,
    BusUnreachable,
    ErrorCode,
    NbaError,
    NoResponders,
    RemoteError,
    Unavailable,
)
from nbamcp.messages import ErrorReply, decoder_for, encode
from nbamcp.ops import metrics
from nbamcp.ops.tracing import context_headers

Rep = TypeVar("Rep")


async def call(
    bus: Bus, endpoint: Endpoint[Rep], request: msgspec.Struct, *, timeout_s: float, request_id: str
) -> Rep:
    """Send ``request`` to ``endpoint``; its reply, or RemoteError / Unavailable."""
    if not isinstance(request, endpoint.request):
        # A programming error on this side: the responder would refuse it as malformed.
        raise TypeError(f"{endpoint.subject} takes {endpoint.request}, not {type(request).__name__}")
    subject = endpoint.subject
    label = metrics.subject_label(subject)
    started = time.perf_counter()
    outcome = "error"
    try:
        # The request's id, trace and tenant travel with it.
        headers = context_headers(request_id)
        msg = await bus.request(subject, encode(request), timeout=timeout_s, headers=headers)
        reply = decoder_for(endpoint.reply | ErrorReply).decode(msg.data)
        if isinstance(reply, ErrorReply):
            outcome = reply.code
            raise RemoteError(reply.code, reply.message, details=reply.details)
        outcome = "ok"
        return cast(Rep, reply)
    except NoResponders:
        outcome = ErrorCode.NO_RESPONDERS
        raise Unavailable(
            f"no worker answers {subject}: is the {endpoint.worker!r} worker running on this bus?",
            details={"cause": ErrorCode.NO_RESPONDERS},
        ) from None
    except BusTimeout:
        outcome = ErrorCode.TIMEOUT
        raise Unavailable(
            f"the {endpoint.worker!r} worker did not answer {subject} within {timeout_s:g}s"
        ) from None
    except BusUnreachable as exc:
        # NATS is reconnecting: as transient as a worker that restarts.
        outcome = ErrorCode.BUS_UNREACHABLE
        raise Unavailable(f"the {endpoint.worker!r} worker cannot be reached: {exc.message}") from None
    except NbaError as exc:
        outcome = exc.code
        raise
    finally:
        metrics.BUS_REQUESTS.labels(label, outcome).inc()
        metrics.BUS_LATENCY.labels(label).observe(time.perf_counter() - started)
