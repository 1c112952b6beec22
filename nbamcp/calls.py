"""A typed request to an endpoint of the table, with the errors a caller can act on.

Used by the front end's gateway and by workers that ask another worker
(inference asking the trainer which models serve). "No responders" and timeouts
become ``Unavailable`` naming the worker that should answer; an ``ErrorReply``
becomes ``RemoteError`` with the responder's code.
"""

from __future__ import annotations

from typing import TypeVar, cast

import msgspec

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.endpoints import Endpoint
from nbamcp.errors import BusTimeout, NoResponders, RemoteError, Unavailable
from nbamcp.messages import ErrorReply, decoder_for, encode

Rep = TypeVar("Rep")


async def call(
    bus: Bus, endpoint: Endpoint[Rep], request: msgspec.Struct, *, timeout_s: float, request_id: str
) -> Rep:
    """Send ``request`` to ``endpoint``; its reply, or RemoteError / Unavailable."""
    if not isinstance(request, endpoint.request):
        # A programming error on this side: the responder would refuse it as malformed.
        raise TypeError(f"{endpoint.subject} takes {endpoint.request}, not {type(request).__name__}")
    subject = endpoint.subject
    try:
        msg = await bus.request(
            subject, encode(request), timeout=timeout_s, headers={REQUEST_ID_HEADER: request_id}
        )
    except NoResponders:
        raise Unavailable(
            f"no worker answers {subject}: is the {endpoint.worker!r} worker running on this bus?"
        ) from None
    except BusTimeout:
        raise Unavailable(
            f"the {endpoint.worker!r} worker did not answer {subject} within {timeout_s:g}s"
        ) from None
    reply = decoder_for(endpoint.reply | ErrorReply).decode(msg.data)
    if isinstance(reply, ErrorReply):
        raise RemoteError(reply.code, reply.message, details=reply.details)
    return cast(Rep, reply)
