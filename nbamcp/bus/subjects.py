"""Subject and message rules shared by both buses: validation, matching, size.

A subject is a dot-separated list of non-empty tokens without whitespace
(``nba.stats.player``). Subscriptions may use ``*`` (exactly one token) and
``>`` (one or more trailing tokens, last token only); publish subjects and
reply subjects are literal. The rules are those ``nats-py`` enforces on
subscribe, applied to both buses so a subject that works in one process also
works across processes.

Headers and sizes follow what goes on the NATS wire: header names are RFC 7230
tokens, and headers count towards ``max_payload`` as the server counts them.

Validation is on the hot path of the in-memory bus, so results for valid
subjects are cached (a subject is checked once, then it is a dict look-up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from nbamcp.errors import BusError, InvalidSubject, PayloadTooLarge

_WHITESPACE = re.compile(r"\s")
_EXAMPLE = "subjects are dot-separated non-empty tokens, e.g. 'nba.stats.player'"

# Header names must be RFC 7230 tokens: nats-py refuses anything else, so the
# in-memory bus refuses them too.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _common(subject: object, what: str) -> list[str]:
    if not isinstance(subject, str):
        raise InvalidSubject(f"{what} must be a string, got {type(subject).__name__}")
    if not subject:
        raise InvalidSubject(f"{what} is empty: {_EXAMPLE}")
    if _WHITESPACE.search(subject):
        raise InvalidSubject(f"{what} {subject!r} contains whitespace: {_EXAMPLE}")
    tokens = subject.split(".")
    if "" in tokens:
        raise InvalidSubject(f"{what} {subject!r} has an empty token: {_EXAMPLE}")
    return tokens


@lru_cache(maxsize=8192)
def check_publish_subject(subject: str) -> str:
    """Return ``subject`` if it is a valid literal subject, else raise InvalidSubject."""
    _common(subject, "publish subject")
    if "*" in subject or ">" in subject:
        raise InvalidSubject(
            f"publish subject {subject!r} contains a wildcard: '*' and '>' are only allowed "
            "when subscribing; publish to a literal subject"
        )
    return subject


@lru_cache(maxsize=4096)
def check_subscribe_subject(subject: str) -> str:
    """Return ``subject`` if it is a valid subscription subject, else raise InvalidSubject."""
    tokens = _common(subject, "subscription subject")
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if token == ">":
            if i != last:
                raise InvalidSubject(
                    f"subscription subject {subject!r}: '>' is only allowed as the last token"
                )
        elif token != "*" and ("*" in token or ">" in token):
            raise InvalidSubject(
                f"subscription subject {subject!r}: a wildcard must be a whole token "
                f"('a.*.c', 'a.>'), not part of one ({token!r})"
            )
    return subject


def check_queue(queue: str | None) -> str | None:
    """Return the queue group name (or None); raise InvalidSubject if malformed."""
    if queue is None:
        return None
    if not isinstance(queue, str) or not queue:
        raise InvalidSubject(f"queue group must be a non-empty string or None, got {queue!r}")
    if _WHITESPACE.search(queue):
        raise InvalidSubject(f"queue group {queue!r} contains whitespace")
    return queue


def has_wildcard(subject: str) -> bool:
    """True if a (valid) subscription subject contains ``*`` or ``>`` tokens."""
    return "*" in subject or ">" in subject


@lru_cache(maxsize=4096)
def _tokens(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("."))


def matches(pattern: str, subject: str) -> bool:
    """True if the literal ``subject`` matches the subscription ``pattern``.

    Both are assumed valid (see the ``check_*`` functions). ``*`` matches one
    token, ``>`` one or more trailing tokens.
    """
    if pattern == subject:
        return True
    if "*" not in pattern and ">" not in pattern:
        return False
    ptoks = _tokens(pattern)
    stoks = subject.split(".")
    n = len(stoks)
    for i, p in enumerate(ptoks):
        if p == ">":
            return n > i
        if i >= n or (p != "*" and p != stoks[i]):
            return False
    return len(ptoks) == n


# Size of the header block NATS puts on the wire: "NATS/1.0\r\n" ... "\r\n",
# plus "Name: value\r\n" per header. The limit applies to headers + data.
_HEADER_BLOCK_OVERHEAD = 12
_HEADER_LINE_OVERHEAD = 4
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})


def check_headers(
    subject: str, data_size: int, headers: Mapping[str, str], max_payload: int
) -> dict[str, str]:
    """Validate and copy ``headers`` as NATS would send them; enforce the size limit.

    Shared by both buses so that a message accepted by one is accepted by the
    other: names must be RFC 7230 tokens, values are stripped and CR/LF become
    spaces, and headers count towards ``max_payload`` (the server counts them).
    """
    out = dict(headers)
    size = data_size + _HEADER_BLOCK_OVERHEAD
    for name, value in out.items():
        if name not in _GOOD_NAMES:
            _check_new_name(name)
        if value.__class__ is not str or not value.isprintable() or value.strip() != value:
            value = out[name] = _normalise_value(name, value)
        size += len(name) + (len(value) if value.isascii() else len(value.encode())) + _HEADER_LINE_OVERHEAD
    if size > max_payload:
        raise PayloadTooLarge(
            f"message on {subject!r} is {size} bytes ({data_size} data + {size - data_size} headers); "
            f"the bus accepts at most {max_payload} bytes per message"
        )
    return out


# Header names already checked (a process uses a handful of them).
_GOOD_NAMES: set[str] = set()


def _check_new_name(name: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise BusError(
            f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only "
            "(e.g. 'Nbamcp-Request-Id')"
        )
    if len(_GOOD_NAMES) < 1024:
        _GOOD_NAMES.add(name)


def _normalise_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise BusError(f"header {name!r} must be a string, got {type(value).__name__}")
    return value.translate(_NEWLINES).strip()


def too_large(subject: str, size: int, max_payload: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"message on {subject!r} is {size} bytes; the bus accepts at most {max_payload} bytes per message"
    )


def as_bytes(data: object) -> bytes:
    """Accept bytes-like data (copied: the caller may reuse its buffer); refuse the rest."""
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise BusError(f"message data must be bytes, got {type(data).__name__}")
