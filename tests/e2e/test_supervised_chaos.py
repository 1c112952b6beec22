"""The repository's Procfile under `nbamcp supervise`: a cold start, then kill -9 of every worker.

One deployment, as the Procfile describes it (its own nats-server, eight workers, the front end over
streamable HTTP), every home empty but the front end's key:

1. Cold start: the stats worker ingests its data folder, the trainer trains (tiny budget) and
   promotes; the first model prediction is asked for as soon as inference says it loaded the
   champion, and must be a model prediction. The time from the end of training to it is printed.
2. Chaos: under a bounded load (two MCP clients, each a slate of 3 distinct games every 0.2 s,
   at most 300 per kill), each worker type in turn is killed with SIGKILL; the supervisor starts
   it again. After each: it is back (its ``actor.started``), ``health`` is ok with nothing
   missing, the model answers again; no call took longer than its deadline; every error was a
   coded one. The recovery times are printed.
3. At the end: every answered request id is in the prediction log exactly once per game answered,
   and nothing else is; the supervisor stops everything (no SIGKILL needed) and exits 0.

Before `nbamcp supervise`, under honcho, the first kill stopped the whole deployment.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import itertools
import json
import os
import signal
import socket
import sqlite3
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.procs import Proc, make_key, supervise_proc

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KILLED = ("stats", "trainer", "inference", "cache", "predlog", "monitor", "alerts", "usage")
FIRST, CUTOFF = 2019, "2023-03-20"
TIMEOUT = 300.0  # ten processes import their libraries on a shared, loaded 2-core machine
DEADLINE_S = 30.0  # server.call_deadline_s below: no call may take longer (plus the client's slack)
SLACK_S = 10.0
CLIENTS, GAMES = 2, 3
MAX_CALLS = 300  # per client and kill: the load is bounded whatever happens
PACE_S = 0.2  # between one client's calls: a steady load of at most ~10 calls/s, not a flood
TEAMS = ["BOS", "LAL", "MIA", "DEN", "PHX", "GSW", "NYK", "CHI", "DAL", "MIL", "SAC", "CLE"]
PAIRS = [(h, a) for h in TEAMS for a in TEAMS if h != a]
CONFIG = f"""
[trainer]
auto_train = true
budget = "tiny"
train_from = {FIRST}
valid_seasons = 1

[workers]
stop_deadline_s = 20.0

[server]
health_timeout_s = 15.0
call_deadline_s = {DEADLINE_S}

[limits]
rate_per_minute = 1000000.0
burst = 1000000
daily_quota = 0
http_requests_per_minute = 1000000.0
http_burst = 1000000
"""


def _free_ports(n: int, step: int = 1) -> int:
    """A base port such that base, base + step, ... (n of them) are free now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + step * n >= 65000:
            continue
        try:
            for i in range(n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + step * i))
        except OSError:
            continue
        return base
    raise AssertionError("no free ports")


def _cut_data(data_dir: Path, out: Path) -> None:
    src = data_dir / "games" / "games_538_1947_2023.csv"
    with src.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if int(r["season"]) >= FIRST and r["date"] <= CUTOFF]
        header = list(reader.fieldnames or [])
    (out / "games").mkdir(parents=True)
    with (out / "games" / "games.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


@dataclass
class Load:
    """Calls made, with their outcome and duration; every answer's request id and game count."""

    games: itertools.count[int] = field(default_factory=itertools.count)
    answered: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    slowest_s: float = 0.0
    calls: int = 0
    model_back_at: float = 0.0  # the first all-model answer once the killed worker was back

    def slate(self) -> list[dict[str, str]]:
        out = []
        for _ in range(GAMES):
            n = next(self.games)
            home, away = PAIRS[n % len(PAIRS)]
            out.append(
                {"home": home, "away": away, "date": str(dt.date(2023, 4, 1) + dt.timedelta(n // 132))}
            )
        return out


async def _call(session: ClientSession, tool: str, args: dict[str, Any]) -> tuple[bool, Any, str]:
    result = await session.call_tool(tool, args)
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    return bool(result.is_error), result.structured_content, text


async def _predict(session: ClientSession, load: Load) -> tuple[bool, Any, str]:
    """One slate, bounded: a call that outlives its deadline fails the test instead of hanging it."""
    started = time.monotonic()
    async with asyncio.timeout(2 * (DEADLINE_S + SLACK_S)):
        err, out, text = await _call(session, "predict_games", {"games": load.slate()})
    took = time.monotonic() - started
    load.calls += 1
    load.slowest_s = max(load.slowest_s, took)
    assert took <= DEADLINE_S + SLACK_S, f"a call took {took:.1f}s: {text[:200]}"
    if err:
        code = text.split(":", 1)[0]
        assert code in ("unavailable", "timeout"), text  # coded, never internal
        load.errors[code] = load.errors.get(code, 0) + 1
    else:
        load.answered[out["request_id"]] = len(out["predictions"])
        for p in out["predictions"]:
            load.sources[p["source"]] = load.sources.get(p["source"], 0) + 1
    return err, out, text


async def _client(session: ClientSession, load: Load, first: asyncio.Event, back: asyncio.Event) -> None:
    """Paced slates until the killed worker is back and two model answers came after it (bounded)."""
    model_after_back = 0
    last: Any = None
    for _ in range(MAX_CALLS):
        err, out, text = await _predict(session, load)
        last = text if err else out
        if not err:
            first.set()
        if back.is_set() and not err and {p["source"] for p in out["predictions"]} == {"model"}:
            model_after_back += 1
            load.model_back_at = load.model_back_at or time.monotonic()
            if model_after_back >= 2:
                return
        # Pacing the load generator (not waiting for a condition): calls keep coming during the
        # whole restart instead of a burst that ends before it.
        await asyncio.sleep(PACE_S)
    raise AssertionError(f"no model answer after the worker came back within {MAX_CALLS} calls: {last}")


def _records(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def _logged(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as con:
        return dict(
            con.execute("SELECT request_id, count(*) FROM predictions GROUP BY request_id").fetchall()
        )


async def _all_logged(sup: Proc, db: Path, answered: dict[str, int]) -> dict[str, int]:
    """The log once it holds every answered game (each predlog batch is a chance), or what it holds."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            mark = len(sup.lines)
            if sum(_logged(db).values()) >= sum(answered.values()):
                return _logged(db)
            await sup.wait_event("predlog.batch_written", TIMEOUT, after=mark)


async def test_cold_start_then_every_worker_killed_and_restarted(tmp_path: Path, data_dir: Path) -> None:
    data = tmp_path / "data"
    _cut_data(data_dir, data)
    (tmp_path / "chaos.toml").write_text(CONFIG)
    (tmp_path / "empty.env").write_text("")
    homes = tmp_path / "homes"
    (homes / "frontend").mkdir(parents=True)
    base = _free_ports(10, step=100)  # the Procfile's ten $PORTs
    taken = {base + 100 * i for i in range(10)}
    nats_port = next(p for p in iter(lambda: _free_ports(1), None) if p not in taken)
    http_port = next(p for p in iter(lambda: _free_ports(1), None) if p not in taken | {nats_port})
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {
        "NBAMCP_HOME": str(homes),
        "NBAMCP_DATA_DIR": str(data),
        "NBAMCP_CONFIG": str(tmp_path / "chaos.toml"),
        "NATS_PORT": str(nats_port),
        "HTTP_PORT": str(http_port),
    }
    args = (str(REPO / "Procfile"), "-p", str(base), "-e", str(tmp_path / "empty.env"))
    report: list[str] = []
    kept: list[Proc] = []
    try:
        await _run(tmp_path, env, args, report, kept)
    except BaseException:
        # What the supervisor saw, and every warning or error of the deployment (pytest shows it).
        for record in _records(kept[0].lines if kept else []):
            if str(record.get("event", "")).startswith("supervise.") or record.get("level") in (
                "warning",
                "error",
            ):
                print(json.dumps(record)[:400])
        raise
    print("\n" + "\n".join(report))


async def _run(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], report: list[str], kept: list[Proc]
) -> None:
    homes = Path(env["NBAMCP_HOME"])
    http_port = int(env["HTTP_PORT"])
    headers = {"Authorization": f"Bearer {make_key(homes / 'frontend')}"}
    async with AsyncExitStack() as stack:
        sup = await stack.enter_async_context(supervise_proc(env, *args, stop_timeout=TIMEOUT))
        kept.append(sup)
        started_at = time.monotonic()
        # ---- cold start ----
        done = await sup.wait_event("trainer.job_done", TIMEOUT)
        trained_at = time.monotonic()
        assert done["version"] == 1 and done["promoted"], done
        await sup.wait_event(
            "inference.models", TIMEOUT, lambda e: str(e.get("champion", "")).startswith("game v1")
        )
        await sup.wait_for("Uvicorn running on", TIMEOUT)
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT, read=TIMEOUT))
        )
        sessions = []
        for _ in range(CLIENTS):
            r, w, *_ = await stack.enter_async_context(
                streamable_http_client(f"http://127.0.0.1:{http_port}/mcp", http_client=http)
            )
            session = await stack.enter_async_context(ClientSession(r, w))
            await session.initialize()
            sessions.append(session)
        load = Load()
        err, first, text = await _predict(sessions[0], load)
        first_at = time.monotonic()
        assert not err and {p["source"] for p in first["predictions"]} == {"model"}, text
        assert not first["degraded"], text
        report.append(
            f"cold start: trained (v1 promoted) {trained_at - started_at:.1f}s after the start; first model "
            f"prediction {first_at - trained_at:.2f}s after training ended"
        )
        err, health, text = await _call(sessions[0], "health", {})
        assert not err and health["status"] == "ok" and health["missing"] == [], text
        serving = len(sup.lines)

        # ---- kill -9 each worker type under load ----
        for name in KILLED:
            proc = f"{name}.1"
            starts = [e for e in sup.events() if e.get("event") == "supervise.started" and e["proc"] == proc]
            pid = starts[-1]["pid"]
            before = Load(games=load.games)
            answering, back = asyncio.Event(), asyncio.Event()
            clients = [asyncio.create_task(_client(s, before, answering, back)) for s in sessions]
            await answering.wait()
            mark = len(sup.lines)
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            exited = await sup.wait_event(
                "supervise.exited", TIMEOUT, lambda e, p=proc: e["proc"] == p, after=mark
            )
            assert exited["signal"] == "SIGKILL", exited
            exited_at = time.monotonic()
            backoff = await sup.wait_event(
                "supervise.restarting", TIMEOUT, lambda e, p=proc: e["proc"] == p, after=mark
            )
            new = await sup.wait_event(
                "supervise.started", TIMEOUT, lambda e, p=proc: e["proc"] == p, after=mark
            )
            restarted_at = time.monotonic()
            await sup.wait_event("actor.started", TIMEOUT, lambda e, p=proc: e["proc"] == p, after=mark)
            up_at = time.monotonic()
            if name == "inference":
                await sup.wait_event(
                    "inference.models",
                    TIMEOUT,
                    lambda e, p=proc: e["proc"] == p and str(e.get("champion", "")).startswith("game v1"),
                    after=mark,
                )
            err, health, text = await _call(sessions[0], "health", {})
            ready_at = time.monotonic()
            assert not err and health["status"] == "ok" and health["missing"] == [], text
            back.set()
            await asyncio.gather(*clients)
            assert new["pid"] != pid
            load.answered |= before.answered
            load.calls += before.calls
            load.slowest_s = max(load.slowest_s, before.slowest_s)
            for k, v in before.errors.items():
                load.errors[k] = load.errors.get(k, 0) + v
            for k, v in before.sources.items():
                load.sources[k] = load.sources.get(k, 0) + v
            report.append(
                f"kill -9 {name}: exit seen {exited_at - killed_at:.2f}s, restarted (back-off "
                f"{backoff['in_s']}s) {restarted_at - killed_at:.2f}s, actor up in "
                f"{up_at - killed_at:.2f}s, health ok {ready_at - killed_at:.2f}s, model answers "
                f"{before.model_back_at - killed_at:.2f}s after the kill; "
                f"{before.calls} calls (answers by source {before.sources}, errors {before.errors}), "
                f"slowest {before.slowest_s:.2f}s"
            )

        # ---- every answered request id logged exactly once per game ----
        logged = await _all_logged(sup, homes / "predlog" / "predlog.sqlite", load.answered)
        assert logged == load.answered
        report.append(
            f"{load.calls} calls, {len(load.answered)} answered ({sum(load.answered.values())} games, "
            f"by source {load.sources}), errors {load.errors}, slowest {load.slowest_s:.2f}s; "
            f"prediction log: every answered request id once per game, nothing else"
        )
        stop_started = time.monotonic()
        code = await sup.stop(signal.SIGTERM, timeout=TIMEOUT)
        report.append(f"SIGTERM: everything stopped in {time.monotonic() - stop_started:.1f}s")
    events = sup.events()
    assert code == 0, "\n".join(sup.lines[-30:])
    assert not [e for e in events if e.get("event") in ("supervise.crash_loop", "supervise.killed")]
    # Once serving, only the kills ended a process before the stop.
    exits = [r["proc"] for r in _records(sup.lines[serving:]) if r.get("event") == "supervise.exited"]
    assert sorted(exits) == sorted(f"{n}.1" for n in KILLED)
