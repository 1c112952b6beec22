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
3. Then: every answered request id is in the prediction log exactly once per game answered, and
   nothing else is.
4. SIGTERM mid-load: six new MCP clients (one connection each) call back to back; the supervisor
   gets SIGTERM while they do (it stops the front end first, which drains the calls in flight). Every call is
   answered, refused with ``unavailable: the server is shutting down``, or ends in a transport
   close the client sees at once (a connection refused); none outlives its deadline; the front end
   drained everything; the supervisor exits 0 with no SIGKILL; the log holds every answered game
   exactly once, nothing else.
5. Restart on the same homes (a warm start: the trainer's v1, JetStream's store): the time from the
   start to health ok and to the first model answer is printed; the log is still exact (nothing
   replayed twice) with the new answers in it; the final SIGTERM stops everything, exit 0.

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
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.e2e.procs import Proc, make_key, served_rows, supervise_proc

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
# At the SIGTERM: more clients, each on its own connection, calling back to back, after
# BEFORE_SIGTERM answers each on average; slates of SIGTERM_GAMES, so that a call spends most of its
# time at the server, not in the client's checks (with 3 games none was in flight at the front end).
STOPPING_CLIENTS, BEFORE_SIGTERM, SIGTERM_GAMES = 6, 3, 100
SHUTTING_DOWN = "unavailable: the server is shutting down"
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

    def slate(self, games: int = GAMES) -> list[dict[str, str]]:
        out = []
        for _ in range(games):
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


async def _all_logged(sup: Proc, db: Path, answered: dict[str, int]) -> dict[str, int]:
    """The log once it holds every answered game (each predlog batch is a chance), or what it holds."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            mark = len(sup.lines)
            if sum(served_rows(db).values()) >= sum(answered.values()):
                return served_rows(db)
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
        for record in _records([line for sup in kept for line in sup.lines]):
            if str(record.get("event", "")).startswith("supervise.") or record.get("level") in (
                "warning",
                "error",
            ):
                print(json.dumps(record)[:400])
        raise
    print("\n" + "\n".join(report))


@asynccontextmanager
async def _session(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """One MCP client over streamable HTTP with its own connection pool."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(TIMEOUT, read=TIMEOUT)) as http,
        streamable_http_client(url, http_client=http) as (r, w, *_),
        ClientSession(r, w) as session,
    ):
        await session.initialize()
        yield session


@dataclass
class Shutdown:
    """The SIGTERM's side of the load: when it was sent, and what became of each call after it."""

    answered_before: asyncio.Event = field(default_factory=asyncio.Event)
    signalled_at: float = 0.0
    answered_after: int = 0  # calls answered after the signal
    in_flight_answered: int = 0  # of those, calls sent before it
    in_flight_failed: int = 0  # calls sent before it, refused or cut by the close
    refused: int = 0  # SHUTTING_DOWN
    closed: dict[str, int] = field(default_factory=dict)  # how each client saw its transport end
    first_close_s: float = 0.0  # from the signal to the first close a client saw
    started: int = 0  # clients connected
    answers: int = 0
    slowest_s: float = 0.0

    def saw_close(self, how: str) -> None:
        self.closed[how] = self.closed.get(how, 0) + 1
        self.first_close_s = self.first_close_s or time.monotonic() - self.signalled_at


async def _until_closed(url: str, headers: dict[str, str], load: Load, down: Shutdown) -> None:
    """A client calling back to back until the SIGTERM, then paced, until the server is gone.

    The SDK reports a server that went away by failing the transport (its task group ends with the
    connection error and cancels the call waiting in it): that is the clean close this waits for.
    """
    calling = 0.0  # when the call waiting now was sent
    try:
        async with _session(url, headers) as session:
            down.started += 1
            for _ in range(MAX_CALLS):
                slate = {"games": load.slate(SIGTERM_GAMES)}
                started = calling = time.monotonic()
                try:
                    async with asyncio.timeout(DEADLINE_S + SLACK_S):
                        err, out, text = await _call(session, "predict_games", slate)
                    calling = 0.0
                except MCPError as exc:  # a JSON-RPC error (the HTTP layer refusing): coded
                    assert down.signalled_at, f"before the SIGTERM: {exc!r}"
                    down.in_flight_failed += started < down.signalled_at
                    down.saw_close(f"MCPError {exc.error.code}: {exc.error.message}")
                    return
                took = time.monotonic() - started
                load.calls += 1
                down.slowest_s = max(down.slowest_s, took)
                if err:
                    assert down.signalled_at and text.startswith(SHUTTING_DOWN), text
                    down.refused += 1
                    down.in_flight_failed += started < down.signalled_at
                    load.errors["unavailable"] = load.errors.get("unavailable", 0) + 1
                else:
                    load.answered[out["request_id"]] = len(out["predictions"])
                    down.answers += 1
                    if down.signalled_at:
                        down.answered_after += 1
                        down.in_flight_answered += started < down.signalled_at
                    elif (
                        down.started == STOPPING_CLIENTS and down.answers >= BEFORE_SIGTERM * STOPPING_CLIENTS
                    ):
                        down.answered_before.set()
                if down.signalled_at:
                    await asyncio.sleep(PACE_S)  # after the signal, paced: a client backing off
            raise AssertionError(f"the server still answered after {MAX_CALLS} calls")
    except* httpx2.TransportError as group:
        assert down.signalled_at, f"before the SIGTERM: {group.exceptions!r}"
        down.saw_close(type(group.exceptions[0]).__name__)
        down.in_flight_failed += 0 < calling < down.signalled_at


async def _run(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], report: list[str], kept: list[Proc]
) -> None:
    homes = Path(env["NBAMCP_HOME"])
    url = f"http://127.0.0.1:{env['HTTP_PORT']}/mcp"
    headers = {"Authorization": f"Bearer {make_key(homes / 'frontend')}"}
    db = homes / "predlog" / "predlog.sqlite"
    async with supervise_proc(env, *args, stop_timeout=TIMEOUT) as sup:
        kept.append(sup)
        async with AsyncExitStack() as stack:
            load, serving = await _cold_start_and_kills(sup, stack, url, headers, db, report)
        # The kill clients' sessions are closed: the SIGTERM meets only the new ones.
        await _sigterm_mid_load(sup, url, headers, load, report)
        await _check_stopped(sup, serving)
    logged = served_rows(db)
    assert logged == load.answered, _diff(logged, load.answered)
    report.append(
        f"after the SIGTERM: {load.calls} calls, {len(load.answered)} answered "
        f"({sum(load.answered.values())} games): each in the prediction log once per game, nothing else"
    )

    # ---- the same deployment again, on the same homes ----
    restart_at = time.monotonic()
    async with supervise_proc(env, *args, stop_timeout=TIMEOUT) as again:
        kept.append(again)
        await again.wait_for("Uvicorn running on", TIMEOUT)
        listening_at = time.monotonic()
        async with _session(url, headers) as session:
            async with asyncio.timeout(TIMEOUT):
                while True:  # each look waits (bounded) for the workers still starting
                    err, health, text = await _call(session, "health", {"wait_s": 60.0})
                    if not err and health["status"] == "ok" and health["missing"] == []:
                        break
                    await asyncio.sleep(PACE_S)  # settled but not ok: pacing the next look
            ready_at = time.monotonic()
            after = Load(games=load.games)
            for _ in range(MAX_CALLS):
                err, out, text = await _predict(session, after)
                if not err and {p["source"] for p in out["predictions"]} == {"model"}:
                    break
                await asyncio.sleep(PACE_S)  # pacing the client, as in the load
            else:
                raise AssertionError(f"no model answer within {MAX_CALLS} calls after the restart: {text}")
            model_at = time.monotonic()
        trained = [e for e in again.events() if e.get("event") == "trainer.job_done"]
        assert not trained, trained  # v1 survived the restart: nothing trained again
        load.answered |= after.answered
        logged = await _all_logged(again, db, load.answered)
        assert logged == load.answered, _diff(logged, load.answered)
        report.append(
            f"restart on the same homes: front end listening {listening_at - restart_at:.1f}s, health ok "
            f"{ready_at - restart_at:.1f}s, first model answer {model_at - restart_at:.1f}s after the start "
            f"({after.calls} calls, errors {after.errors}); prediction log still exact "
            f"({sum(load.answered.values())} games, nothing replayed twice)"
        )
        stop_started = time.monotonic()
        code = await again.stop(signal.SIGTERM, timeout=TIMEOUT)
        report.append(
            f"final SIGTERM (no load): everything stopped in {time.monotonic() - stop_started:.1f}s"
        )
    assert code == 0, "\n".join(again.lines[-30:])
    assert not [e for e in again.events() if e.get("event") in ("supervise.crash_loop", "supervise.killed")]
    report.append(f"the restart, its checks and its stop took {time.monotonic() - restart_at:.1f}s")


def _diff(logged: dict[str, int], answered: dict[str, int]) -> str:
    missing = {k: v for k, v in answered.items() if logged.get(k) != v}
    extra = {k: v for k, v in logged.items() if k not in answered}
    return f"answered but not logged as answered: {missing}; logged, never answered: {extra}"


async def _sigterm_mid_load(
    sup: Proc, url: str, headers: dict[str, str], load: Load, report: list[str]
) -> None:
    """SIGTERM to the supervisor while STOPPING_CLIENTS clients call; wait for every process to be gone."""
    down = Shutdown()
    mark = len(sup.lines)
    clients = [asyncio.create_task(_until_closed(url, headers, load, down)) for _ in range(STOPPING_CLIENTS)]
    try:
        async with asyncio.timeout(TIMEOUT):
            await down.answered_before.wait()
        down.signalled_at = time.monotonic()
        wall = dt.datetime.now(dt.UTC)
        sup.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*clients)
            code = await sup.proc.wait()
        stopped_s = time.monotonic() - down.signalled_at
    finally:
        for task in clients:
            task.cancel()
    assert code == 0, "\n".join(sup.lines[-30:])
    assert sum(down.closed.values()) == STOPPING_CLIENTS, down
    relayed = await sup.wait_event("supervise.signal", TIMEOUT, after=mark)
    got = await sup.wait_event("process.signal", TIMEOUT, lambda e: e["proc"] == "frontend.1", after=mark)
    draining = await sup.wait_event("serve.draining", TIMEOUT, after=mark)
    drained = await sup.wait_event("serve.drained", TIMEOUT, after=mark)
    assert drained["still_running"] == 0, drained  # nothing cut off by the drain's bound

    def since(record: dict[str, Any]) -> str:
        return f"{(dt.datetime.fromisoformat(str(record['timestamp'])) - wall).total_seconds():+.3f}s"

    report.append(
        f"SIGTERM mid-load: the supervisor had it {since(relayed)}, the front end {since(got)}, drained "
        f"{since(drained)} after the send; {draining['inflight']} calls in flight at the front end, "
        f"{down.answered_after} answered after the signal ({down.in_flight_answered} sent before it; "
        f"{down.in_flight_failed} sent before it failed), "
        f"{down.refused} refused ({SHUTTING_DOWN}), "
        f"transports closed {down.closed} (first {down.first_close_s:.2f}s after the signal); slowest "
        f"call {down.slowest_s:.2f}s; the supervisor stopped all ten processes, exit 0, in {stopped_s:.1f}s"
    )


async def _check_stopped(sup: Proc, serving: int) -> None:
    events = sup.events()
    assert not [e for e in events if e.get("event") in ("supervise.crash_loop", "supervise.killed")]
    # Once serving, only the kills ended a process before the stop.
    exits = [r["proc"] for r in _records(sup.lines[serving:]) if r.get("event") == "supervise.exited"]
    assert sorted(exits) == sorted(f"{n}.1" for n in KILLED)


async def _cold_start_and_kills(
    sup: Proc, stack: AsyncExitStack, url: str, headers: dict[str, str], db: Path, report: list[str]
) -> tuple[Load, int]:
    """Steps 1 to 3; returns the load so far and the supervisor's log line where serving began."""
    started_at = time.monotonic()
    # ---- cold start ----
    done = await sup.wait_event("trainer.job_done", TIMEOUT)
    trained_at = time.monotonic()
    assert done["version"] == 1 and done["promoted"], done
    await sup.wait_event(
        "inference.models", TIMEOUT, lambda e: str(e.get("champion", "")).startswith("game v1")
    )
    await sup.wait_for("Uvicorn running on", TIMEOUT)
    sessions = [await stack.enter_async_context(_session(url, headers)) for _ in range(CLIENTS)]
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
    # A process that exited by itself during the cold start (restarted, so not a failure here):
    # said, with its last warnings, errors and raw output, since nothing else would show it.
    for e in _records(sup.lines):
        if e.get("event") == "supervise.exited":
            report.append(f"during the cold start: {json.dumps(e)}")
            report += [
                f"  {json.dumps(r)[:300]}"
                for r in _records(sup.lines)
                if r.get("proc") == e["proc"]
                and (r.get("level") in ("warning", "error", "critical") or r.get("event") == "proc.output")
            ][-5:]

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
        new = await sup.wait_event("supervise.started", TIMEOUT, lambda e, p=proc: e["proc"] == p, after=mark)
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
    logged = await _all_logged(sup, db, load.answered)
    assert logged == load.answered
    report.append(
        f"{load.calls} calls, {len(load.answered)} answered ({sum(load.answered.values())} games, "
        f"by source {load.sources}), errors {load.errors}, slowest {load.slowest_s:.2f}s; "
        f"prediction log: every answered request id once per game, nothing else"
    )
    return load, serving
