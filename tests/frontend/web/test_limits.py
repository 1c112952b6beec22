"""Rate limits, quotas, per-tool costs and usage over real HTTP; the test moves the limiter's clocks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from tests.frontend.web.harness import WAIT, call, mcp_session, serving

PREDICTORS = ("stats", "inference", "cache", "predlog", "usage")


def slate(n: int) -> list[dict[str, str]]:
    teams = ["BOS", "LAL", "GSW", "MIA", "NYK", "CHI", "DEN", "PHX", "MIL", "DAL"]
    return [
        {
            "home": teams[i % 10],
            "away": teams[(i + 1 + i // 10) % 10],
            "date": f"2023-0{1 + i % 3}-{10 + i % 18}",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_rate_limited_after_the_burst_then_recovers(home: Path, data_dir: Path, transport: str) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, transport=transport) as h:
            token = h.key("alice", "read", rate_per_minute=60, burst=3)
            async with mcp_session(h, token) as s:
                for _ in range(3):
                    err, text, _ = await call(s, "find_player", query="jokic")
                    assert not err, text
                err, text, _ = await call(s, "find_player", query="jokic")
                assert err and text.startswith("rate_limited: ") and "retry in 1.0 s" in text
                h.clock.t += 1.0  # the bucket refills one unit per second
                err, text, _ = await call(s, "find_player", query="jokic")
                assert not err, text


async def test_a_big_slate_costs_more_and_usage_counts_it(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT), capture_logs([merge_contextvars]) as logs:
        async with serving(home, data_dir, workers=PREDICTORS, limits={"games_per_unit": 10}) as h:
            token = h.key("alice", "read,predict", rate_per_minute=6, burst=10)
            admin = h.key("ops", "admin")
            async with mcp_session(h, token) as s:
                err, text, out = await call(s, "predict_games", games=slate(50))  # 5 units
                assert not err, text
                assert out["count"] == 50
                err, text, _ = await call(s, "predict_games", games=slate(60))  # 6 units: 5 left
                assert err and text.startswith("rate_limited: ") and "costs 6 unit(s)" in text
                err, text, _ = await call(s, "predict_game", home="BOS", away="LAL", date="2023-02-01")
                assert not err, text  # one unit still fits
            async with mcp_session(h, admin) as s:
                err, text, report = await call(s, "usage", tenant="alice")
                assert not err, text
                rows = {r["tool"]: r for r in report["rows"]}
                assert (rows["predict_games"]["calls"], rows["predict_games"]["errors"]) == (2, 1)
                assert (rows["predict_games"]["units"], rows["predict_games"]["games"]) == (5, 50)
                assert (rows["predict_game"]["units"], rows["predict_game"]["games"]) == (1, 1)
                assert report["games"] == 51
                err, _, later = await call(s, "usage", since="2999-01-01")
                assert not err and later["rows"] == []
                err, text, _ = await call(s, "usage", since="last tuesday")
                assert err and "invalid_input: " in text
    # The tenant is in the front end's log lines and the workers' ...
    calls = [e for e in logs if e["event"] == "tool.call" and e.get("tool") == "predict_games"]
    assert calls and all(e["tenant"] == "alice" for e in calls)
    assert any(e["event"] == "actor.handled" and e.get("tenant") == "alice" for e in logs)
    # ... and in the prediction log (the workers stopped, so everything was flushed).
    with sqlite3.connect(home / "predlog.sqlite") as db:
        tenants = dict(
            db.execute("SELECT tenant, COUNT(DISTINCT home || away || date) FROM predictions GROUP BY 1")
        )
    assert tenants == {"alice": 51}


async def test_daily_quota_resets_at_utc_midnight(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir) as h:
            token = h.key("alice", "read", daily_quota=2, burst=100, rate_per_minute=600)
            async with mcp_session(h, token) as s:
                assert not (await call(s, "find_player", query="jokic"))[0]
                assert not (await call(s, "find_player", query="jokic"))[0]
                err, text, _ = await call(s, "find_player", query="jokic")
                assert err and text.startswith("rate_limited: ") and "daily quota" in text
                seconds = int(text.rsplit("retry in ", 1)[1].split()[0])
                h.wall.t += seconds
                assert not (await call(s, "find_player", query="jokic"))[0]


async def test_http_requests_over_the_limit_get_429_with_retry_after(home: Path, data_dir: Path) -> None:
    limits = {"http_requests_per_minute": 60.0, "http_burst": 3}
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, limits=limits) as h:
            token, other = h.key("watcher", "metrics"), h.key("other", "metrics")
            async with h.http(token) as http, h.http(other) as http2:
                assert [(await http.get("/metrics")).status_code for _ in range(3)] == [200] * 3
                r = await http.get("/metrics")
                assert r.status_code == 429 and r.headers["retry-after"] == "1"
                assert r.json()["error"]["message"].startswith("rate_limited: ")
                assert (await http2.get("/metrics")).status_code == 200  # per key
                h.clock.t += 1.0
                assert (await http.get("/metrics")).status_code == 200
