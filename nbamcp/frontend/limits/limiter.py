"""Per-key rate limits and daily quotas, and what each call costs.

Each key has a token bucket for tool calls (its ``--rate-per-minute`` and
``--burst``, else ``[limits]``) and a daily quota of units (UTC days), checked
before the call runs; a second, larger bucket counts raw HTTP requests (any
path) and is refused with HTTP 429 at the HTTP layer. The trusted local caller
(stdio, ``--no-auth``) is never limited. Both clocks are injectable so tests
drive the buckets without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nbamcp.config import LimitsConfig
from nbamcp.frontend.auth.verifier import Principal
from nbamcp.frontend.limits.bucket import TokenBucket
from nbamcp.frontend.limits.usage import UsageBook
from nbamcp.messages.predict import MAX_SLATE
from nbamcp.messages.stats import MAX_SCHEDULE_LIMIT


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """The limits of one key, after the defaults are applied."""

    rate_per_minute: float
    burst: int
    daily_quota: int  # 0: none


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # "rate" | "quota"
    retry_after_s: float
    text: str


def seconds_to_midnight_utc(wall: float) -> float:
    now = datetime.fromtimestamp(wall, UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class Limiter:
    def __init__(
        self,
        settings: LimitsConfig,
        usage: UsageBook,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.usage = usage
        self._clock = clock
        self._wall = wall
        self._buckets: dict[str, tuple[KeyPolicy, TokenBucket]] = {}
        self._http: dict[str, TokenBucket] = {}

    # ---- costs -----------------------------------------------------------------------------------
    def cost(self, tool: str, arguments: Mapping[str, Any] | None) -> int:
        # The arguments are not validated yet: a cost is only read within what the tool accepts, so
        # a hostile number (2**70, True) costs what the largest accepted one does, never more.
        if tool == "predict_games":
            games = (arguments or {}).get("games")
            n = min(len(games), MAX_SLATE) if isinstance(games, list) else 1
            return max(1, math.ceil(n / self.settings.games_per_unit))
        if tool == "schedule":  # it predicts up to ``limit`` games (default 50), like a slate
            limit = (arguments or {}).get("limit", 50)
            n = min(limit, MAX_SCHEDULE_LIMIT) if type(limit) is int and limit > 0 else 50
            return max(1, math.ceil(n / self.settings.games_per_unit))
        return self.settings.tool_costs.get(tool, 1)

    # ---- policies --------------------------------------------------------------------------------
    def policy(self, who: Principal) -> KeyPolicy:
        s = self.settings
        return KeyPolicy(
            rate_per_minute=who.rate_per_minute if who.rate_per_minute is not None else s.rate_per_minute,
            burst=who.burst if who.burst is not None else s.burst,
            daily_quota=who.daily_quota if who.daily_quota is not None else s.daily_quota,
        )

    def _bucket(self, who: Principal, p: KeyPolicy) -> TokenBucket:
        found = self._buckets.get(who.key_id)
        if found is not None and found[0] == p:
            return found[1]
        b = TokenBucket(p.rate_per_minute / 60.0, p.burst, self._clock)
        self._buckets[who.key_id] = (p, b)
        return b

    # ---- admission -------------------------------------------------------------------------------
    async def admit(self, who: Principal, tool: str, cost: int) -> Refusal | None:
        """Charge ``cost`` units for a call of ``tool``, or say why not and for how long."""
        if who.trusted:
            return None
        p = self.policy(who)
        if p.daily_quota:
            used = await self.usage.units_today(who.key_id)
            if used + cost > p.daily_quota:
                wait = seconds_to_midnight_utc(self._wall())
                return Refusal(
                    "quota",
                    wait,
                    f"rate_limited: the daily quota of key {who.key_id} (tenant {who.tenant}) is "
                    f"{p.daily_quota} units, {used} used today and {tool} costs {cost}; it resets at "
                    f"00:00 UTC: retry in {math.ceil(wait)} s",
                )
        wait = self._bucket(who, p).take(cost)
        if wait:
            return Refusal(
                "rate",
                wait,
                f"rate_limited: key {who.key_id} (tenant {who.tenant}) is over its rate of "
                f"{p.rate_per_minute:g} units/min (burst {p.burst}); {tool} costs {cost} unit(s): "
                f"retry in {wait:.1f} s",
            )
        self.usage.charge(who.key_id, cost)
        return None

    def admit_http(self, who: Principal) -> float:
        """0 when this HTTP request may pass, else the seconds until one may (HTTP 429)."""
        if who.trusted:
            return 0.0
        b = self._http.get(who.key_id)
        if b is None:
            s = self.settings
            b = self._http[who.key_id] = TokenBucket(
                s.http_requests_per_minute / 60.0, s.http_burst, self._clock
            )
        return b.take(1)
