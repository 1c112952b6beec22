"""Start-up: spawn -> handshake, health, first stats answer, first prediction of ``nbamcp serve``.

    .venv/bin/python bench/startup.py [--runs 3] [--home DIR] [--fresh-runs 1]

Warm start: bench/predict.py's prepared home (the 538 games ingested, a champion
registered). Each run spawns ``nbamcp serve`` in its default configuration (every worker
embedded) over stdio with the SDK's client and times, from the spawn: the MCP handshake
(``initialize``), the first ``health`` answer (at once: it reads the workers still
starting from the launcher's board), the first stats answer (``standings(2023)``: it waits
for the stats worker alone), and the first ``predict_game`` answered by the model (it
waits for the cache and inference workers); the server's CPU seconds until then.

Fresh home (``--fresh-runs``): an empty home each run, the data folder ingested on start:
the handshake, the first ``health`` and the first stats answer (after the ingestion).
``--first-model``: one more fresh home in the shipped configuration (the trainer trains a
first model on start), until ``predict_game`` is answered by that model (polled every 2 s).

Each nbamcp run is preceded by the floor: bench/floor_server.py (the SDK alone) spawned
and asked its ``noop`` tool, timed the same way. Median [min-max] over the runs, and the
load average. Results to stdout.

``--worker-times``: the warm runs log at info and the table gets, per embedded worker, when it
was up (from the spawn) and its wait, import and start from the launcher's
``serve.worker_ready`` lines: where the first prediction's time went.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import DATA_DIR, FLOOR_SERVER, CpuMeter, children, python_params
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from predict import env_for, nbamcp_params, prepare

Step = Callable[[ClientSession], Awaitable[Any]]


def _ok(name: str, check: Callable[[Any], bool] = lambda r: True) -> Step:
    async def step(session: ClientSession) -> Any:
        args: dict[str, Any] = {}
        if name == "standings":
            args = {"season": 2023}
        elif name == "predict_game":
            day = dt.date.today() + dt.timedelta(days=3)
            args = {"home": "BOS", "away": "LAL", "date": day.isoformat()}
        res = await session.call_tool(name, args)
        if res.is_error or not check(res):
            raise SystemExit(f"{name} did not answer as expected: {res.content}")
        return res

    return step


WARM: list[tuple[str, Step]] = [
    ("first health answered", _ok("health")),
    ("first stats answer (standings)", _ok("standings")),
    (
        "first predict_game answered by the model",
        _ok("predict_game", lambda r: (r.structured_content or {}).get("source") == "model"),
    ),
]
FRESH: list[tuple[str, Step]] = [
    ("first health answered", _ok("health")),
    ("first stats answer (standings, after the ingestion)", _ok("standings")),
]
FLOOR: list[tuple[str, Step]] = [("floor: noop answered", _ok("noop"))]
POLL_S = 2.0  # a bench may poll: the first model's arrival has no event a client can await
FIRST_MODEL_BOUND_S = 1800.0


async def _first_model(session: ClientSession) -> Any:
    deadline = time.monotonic() + FIRST_MODEL_BOUND_S
    predict = _ok("predict_game")
    while time.monotonic() < deadline:
        res = await predict(session)
        if (res.structured_content or {}).get("source") == "model":
            return res
        await asyncio.sleep(POLL_S)
    raise SystemExit(f"no model prediction within {FIRST_MODEL_BOUND_S:g}s")


FIRST_MODEL: list[tuple[str, Step]] = [
    *FRESH,
    ("first predict_game answered by the model (trained on start)", _first_model),
]


async def one(
    params: StdioServerParameters, steps: list[tuple[str, Step]], *, worker_times: bool = False
) -> dict[str, float]:
    before = children()
    t0 = time.perf_counter()
    wall0 = time.time()
    out: dict[str, float] = {}
    with tempfile.TemporaryFile("w+") as err:
        errlog = err if worker_times else sys.stderr
        async with stdio_client(params, errlog=errlog) as (r, w), ClientSession(r, w) as session:
            (pid,) = children() - before
            cpu = CpuMeter([pid]).start()
            await session.initialize()
            out["MCP handshake answered"] = time.perf_counter() - t0
            for label, step in steps:
                await step(session)
                out[label] = time.perf_counter() - t0
            out["server CPU until then, s"] = cpu.seconds()
        if worker_times:
            err.seek(0)
            out |= _worker_times(err.read(), wall0)
    return out


def _worker_times(log: str, wall0: float) -> dict[str, float]:
    """Per worker: up at (from the spawn), and its wait, import and start (the launcher's log)."""
    out: dict[str, float] = {}
    for line in log.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") != "serve.worker_ready":
            continue
        at = dt.datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp() - wall0
        name = rec["worker"]
        out[f"{name}: up at"] = at
        for part in ("waited_s", "import_s", "start_s"):
            out[f"{name}: {part.removesuffix('_s')}"] = float(rec[part])
    return out


def table(results: list[dict[str, float]]) -> list[str]:
    lines = ["| from spawn | seconds |", "|---|---|"]
    for key in results[0]:
        xs = [r[key] for r in results if key in r]
        lines.append(f"| {key} | {statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}] |")
    return lines


async def run(
    home: Path, data_dir: Path, runs: int, fresh_runs: int, first_model: bool, worker_times: bool = False
) -> str:
    load = os.getloadavg()[0]
    floor = python_params(str(FLOOR_SERVER))
    floors: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    fresh: list[dict[str, float]] = []
    for _ in range(runs):
        floors.append(await one(floor, FLOOR))
        env = env_for(home, data_dir)
        if worker_times:
            env["NBAMCP_LOG_LEVEL"] = "info"  # the launcher's serve.worker_ready lines
        warm.append(await one(nbamcp_params(env), WARM, worker_times=worker_times))
    for _ in range(fresh_runs):
        floors.append(await one(floor, FLOOR))
        with tempfile.TemporaryDirectory(prefix="nbamcp-fresh-") as empty:
            fresh.append(await one(nbamcp_params(env_for(Path(empty), data_dir)), FRESH))
    trained: list[dict[str, float]] = []
    if first_model:
        with tempfile.TemporaryDirectory(prefix="nbamcp-fresh-") as empty:
            env = env_for(Path(empty), data_dir)
            shipped = '[log]\nlevel = "warning"\n'  # auto_train as shipped
            await asyncio.to_thread(Path(env["NBAMCP_CONFIG"]).write_text, shipped)
            trained.append(await one(nbamcp_params(env), FIRST_MODEL))
    lines = [f"load average (1 min) {load:.1f} -> {os.getloadavg()[0]:.1f}", ""]
    lines += [f"Floor (bench/floor_server.py, the SDK alone), {len(floors)} runs:", "", *table(floors), ""]
    lines += [f"Warm start (an ingested home with a champion), {runs} runs:", "", *table(warm)]
    if fresh:
        title = f"Fresh home (the data folder ingested on start), {fresh_runs} runs:"
        lines += ["", title, "", *table(fresh)]
    if trained:
        lines += ["", "Fresh home, the default configuration (a first model trained on start):", ""]
        lines += table(trained)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fresh-runs", type=int, default=1, help="starts on an empty home (each ingests)")
    ap.add_argument(
        "--first-model", action="store_true", help="also: a fresh home until the first model answers"
    )
    ap.add_argument("--home", type=Path, help="bench/predict.py's prepared home (created when missing)")
    ap.add_argument("--worker-times", action="store_true", help="per worker: up at, wait, import, start")
    a = ap.parse_args()
    data_dir = DATA_DIR
    with contextlib.ExitStack() as stack:
        home = a.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbamcp-start-")))
        prepare(home, data_dir, 1947)
        print(asyncio.run(run(home, data_dir, a.runs, a.fresh_runs, a.first_model, a.worker_times)))


if __name__ == "__main__":
    main()
