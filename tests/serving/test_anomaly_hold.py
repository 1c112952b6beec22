"""The anomaly hold end to end, with the real workers on the bus: a fabricated week of results
(impossible margins, mass upsets) ingested through the stats worker is held, raises one alert per
condition (deduplicated, delivered to a real webhook through its failures), and does not move
the next day's predictions (the cache worker's Elo baseline, computed from its replica of the
games); accept_games releases it, and it then moves them like any result."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import anyio
import msgspec
import pytest
from mcp import Client

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.calls import call
from nbamcp.config import AlertsConfig, Config
from nbamcp.data.franchises import code_to_franchise
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import (
    AcceptGamesRequest,
    AlertsRequest,
    GameQuery,
    GameRow,
    HeldGamesRequest,
    PredictRequest,
)
from nbamcp.ml.ratings import Elo
from tests.frontend.conftest import text
from tests.monitoring.test_alerting import receiving
from tests.predlog.realgames import read_rows
from tests.serving.conftest import CUTOFF, WAIT, Data, Home, ingest, make_cache, serving
from workers.alerts import AlertsWorker

HEADER = ["date", "season", "neutral", "playoff", "team1", "team2", "score1", "score2"]


def codes_2023(data_dir: Path) -> dict[str, str]:
    """Franchise id -> the code the 538 file uses for it in 2023 (BRK, PHO, CHO...)."""
    _, rows = read_rows(data_dir, lambda r: r["season"] == "2023")
    ids = code_to_franchise()
    return {ids[r[side]]: r[side] for r in rows for side in ("team1", "team2")}


def write_rows(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        # The 538 layout: the columns the loader needs, the forecasts left empty.
        w = csv.writer(f)
        w.writerow([*HEADER, "elo_prob1", "raptor_prob1"])
        w.writerows([[*r, "", ""] for r in rows])
    return path


def fabricated_week(games: list[GameRow]) -> tuple[list[list[object]], list[tuple[str, str]]]:
    """Seven days after the cutoff: every game an upset of a heavy favourite or a 130-point margin."""
    elo = Elo()
    for g in games:
        elo.update(g)
    teams = sorted({g.home for g in games if g.season == 2023}, key=lambda t: -elo.rating(t, 2023, CUTOFF))
    pairs = [
        (h, a)
        for h in teams[:8]
        for a in teams[-8:]
        if elo.prob(h, a, 2023, neutral=False, date=CUTOFF) > 0.85
    ]
    start = date.fromisoformat(CUTOFF) + timedelta(days=1)
    rows: list[list[object]] = []
    for d in range(7):
        day = (start + timedelta(days=d)).isoformat()
        busy: set[str] = set()
        for h, a in pairs[d * 5 % len(pairs) :] + pairs:
            if len(busy) < 6 and not busy & {h, a}:
                busy |= {h, a}
                rows.append([day, 2023, 0, 0, h, a, 104, 111 + d])  # the favourite loses at home
        h, a = teams[10 + d % 5], teams[17 + d % 5]
        rows.append([day, 2023, 0, 0, h, a, 190, 60 - d])  # a 130-point margin
    return rows, pairs


async def prob(bus: Bus, home: str, away: str, day: str, rid: str) -> float:
    reply = await call(
        bus, ep.PREDICT_BASELINE, PredictRequest(games=[GameQuery(home=home, away=away, date=day)]),
        timeout_s=WAIT, request_id=rid,
    )  # fmt: skip
    return reply.predictions[0].home_win_prob


async def test_a_fabricated_week_is_held_alerts_once_and_is_released_by_accept_games(
    bus: Bus, home: Home, serving_data: Data, data_dir: Path
) -> None:
    games = serving_data.games
    codes = codes_2023(data_dir)
    week, pairs = fabricated_week(games)
    week_csv = write_rows(
        home.later_csv.parent / "fabricated-week.csv",
        [[*r[:4], codes[str(r[4])], codes[str(r[5])], *r[6:]] for r in week],
    )
    fav, dog = pairs[0]
    next_day = (date.fromisoformat(CUTOFF) + timedelta(days=9)).isoformat()
    last = games[-1]  # a known, announced game told again with another score
    others = sorted({g.home for g in games if g.season == 2023} - {t for p in pairs for t in p})
    legit_h, legit_a, other = others[:3]
    day8 = (date.fromisoformat(CUTOFF) + timedelta(days=8)).isoformat()
    day8_csv = write_rows(
        home.later_csv.parent / "day8.csv",
        [
            [day8, 2023, 0, 0, codes[legit_h], codes[legit_a], 112, 107],  # an ordinary result
            [day8, 2023, 0, 0, codes[fav], codes[other], 188, 58],  # another impossible margin
            [last.date, 2023, 0, 0, codes[last.home], codes[last.away], last.home_pts + 20, last.away_pts],
        ],
    )
    with receiving(fail=2) as (url, receiver):
        alerts = AlertsWorker(
            await home.context(bus, home.config(alerts=AlertsConfig(
                ops_interval_s=0, webhook_url=url, webhook_backoff_s=0.01,
            )))
        )  # fmt: skip
        cache = await make_cache(bus, home)
        async with serving(bus, home, cache, alerts):
            before = await prob(bus, fav, dog, next_day, "p-before")

            reply = await ingest(bus, week_csv)
            assert reply.new_games == len(week)
            held = await call(bus, ep.HELD_GAMES, HeldGamesRequest(), timeout_s=WAIT, request_id="h1")
            assert held.total == len(week)
            rules = {r for g in held.games for r in g.rules}
            assert rules == {"mass_upsets", "score_outlier"}
            assert all(g.kind == "new" and g.reason for g in held.games)

            # A second file: one ordinary result (announced), one more impossible margin and a
            # rescored game (both held). The announcement after it is the season whole: if a held
            # game were in it, the cache would have it now.
            changed = cache.features_changed
            await ingest(bus, day8_csv)
            with anyio.fail_after(WAIT):
                await changed.wait()
            held = await call(bus, ep.HELD_GAMES, HeldGamesRequest(), timeout_s=WAIT, request_id="h2")
            assert held.total == len(week) + 2
            rescored = [g for g in held.games if g.kind == "rescored"]
            assert [(g.game_id, g.home_pts, g.was_home_pts) for g in rescored] == [
                (last.game_id, last.home_pts + 20, last.home_pts)
            ]
            replica = {g.game_id: g for g in cache.games.replica.games()}
            held_ids = {g.game_id for g in held.games}
            assert not (held_ids - {last.game_id}) & replica.keys()
            assert replica[last.game_id].home_pts == last.home_pts  # the announced score stands
            assert any(g.home == legit_h and g.date == day8 for g in replica.values())
            assert await prob(bus, fav, dog, next_day, "p-held") == before

            # One alert per condition: the second file's margin folded into the first's.
            with anyio.fail_after(WAIT):
                while alerts.stored < 3:
                    await alerts.changed.wait()
            listed = await call(bus, ep.ALERTS_LIST, AlertsRequest(), timeout_s=WAIT, request_id="a1")
            keys = sorted(a.key for a in listed.alerts)
            assert keys == ["anomaly.mass_upsets", "anomaly.rescored", "anomaly.score_outlier"], keys
            upset = next(a for a in listed.alerts if a.key == "anomaly.mass_upsets")
            n_upsets = sum(1 for r in week if r[6] == 104)
            assert (
                upset.severity == "critical" and upset.source == "stats" and upset.numbers["held"] == n_upsets
            )
            critical = await call(bus, ep.ALERTS_LIST, AlertsRequest(severity="critical"), timeout_s=WAIT,
                                  request_id="a2")  # fmt: skip
            assert [a.key for a in critical.alerts] == ["anomaly.mass_upsets"]
            # The webhook got each of them, through its first two failures.
            assert alerts.webhook is not None
            with anyio.fail_after(WAIT):
                while alerts.webhook.delivered < 3:
                    await alerts.webhook.progress.wait()
            assert receiver.statuses[:2] == [503, 503] and len(receiver.bodies) == 3

            # Accepted, the week is a result like any other: it reaches the cache and moves the
            # prediction; the rescored game gets its new score.
            changed = cache.features_changed
            ids = [g.game_id for g in held.games]
            accepted = await call(
                bus, ep.ACCEPT_GAMES, AcceptGamesRequest(game_ids=[*ids, "nope"], actor="test"),
                timeout_s=WAIT, request_id="acc",
            )  # fmt: skip
            assert sorted(accepted.accepted) == sorted(ids) and accepted.not_held == ["nope"]
            with anyio.fail_after(WAIT):
                await changed.wait()
            replica = {g.game_id: g for g in cache.games.replica.games()}
            assert held_ids <= replica.keys() and replica[last.game_id].home_pts == last.home_pts + 20
            assert await prob(bus, fav, dog, next_day, "p-after") < before - 0.1
            again = await call(bus, ep.HELD_GAMES, HeldGamesRequest(), timeout_s=WAIT, request_id="h3")
            assert again.total == 0


async def test_the_mcp_tools_list_accept_and_refuse(
    bus: Bus, home: Home, serving_data: Data, data_dir: Path
) -> None:
    """held_games, alerts and accept_games (admin) over a real MCP client of the real server."""
    codes = codes_2023(data_dir)
    teams = sorted({g.home for g in serving_data.games if g.season == 2023})
    day = (date.fromisoformat(CUTOFF) + timedelta(days=1)).isoformat()
    path = write_rows(
        home.later_csv.parent / "one.csv",
        [[day, 2023, 0, 0, codes[teams[0]], codes[teams[1]], 195, 61], [day, 2023, 0, 0, codes[teams[2]],
         codes[teams[3]], 108, 101]],
    )  # fmt: skip
    alerts = AlertsWorker(await home.context(bus, home.config(alerts=AlertsConfig(ops_interval_s=0))))
    gw = Gateway(bus, timeout_s=WAIT, expected_workers=["stats", "alerts"])
    async with serving(bus, home, alerts), Client(build_server(gw, Config())) as client:
        reply = await ingest(bus, path)
        assert reply.new_games == 2
        with anyio.fail_after(WAIT):
            while alerts.stored < 1:
                await alerts.changed.wait()
        held = await client.call_tool("held_games", {})
        assert not held.is_error and held.structured_content["total"] == 1
        [g] = held.structured_content["games"]
        assert g["rules"] == ["score_outlier"] and "robust deviations" in text(held)
        listed = await client.call_tool("alerts", {"severity": "warning"})
        assert not listed.is_error and [a["key"] for a in listed.structured_content["alerts"]] == [
            "anomaly.score_outlier"
        ]
        assert "anomaly.score_outlier from stats" in text(listed)
        assert (await client.call_tool("alerts", {"severity": "critical"})).structured_content["total"] == 0
        for bad, needle in [
            ({"since": "last tuesday"}, "since"),
            ({"severity": "panic"}, "severity"),
        ]:
            refused = await client.call_tool("alerts", bad)
            assert refused.is_error and text(refused).startswith("invalid_input:") and needle in text(refused)
        refused = await client.call_tool("accept_games", {"game_ids": []})
        assert refused.is_error and text(refused).startswith("invalid_input:")
        refused = await client.call_tool("accept_games", {"game_ids": ["x" * 100]})
        assert refused.is_error and text(refused).startswith("invalid_input:")
        ok = await client.call_tool("accept_games", {"game_ids": [g["game_id"], "2023-01-01-NYK-BOS-1"]})
        assert not ok.is_error and ok.structured_content["accepted"] == [g["game_id"]]
        assert ok.structured_content["not_held"] == ["2023-01-01-NYK-BOS-1"]
        assert (await client.call_tool("held_games", {})).structured_content["total"] == 0


async def test_the_ops_watch_reads_real_health_and_raises_through_the_stream(bus: Bus, home: Home) -> None:
    """One round of real health reports carries the workers' request counters; a spike fed to the
    watch becomes a stored alert (through the durable stream, like every alert)."""
    settings = AlertsConfig(ops_interval_s=0, ops_min_history=3, ops_min_requests=1)
    alerts = AlertsWorker(await home.context(bus, home.config(alerts=settings)))
    async with serving(bus, home, alerts):
        await call(bus, ep.HELD_GAMES, HeldGamesRequest(), timeout_s=WAIT, request_id="warm")
        reports = await alerts._gather_health()
        stats = next(r for r in reports if r.name == "stats")
        assert (
            stats.requests >= 1
            and stats.busy_s > 0
            and {"stats", "trainer", "alerts"} <= {r.name for r in reports}
        )
        base = msgspec.structs.replace(stats, instance="s1")
        for i in range(5):  # 10 requests per round at 1 ms, then one round at 50 ms
            assert (
                await alerts.check_ops([msgspec.structs.replace(base, requests=10 * i, busy_s=0.01 * i)]) == 0
            )
        spike = msgspec.structs.replace(base, requests=50, busy_s=0.04 + 0.5)
        assert await alerts.check_ops([spike]) == 1
        with anyio.fail_after(WAIT):
            while alerts.stored < 1:
                await alerts.changed.wait()
        listed = await call(bus, ep.ALERTS_LIST, AlertsRequest(), timeout_s=WAIT, request_id="ops")
        assert [a.key for a in listed.alerts] == ["ops.latency_ms.stats"]
        assert listed.alerts[0].numbers["value"] == pytest.approx(50.0)
