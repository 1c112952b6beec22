"""What the stdio benchmarks share: servers as child processes, fair floors, interleaved rounds.

- ``open_server`` starts an MCP server over stdio with the SDK's own client and
  returns its session and process id (so its CPU time can be read).
- ``capture`` records what a real tool returns and the output schema it
  publishes; ``bench/floor_server.py`` serves those captures back from bare
  tools: the **fair floor** (the SDK's and the client's cost for a result of that
  size and shape, the client's jsonschema validation included) beside the **bare
  floor** (an ``async def`` tool that returns nothing).
- ``measure`` runs every case in blocks of ``n`` calls, round after round, the
  order rotated each round, so that the machine's load hits floors and tools
  alike. Each block records the wall time of each call and the CPU time per call
  of the client (this process) and of the server's processes.
- ``Report`` turns several runs into one table: per case the median over a run's
  rounds, then the median of the runs with their range, and ratios to the
  floors computed within each round (same moment, same load).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The data, as the Makefile and the tests find it: NBAMCP_DATA_DIR, else ../shared/data.
DATA_DIR = Path(os.environ.get("NBAMCP_DATA_DIR") or REPO.parent / "shared" / "data").resolve()
FLOOR_SERVER = BENCH / "floor_server.py"

Call = Callable[[], Awaitable[object]]


# ---- processes ---------------------------------------------------------------------------------------
def threads_cpu(pid: int) -> dict[int, int]:
    """Run time so far (ns) of each live thread of a process (``/proc/PID/task/*/schedstat``)."""
    out: dict[int, int] = {}
    with contextlib.suppress(OSError):  # the process has gone
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[int(task.name)] = int((task / "schedstat").read_text().split()[0])
    return out


class CpuMeter:
    """CPU time spent by a set of processes between ``start`` and ``seconds()``, ns resolution.

    ``/proc/PID/stat`` counts in 10 ms ticks, too coarse for calls of a few ms, so each
    thread's run time is read instead and compared thread by thread: a thread that
    exits meanwhile (an idle worker thread of anyio's pool) takes only its last moments
    with it, instead of making the sum go backwards. ``None`` is this process
    (``time.process_time``).
    """

    def __init__(self, pids: Sequence[int | None]) -> None:
        self.pids = list(pids)
        self._before: list[dict[int, int] | float] = []

    def _read(self) -> list[dict[int, int] | float]:
        return [time.process_time() if p is None else threads_cpu(p) for p in self.pids]

    def start(self) -> CpuMeter:
        self._before = self._read()
        return self

    def seconds(self) -> float:
        total = 0.0
        for before, after in zip(self._before, self._read(), strict=True):
            if isinstance(before, float) and isinstance(after, float):
                total += after - before
            elif isinstance(before, dict) and isinstance(after, dict):
                total += sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9
        return total


def children() -> set[int]:
    """Process ids of this process's direct children."""
    me = str(os.getpid())
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == me:
                    out.add(int(entry.name))
    return out


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    session: ClientSession
    pid: int
    helpers: list[int] = field(default_factory=list)  # other processes working for it (workers, NATS)

    def pids(self) -> list[int]:
        return [self.pid, *self.helpers]


@contextlib.asynccontextmanager
async def open_server(params: StdioServerParameters, helpers: Sequence[int] = ()) -> AsyncIterator[Server]:
    before = children()
    async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
        (pid,) = children() - before
        await session.initialize()
        await session.list_tools()  # the client validates results against the listed output schemas
        yield Server(session, pid, list(helpers))


def python_params(*args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=list(args), env=env, cwd=str(REPO))


def floor_params(captures: Path) -> StdioServerParameters:
    return python_params(str(FLOOR_SERVER), str(captures))


def tool_call(session: ClientSession, name: str, args: Callable[[], dict[str, Any]]) -> Call:
    async def call() -> object:
        result = await session.call_tool(name, args())
        if result.is_error:
            raise SystemExit(f"{name} failed: {result.content}")
        return result

    return call


# ---- fair floors -----------------------------------------------------------------------------------
async def capture(session: ClientSession, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """What ``tool`` returns for ``args`` and the output schema it publishes (JSON-ready)."""
    schema = next((t.output_schema for t in (await session.list_tools()).tools if t.name == tool), None)
    result = await session.call_tool(tool, args)
    if result.is_error:
        raise SystemExit(f"{tool} failed while capturing: {result.content}")
    return {"schema": schema, "result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}


def write_captures(path: Path, captures: dict[str, dict[str, Any]]) -> Path:
    path.write_text(json.dumps(captures))
    return path


def fair_name(case: str) -> str:
    """The floor server's tool for a captured case."""
    return "fair_" + "".join(c if c.isalnum() or c in "_-" else "_" for c in case)


# ---- measuring -------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    call: Call
    server: Server | None  # whose processes' CPU counts (None: in this process only)
    args: Callable[[], dict[str, Any]] | None = None


@dataclass
class Block:
    """One case's ``n`` calls in one round."""

    wall_ms: list[float]
    server_cpu_ms: float  # per call, the server's processes
    client_cpu_ms: float  # per call, this process

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu_ms + self.client_cpu_ms


@dataclass
class Run:
    blocks: dict[str, list[Block]]  # case -> one block per round
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    extra: dict[str, Any] = field(default_factory=dict)  # figures a benchmark adds (throughput, RSS)


async def block(case: Case, n: int) -> Block:
    server = CpuMeter(case.server.pids() if case.server is not None else []).start()
    client = CpuMeter([None]).start()
    wall = []
    for _ in range(n):
        t0 = time.perf_counter()
        await case.call()
        wall.append((time.perf_counter() - t0) * 1e3)
    return Block(wall, server.seconds() * 1e3 / n, client.seconds() * 1e3 / n)


async def measure(cases: Sequence[Case], *, rounds: int, n: int, warmup: int = 20) -> Run:
    """Every case ``n`` calls per round, ``rounds`` rounds, the order rotated each round."""
    load_before = os.getloadavg()
    for case in cases:
        for _ in range(warmup):
            await case.call()
    blocks: dict[str, list[Block]] = {c.name: [] for c in cases}
    for r in range(rounds):
        k = r % len(cases)
        for case in [*cases[k:], *cases[:k]]:
            blocks[case.name].append(await block(case, n))
    return Run(blocks, load_before, os.getloadavg())


# ---- reporting -------------------------------------------------------------------------------------
def _spread(values: Sequence[float], fmt: str) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def ratio(run: Run, case: str, base: str, *, cpu: bool = False) -> float:
    """Median over the rounds of case / base, each round compared with itself."""
    pairs = zip(run.blocks[case], run.blocks[base], strict=True)
    if cpu:
        return statistics.median(a.cpu_ms / b.cpu_ms for a, b in pairs if b.cpu_ms > 0)
    return statistics.median(a.median_ms / b.median_ms for a, b in pairs)


def run_median(run: Run, case: str, what: Callable[[Block], float]) -> float:
    return statistics.median(what(b) for b in run.blocks[case])


@dataclass
class Report:
    runs: list[Run]
    rounds: int
    n: int

    def header(self) -> str:
        loads = ", ".join(f"{r.load_before[0]:.1f}->{r.load_after[0]:.1f}" for r in self.runs)
        return (
            f"{len(self.runs)} run(s) x {self.rounds} interleaved rounds x {self.n} calls per case; "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; load average (1 min) "
            f"before->after each run: {loads}. Cells: median of the runs [min-max], each run's "
            "value the median of its rounds; ratios are taken within each round."
        )

    def over_runs(self, fn: Callable[[Run], float], fmt: str = ".2f") -> str:
        return _spread([fn(r) for r in self.runs], fmt)

    def table(self, rows: Sequence[tuple[str, str, dict[str, str]]], titles: Sequence[str]) -> str:
        """``rows``: (case, label, {title: base case}); a row is compared with each base it names."""
        cols = ["case", "wall ms", "server CPU ms/call", "client CPU ms/call"]
        for title in titles:
            cols += [f"x {title} (wall)", f"x {title} (CPU)"]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for case, label, bases in rows:
            cells = [
                label,
                self.over_runs(lambda r, c=case: run_median(r, c, lambda b: b.median_ms)),
                self.over_runs(lambda r, c=case: run_median(r, c, lambda b: b.server_cpu_ms)),
                self.over_runs(lambda r, c=case: run_median(r, c, lambda b: b.client_cpu_ms)),
            ]
            for title in titles:
                base = bases.get(title)
                if base is None:
                    cells += ["", ""]
                    continue
                cells.append(self.over_runs(lambda r, c=case, b=base: ratio(r, c, b)))
                cells.append(self.over_runs(lambda r, c=case, b=base: ratio(r, c, b, cpu=True)))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
