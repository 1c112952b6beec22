"""The message bus: one Protocol, an in-process twin and a NATS implementation.

``connect_bus(url)`` opens the one named by a URL. ``NatsBus`` is imported
lazily so that the in-memory default never loads nats-py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbamcp.bus.base import (
    DEFAULT_MAX_PAYLOAD,
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
    Bus,
    Handler,
    Msg,
    Subscription,
)
from nbamcp.bus.connect import connect_bus
from nbamcp.bus.memory import InMemoryBus

if TYPE_CHECKING:
    from nbamcp.bus.nats import NatsBus

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "REQUEST_ID_HEADER",
    "TRACEPARENT_HEADER",
    "Bus",
    "Handler",
    "InMemoryBus",
    "Msg",
    "NatsBus",
    "Subscription",
    "connect_bus",
]


def __getattr__(name: str) -> Any:
    if name == "NatsBus":
        from nbamcp.bus.nats import NatsBus

        return NatsBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
