"""The project's error hierarchy and its one enumeration of error codes.

Every error carries a stable ``code`` from :class:`ErrorCode`: it travels over
the bus inside an ``ErrorReply`` (as its string value: the messages depend on
nothing of the project) and reaches MCP clients as a tool error, so clients
(and tests) match on the code, never on the wording of the message. A new code
is added here, nowhere else (a test checks that no code is spelled out as a
string literal).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every error code the project sends. Values are part of the protocol: never change one."""

    INTERNAL = "internal"  # a bug: the reply carries the request id, the log the traceback
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    UNAVAILABLE = "unavailable"
    BUSY = "busy"  # a worker instance that does one thing at a time is doing it
    CANCELLED = "cancelled"
    CONFIG = "config"
    DATA_QUALITY = "data_quality"
    INTEGRITY = "integrity"
    BUS = "bus"
    TIMEOUT = "timeout"
    NO_RESPONDERS = "no_responders"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_SUBJECT = "invalid_subject"
    BUS_CLOSED = "bus_closed"
    BUS_UNREACHABLE = "bus_unreachable"


# Codes that mean "the caller's input is wrong", not "the worker is unwell".
USER_ERRORS = frozenset({ErrorCode.INVALID_INPUT, ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS})


class NbaError(Exception):
    """Base of every error the project raises on purpose."""

    code: str = ErrorCode.INTERNAL

    def __init__(self, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message


class InvalidInput(NbaError):
    """The caller sent something we cannot accept (wrong type, out of range)."""

    code = ErrorCode.INVALID_INPUT


class NotFound(NbaError):
    """A name or id matched nothing; ``details`` may list the closest matches."""

    code = ErrorCode.NOT_FOUND


class Ambiguous(NbaError):
    """A name matched several things equally well."""

    code = ErrorCode.AMBIGUOUS


class Unavailable(NbaError):
    """A needed resource (a model, the data, a worker) is not there right now."""

    code = ErrorCode.UNAVAILABLE


class ConfigError(NbaError):
    """The configuration is invalid: which key, and what was expected."""

    code = ErrorCode.CONFIG


class DataQualityError(NbaError):
    """Input data breaks a rule the store relies on."""

    code = ErrorCode.DATA_QUALITY


class IntegrityError(NbaError):
    """A stored artifact does not match its recorded hash."""

    code = ErrorCode.INTEGRITY


class BusError(NbaError):
    """Base of the message-bus errors."""

    code = ErrorCode.BUS


class BusTimeout(BusError):
    """A request got no reply within its timeout."""

    code = ErrorCode.TIMEOUT


class NoResponders(BusError):
    """Nobody subscribes to the subject a request was sent to."""

    code = ErrorCode.NO_RESPONDERS


class PayloadTooLarge(BusError):
    """A message is larger than the bus accepts."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class InvalidSubject(BusError):
    """A subject is empty or malformed (wildcards where they are not allowed...)."""

    code = ErrorCode.INVALID_SUBJECT


class BusClosed(BusError):
    """The bus was closed (or is draining) and takes no more work."""

    code = ErrorCode.BUS_CLOSED


class BusUnreachable(BusError):
    """The bus server could not be reached at start-up."""

    code = ErrorCode.BUS_UNREACHABLE


class RemoteError(NbaError):
    """An actor answered with an ``ErrorReply``; ``code`` is the actor's code as it was sent
    (a worker of another version may send one this code does not know)."""

    def __init__(self, code: str, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code
