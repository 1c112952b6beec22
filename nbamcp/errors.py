"""The project's error hierarchy.

Every error carries a stable ``code``: it travels over the bus inside an
``ErrorReply`` and reaches MCP clients as a tool error, so clients (and tests)
match on the code, never on the wording of the message.
"""

from __future__ import annotations


class NbaError(Exception):
    """Base of every error the project raises on purpose."""

    code = "internal"

    def __init__(self, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message


class InvalidInput(NbaError):
    """The caller sent something we cannot accept (wrong type, out of range)."""

    code = "invalid_input"


class NotFound(NbaError):
    """A name or id matched nothing; ``details`` may list the closest matches."""

    code = "not_found"


class Ambiguous(NbaError):
    """A name matched several things equally well."""

    code = "ambiguous"


class Unavailable(NbaError):
    """A needed resource (a model, the data, a worker) is not there right now."""

    code = "unavailable"


class ConfigError(NbaError):
    """The configuration is invalid: which key, and what was expected."""

    code = "config"


class DataQualityError(NbaError):
    """Input data breaks a rule the store relies on."""

    code = "data_quality"


class IntegrityError(NbaError):
    """A stored artifact does not match its recorded hash."""

    code = "integrity"


class BusError(NbaError):
    """Base of the message-bus errors."""

    code = "bus"


class BusTimeout(BusError):
    """A request got no reply within its timeout."""

    code = "timeout"


class NoResponders(BusError):
    """Nobody subscribes to the subject a request was sent to."""

    code = "no_responders"


class PayloadTooLarge(BusError):
    """A message is larger than the bus accepts."""

    code = "payload_too_large"


class InvalidSubject(BusError):
    """A subject is empty or malformed (wildcards where they are not allowed...)."""

    code = "invalid_subject"


class BusClosed(BusError):
    """The bus was closed (or is draining) and takes no more work."""

    code = "bus_closed"


class BusUnreachable(BusError):
    """The bus server could not be reached at start-up."""

    code = "bus_unreachable"


class RemoteError(NbaError):
    """An actor answered with an ``ErrorReply``; ``code`` is the actor's code."""

    def __init__(self, code: str, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code
