"""The base of every bus message, the error reply, health, and the msgpack codec."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """Base of every bus message; the tag is the class name."""


# ---------------------------------------------------------------------------
# Errors: an actor never sends a traceback, only a code and a sentence.


class ErrorReply(Message, frozen=True):
    code: str
    message: str
    details: dict[str, str] = {}


# ---------------------------------------------------------------------------
# Health: scatter-gather on ``nba.health`` (every worker answers).


class HealthPing(Message, frozen=True):
    pass


class HealthReport(Message, frozen=True):
    name: str
    instance: str
    status: str  # "ok" | "starting" | "stopping" | "degraded"
    version: str
    uptime_s: float
    bus: str
    inflight: int = 0
    handled: int = 0
    failed: int = 0
    subjects: list[str] = []
    detail: dict[str, str] = {}
    # Request/reply work since start (durable deliveries not included): the operations watch
    # turns two reports into an interval's mean latency (busy_s / requests) and error rate.
    requests: int = 0
    request_errors: int = 0
    busy_s: float = 0.0


# ---------------------------------------------------------------------------
# Encoding helpers shared by every actor and the front end.

_encoder = msgspec.msgpack.Encoder()
T = TypeVar("T")


def encode(msg: msgspec.Struct) -> bytes:
    return _encoder.encode(msg)


_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def decoder_for(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    """One decoder per message type (or union), built on first use and kept."""
    dec = _decoders.get(type_)
    if dec is None:
        dec = _decoders[type_] = msgspec.msgpack.Decoder(type_)
    return dec


def decode(data: bytes, type_: type[T]) -> T:
    return decoder_for(type_).decode(data)
