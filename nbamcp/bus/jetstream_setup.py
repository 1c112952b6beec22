"""JetStream set-up calls (streams, consumers, buckets) tried again when the server is slow.

A busy server can take longer than one API call's timeout: in a cold start of the Procfile every
process makes its streams, consumers and buckets while the stats worker writes the games dataset
(the trainer's start failed there after ~13 s; its second try took 11 s). Each of these calls is
idempotent (create, or find what exists), so a timeout is tried again rather than failing the
worker's start; any other error is the caller's to translate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Tries of one set-up call that timed out (nats-py's TimeoutError is the builtin's subclass).
SETUP_TRIES = 4


async def tried_again(call: Callable[[], Awaitable[T]], *, what: str, timeout_s: float | None = None) -> T:
    """``call()``, again after each timeout, at most ``SETUP_TRIES`` times; the last timeout is raised.

    Logs ``jetstream.slow`` (``what``, the attempt) for each try that timed out.
    """
    for attempt in range(1, SETUP_TRIES):
        try:
            return await call()
        except TimeoutError:
            log.warning("jetstream.slow", what=what, attempt=attempt, timeout_s=timeout_s)
    return await call()
