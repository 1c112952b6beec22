"""Structured logging: JSON lines on stderr, configured once per process.

stdout belongs to the MCP stdio transport, so nothing here ever writes there.
Every log line carries the context bound with ``bind_request`` (request id,
actor, subject) through ``structlog.contextvars``; since each message an actor
handles runs in its own task, the binding never leaks between messages.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import structlog

from nbamcp.bus.base import REQUEST_ID_HEADER

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(level: str = "info", *, fmt: str = "json") -> None:
    """Send structlog and stdlib logging (SDK, uvicorn, nats) to stderr as one stream."""
    lvl = _LEVELS.get(level.lower(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Third-party libraries log through the stdlib; route them through the
    # same renderer so stderr carries one format only.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(lvl, logging.INFO) if lvl == logging.DEBUG else lvl)


# Request ids need to be unique, not secret: ``uuid4`` made each one an ``os.urandom`` call, a
# system call that hands the GIL over (to aiosqlite's threads) on every tool call and every bus
# message without an id. 128 bits from a generator seeded by the OS (again in a forked child)
# collide no more often than uuid4's 122.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)


def new_request_id() -> str:
    return f"{_rng.getrandbits(128):032x}"


def request_id_from(headers: Mapping[str, str] | None) -> str:
    """The caller's request id, or a fresh one for messages that carry none."""
    if headers:
        rid = headers.get(REQUEST_ID_HEADER)
        if rid:
            return rid
    return new_request_id()


@contextmanager
def bind_request(request_id: str, **extra: str) -> Iterator[None]:
    """Bind the request id (and e.g. actor, subject) to every log line inside."""
    with structlog.contextvars.bound_contextvars(request_id=request_id, **extra):
        yield


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")
