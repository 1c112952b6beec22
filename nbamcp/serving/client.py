"""The front end's path to a prediction: cache first, then inference, else the baseline.

1. ``nba.predict.lookup`` (cache worker): cached predictions; bad input fails
   here already. A cache that is down or slow only costs hits (its own breaker
   skips it for a while).
2. ``nba.predict`` (inference) for the misses only, one request for the slate,
   retried with backoff on transient failures (timeouts, no responders) under
   the same request id (the worker answers a repeated id from memory and logs
   it once), inside a circuit breaker: after ``breaker_failures`` failed calls
   the path goes straight to step 3 until the cooldown lets a trial through.
3. ``nba.predict.baseline`` (cache worker) when inference is down: the Elo
   baseline, flagged ``source="baseline"`` and ``degraded``.

Front-end safe: the bus, the messages and the standard library only.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from nbamcp import endpoints as ep
from nbamcp.config import CacheConfig, InferenceConfig
from nbamcp.errors import USER_ERRORS, ErrorCode, RemoteError, Unavailable
from nbamcp.log import bind_request, current_request_id, new_request_id
from nbamcp.messages import CacheLookupReply, GamePrediction, GameQuery, PredictReply, PredictRequest
from nbamcp.serving.breaker import CircuitBreaker
from nbamcp.serving.retry import RetryPolicy, retry_call

log = structlog.get_logger(__name__)

# gateway.call(endpoint, request, timeout_s=...) -> reply; raises Unavailable / RemoteError.
Call = Callable[..., Awaitable[Any]]

# Games per bus request: ~2.3 KB a prediction, so a part's reply stays far inside 1 MiB.
SLATE_PART = 100


class Degraded(Exception):
    """Inference cannot answer now; the reason is for the person reading the reply."""


@dataclass
class PredictOutcome:
    predictions: list[GamePrediction]
    degraded: bool = False
    cache_hits: int = 0
    notes: list[str] = field(default_factory=list)


class PredictClient:
    def __init__(
        self,
        call: Call,
        settings: InferenceConfig | None = None,
        cache: CacheConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self._call = call
        self.settings = settings = settings or InferenceConfig()
        self.cache_settings = cache = cache or CacheConfig()
        self.inference_breaker = CircuitBreaker(
            "inference",
            failure_threshold=settings.breaker_failures,
            cooldown_s=settings.breaker_cooldown_s,
            min_cooldown_s=min(settings.breaker_min_cooldown_s, settings.breaker_cooldown_s),
            clock=clock,
        )
        self.cache_breaker = CircuitBreaker(
            "cache",
            failure_threshold=settings.breaker_failures,
            cooldown_s=settings.breaker_cooldown_s,
            min_cooldown_s=min(settings.breaker_min_cooldown_s, settings.breaker_cooldown_s),
            clock=clock,
        )
        self.retry = RetryPolicy(retries=settings.retries, backoff_s=settings.retry_backoff_ms / 1e3)
        self._sleep = sleep
        self._rnd = rnd
        self.degraded_answers = 0

    def reset_breakers(self) -> None:
        """The bus is back: try the workers again now rather than after the cooldown."""
        self.inference_breaker.reset()
        self.cache_breaker.reset()

    async def predict(self, games: list[GameQuery], *, client: str = "") -> PredictOutcome:
        """Every game's prediction, in order: from the cache, else inference, else the baseline.

        A slate travels in parts of ``SLATE_PART`` games: a 500-game reply (~1.1 MB) is larger
        than one bus message (NATS' 1 MiB). Each part has its own request id (the slate's, with
        the part's number), so a retried part is still answered once."""
        if len(games) <= SLATE_PART:
            return await self._predict(games, client)
        rid = current_request_id() or new_request_id()
        out = PredictOutcome(predictions=[])
        for k, start in enumerate(range(0, len(games), SLATE_PART)):
            with bind_request(f"{rid}.{k}"):
                part = await self._predict(games[start : start + SLATE_PART], client)
            out.predictions += part.predictions
            out.cache_hits += part.cache_hits
            out.degraded |= part.degraded
            out.notes += [n for n in part.notes if n not in out.notes]
        return out

    async def _predict(self, games: list[GameQuery], client: str) -> PredictOutcome:
        out = PredictOutcome(predictions=[])
        hits = await self._lookup(games, client, out)
        misses = [i for i, h in enumerate(hits) if h is None]
        out.cache_hits = len(games) - len(misses)
        if misses:
            request = PredictRequest(games=[games[i] for i in misses], client=client)
            try:
                reply = await self._infer(request)
            except Degraded as exc:
                reply = await self._baseline(request, str(exc))
                out.degraded = True
                out.notes.append(
                    f"the model is not available ({exc}); these are Elo rating baseline predictions"
                )
                self.degraded_answers += 1
            if reply.degraded:
                # Inference answered, but not with the registry's champion (it refused it).
                out.degraded = True
                out.notes.append(reply.degraded_reason or "the registry's champion is not serving")
            for i, pred in zip(misses, reply.predictions, strict=True):
                hits[i] = pred
        out.predictions = [p for p in hits if p is not None]
        return out

    async def _lookup(
        self, games: list[GameQuery], client: str, out: PredictOutcome
    ) -> list[GamePrediction | None]:
        none: list[GamePrediction | None] = [None] * len(games)
        if not self.cache_breaker.allow():
            return none
        try:
            reply: CacheLookupReply = await self._call(
                ep.PREDICT_LOOKUP,
                PredictRequest(games=games, client=client),
                timeout_s=self.cache_settings.lookup_timeout_s,
            )
        except Unavailable as exc:
            self.cache_breaker.record_failure(grow=not _nobody_listens(exc))
            log.info("predict.cache_skipped", error=exc.message)
            return none
        except RemoteError as exc:
            if exc.code in USER_ERRORS:
                self.cache_breaker.record_success()
                raise
            self.cache_breaker.record_failure()
            log.warning("predict.cache_failed", code=exc.code, error=exc.message)
            return none
        self.cache_breaker.record_success()
        if len(reply.hits) != len(games):
            log.warning("predict.cache_bad_reply", hits=len(reply.hits), games=len(games))
            return none
        return list(reply.hits)

    async def _infer(self, request: PredictRequest) -> PredictReply:
        breaker = self.inference_breaker
        if not breaker.allow():
            raise Degraded(
                f"the inference worker failed {breaker.failure_threshold} times in a row; "
                f"next try in {breaker.retry_in():.1f}s"
            )

        async def attempt() -> PredictReply:
            reply: PredictReply = await self._call(ep.PREDICT, request, timeout_s=self.settings.timeout_s)
            return reply

        try:
            reply = await retry_call(
                attempt, policy=self.retry, transient=(Unavailable,), sleep=self._sleep, rnd=self._rnd,
                what="predict",
            )  # fmt: skip
        except Unavailable as exc:
            breaker.record_failure(grow=not _nobody_listens(exc))
            raise Degraded(exc.message) from None
        except RemoteError as exc:
            if exc.code in USER_ERRORS:
                breaker.record_success()
                raise
            breaker.record_failure()
            raise Degraded(f"the inference worker failed: {exc.code}: {exc.message}") from None
        breaker.record_success()
        return reply

    async def _baseline(self, request: PredictRequest, why: str) -> PredictReply:
        try:
            reply: PredictReply = await self._call(
                ep.PREDICT_BASELINE, request, timeout_s=self.settings.timeout_s
            )
        except Unavailable as exc:
            raise Unavailable(
                f"no prediction worker is answering: inference ({why}) and the cache worker's "
                f"rating baseline ({exc.message}); start them with `nbamcp worker inference` / "
                "`nbamcp worker cache` or `nbamcp serve`"
            ) from None
        return reply


def _nobody_listens(exc: Unavailable) -> bool:
    """The worker is not subscribed (restarting): news of a restart, not of a slow worker, so the
    breaker keeps its trials frequent and the worker is used again as soon as it is back."""
    return exc.details.get("cause") == ErrorCode.NO_RESPONDERS
