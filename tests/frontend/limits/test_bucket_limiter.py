"""Token buckets and the limiter, driven by injected clocks (no sleeping)."""

from __future__ import annotations

import pytest

from nbamcp.config import LimitsConfig
from nbamcp.frontend.auth.verifier import LOCAL, Principal
from nbamcp.frontend.limits.bucket import TokenBucket
from nbamcp.frontend.limits.limiter import Limiter, seconds_to_midnight_utc
from nbamcp.frontend.limits.usage import MemoryUsageSink, UsageBook


class Clock:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_bucket_refills_and_allows_debt() -> None:
    clock = Clock()
    b = TokenBucket(rate_per_s=1.0, capacity=3, clock=clock)
    assert [b.take(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(1) == pytest.approx(1.0)
    clock.t += 0.5
    assert b.take(1) == pytest.approx(0.5)  # refused calls take nothing
    clock.t += 0.5
    assert b.take(1) == 0.0
    clock.t += 10
    assert b.tokens == 3.0  # capped
    assert b.take(10) == 0.0  # bigger than the bucket: allowed when full, leaves a debt
    assert b.tokens == -7.0
    assert b.take(1) == pytest.approx(8.0)


async def test_limiter_costs_rates_and_quotas() -> None:
    clock, wall = Clock(), Clock(1_700_000_000.0)
    usage = UsageBook(MemoryUsageSink(), wall=wall)
    limiter = Limiter(LimitsConfig(games_per_unit=10), usage, clock=clock, wall=wall)
    assert limiter.cost("find_player", {}) == 1
    assert limiter.cost("predict_games", {"games": [{}] * 500}) == 50
    assert limiter.cost("predict_games", {"games": [{}] * 3}) == 1
    assert limiter.cost("train_model", {}) == 20
    # schedule predicts up to ``limit`` games (default 50): it costs like a slate of them.
    assert limiter.cost("schedule", {}) == 5 and limiter.cost("schedule", {"limit": 3}) == 1
    # Costs are read before validation: a hostile limit costs what the largest accepted one does
    # (a 2**70 cost made the usage flush fail: msgpack cannot hold it).
    assert limiter.cost("schedule", {"limit": 2**70}) == 10 == limiter.cost("schedule", {"limit": 100})
    assert limiter.cost("schedule", {"limit": True}) == 5
    assert limiter.cost("predict_games", {"games": [{}] * 5_000}) == 100

    alice = Principal(tenant="alice", key_id="a" * 12, scopes=("read",), rate_per_minute=60, burst=2)
    bob = Principal(
        tenant="bob", key_id="b" * 12, scopes=("read",), rate_per_minute=600, burst=20, daily_quota=5
    )
    assert await limiter.admit(alice, "find_player", 1) is None
    assert await limiter.admit(alice, "find_player", 1) is None
    refused = await limiter.admit(alice, "find_player", 1)
    assert refused is not None and refused.reason == "rate" and refused.retry_after_s == pytest.approx(1.0)
    assert refused.text.startswith("rate_limited: ") and "retry in 1.0 s" in refused.text
    clock.t += 1.0
    assert await limiter.admit(alice, "find_player", 1) is None

    # bob's bucket is big, his quota small: the quota refuses, until the next UTC day.
    assert [await limiter.admit(bob, "find_player", 1) for _ in range(5)] == [None] * 5
    refused = await limiter.admit(bob, "find_player", 1)
    assert refused is not None and refused.reason == "quota"
    assert refused.retry_after_s == pytest.approx(seconds_to_midnight_utc(wall.t))
    assert "daily quota" in refused.text and "5 used today" in refused.text
    wall.t += refused.retry_after_s + 1
    assert await limiter.admit(bob, "find_player", 1) is None
    assert await limiter.admit(LOCAL, "train_model", 10_000) is None  # stdio / --no-auth: never limited

    # HTTP requests have their own, larger bucket.
    http = Limiter(LimitsConfig(http_requests_per_minute=60, http_burst=2), usage, clock=clock, wall=wall)
    assert [http.admit_http(alice) for _ in range(2)] == [0.0, 0.0]
    assert http.admit_http(alice) == pytest.approx(1.0)
    assert http.admit_http(LOCAL) == 0.0
