"""Circuit breaker states and retries with backoff, on injected clocks (no sleeping)."""

from __future__ import annotations

import pytest

from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.serving.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from nbamcp.serving.retry import RetryPolicy, retry_call, retry_until
from tests.serving.conftest import FakeClock


def test_breaker_opens_after_n_failures_and_half_opens_after_cooldown(clock: FakeClock) -> None:
    b = CircuitBreaker("x", failure_threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == CLOSED
    b.record_success()  # a success resets the count
    for _ in range(3):
        assert b.allow()
        b.record_failure()
    assert b.state == OPEN and b.opened == 1
    assert not b.allow() and b.rejected == 1
    assert b.retry_in() == 10
    clock.advance(9.9)
    assert not b.allow()
    clock.advance(0.1)
    assert b.state == HALF_OPEN
    assert b.allow()  # the one trial call
    assert not b.allow()  # nobody else while it runs
    b.record_failure()  # the trial failed: open for another cooldown
    assert b.state == OPEN and b.opened == 2
    clock.advance(10)
    assert b.allow()
    b.record_success()
    assert b.state == CLOSED and b.allow()


def test_breaker_open_time_starts_short_doubles_while_trials_fail_and_resets(clock: FakeClock) -> None:
    # A short outage must not be stretched to a long fixed cooldown (it was 15 s from the first open).
    b = CircuitBreaker("x", failure_threshold=1, cooldown_s=8, min_cooldown_s=0.5, clock=clock)
    b.allow()
    b.record_failure()
    assert b.state == OPEN and b.retry_in() == 0.5
    waits = []
    for _ in range(6):  # each failed trial doubles the open time, up to the ceiling
        clock.advance(b.retry_in())
        assert b.allow()
        b.record_failure()
        waits.append(b.retry_in())
    assert waits == [1, 2, 4, 8, 8, 8]
    clock.advance(8)
    assert b.allow()
    b.record_success()  # back: the next outage starts short again
    b.allow()
    b.record_failure()
    assert b.retry_in() == 0.5
    b.reset()  # news that the dependency is back (the bus reconnected): closed at once
    assert b.state == CLOSED and b.allow()


def test_a_trial_that_nobody_answered_keeps_the_open_time_short(clock: FakeClock) -> None:
    # A worker being restarted answers "no responders" at once; doubling the wait on each such trial
    # delayed the use of the restarted worker by up to 5.6 s in the kill -9 chaos runs.
    b = CircuitBreaker("x", failure_threshold=1, cooldown_s=8, min_cooldown_s=0.5, clock=clock)
    b.allow()
    b.record_failure(grow=False)
    for _ in range(5):
        assert b.state == OPEN and b.retry_in() == 0.5
        clock.advance(0.5)
        assert b.allow()
        b.record_failure(grow=False)
    clock.advance(0.5)
    assert b.allow()
    b.record_failure()  # a slow failure (a timeout) still doubles it
    assert b.retry_in() == 1


def test_breaker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", cooldown_s=1, min_cooldown_s=2)


async def test_retry_backs_off_then_succeeds() -> None:
    pauses: list[float] = []
    calls = 0

    async def sleep(s: float) -> None:
        pauses.append(s)

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Unavailable("worker restarting")
        return "ok"

    policy = RetryPolicy(retries=3, backoff_s=0.1, jitter=0.5)
    assert (
        await retry_call(flaky, policy=policy, transient=(Unavailable,), sleep=sleep, rnd=lambda: 0.0) == "ok"
    )
    assert calls == 3 and pauses == [0.1, 0.2]
    assert policy.pause(2, 1.0) == pytest.approx(0.1)  # full jitter halves the pause
    assert policy.pause(10, 0.0) == policy.max_backoff_s


async def test_retry_gives_up_and_never_retries_user_errors() -> None:
    calls = 0

    async def sleep(s: float) -> None:
        pass

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise Unavailable("down")

    with pytest.raises(Unavailable):
        await retry_call(down, policy=RetryPolicy(retries=2), transient=(Unavailable,), sleep=sleep)
    assert calls == 3

    async def bad() -> None:
        nonlocal calls
        calls += 1
        raise InvalidInput("bad team")

    calls = 0
    with pytest.raises(InvalidInput):
        await retry_call(bad, policy=RetryPolicy(retries=2), transient=(Unavailable,), sleep=sleep)
    assert calls == 1


async def test_retry_until_pauses_doubling_to_the_cap_and_stops_when_done() -> None:
    pauses: list[float] = []
    tried: list[int] = []

    async def sleep(s: float) -> None:
        pauses.append(s)

    async def attempt(n: int) -> bool:
        tried.append(n)
        return n == 7  # six tries that did not land, then one that did

    await retry_until(attempt, what="test", sleep=sleep, rnd=lambda: 0.0)
    assert tried == [1, 2, 3, 4, 5, 6, 7]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # UNTIL_IT_LANDS: 1 s doubling to 30 s
    jittered: list[float] = []

    async def jsleep(s: float) -> None:
        jittered.append(s)

    await retry_until(lambda n: _done_at(n, 2), what="test", sleep=jsleep, rnd=lambda: 0.99)
    assert all(0.5 * base <= p <= base for p, base in zip(jittered, [1.0, 2.0], strict=True))


async def _done_at(n: int, last: int) -> bool:
    return n == last
