"""Rate limits under load: tenants at different limits hammer the HTTP front end at once.

A real ``nbamcp serve --transport http`` (its own process, every worker it needs embedded, keys
made with ``nbamcp keys create``) and, per tenant, one MCP session over streamable HTTP (the SDK's
client) with ``--callers`` concurrent callers calling a cheap tool (``list_models``, 1 unit) as fast
as they can for ``--seconds``. Every answer is counted: allowed, or refused with ``rate_limited:``.

A token bucket of ``burst`` units refilled at ``rate`` units per second, hit without pause from its
first admission at a0 to its last at a1, admits ``burst + rate * (a1 - a0)`` calls (the bucket is
created full at the first call, and under constant demand never fills up again). The client cannot
see a0 and a1, only that each lies within its call (start..end): the bench prints the range this
gives and checks that what was allowed is in it (within one unit). The raw-HTTP bucket is set out
of the way (``[limits] http_*``) so the tool-call buckets are what is measured.

    .venv/bin/python bench/ratelimit.py [--seconds 20] [--callers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[1]
TOOL = "list_models"


@dataclass(frozen=True)
class Tenant:
    name: str
    rate_per_minute: float
    burst: int


# Below what one tenant's callers can send here (~10 calls/s on 2 loaded cores), so each bucket is hit.
TENANTS = (Tenant("gold", 300.0, 20), Tenant("silver", 120.0, 10), Tenant("bronze", 30.0, 5))

CONFIG = """
[log]
level = "warning"
[stats]
auto_ingest = false
[trainer]
auto_train = false
[workers]
embedded = ["stats", "trainer", "usage"]
[limits]
http_requests_per_minute = 600000.0
http_burst = 100000
"""


@dataclass
class Tally:
    allowed: int = 0
    refused: int = 0
    other: list[str] = field(default_factory=list)
    # Each admission happens between its call's start and end: the first one between the earliest
    # start and the earliest end, the last one between the latest start and the latest end.
    first_start: float = float("inf")
    first_end: float = float("inf")
    last_start: float = 0.0
    last_end: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"nbamcp {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def make_key(env: dict[str, str], tenant: str, rate: float, burst: int) -> str:
    out = cli(
        env, "keys", "create", "--tenant", tenant, "--scopes", "read",
        "--rate-per-minute", str(rate), "--burst", str(burst), "--daily-quota", "0", "--json",
    )  # fmt: skip
    return str(json.loads(out)["key"])


async def until_up(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 120.0) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx2.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            await asyncio.sleep(0.1)  # a bench polling a process it started, not a test
    raise SystemExit("the server did not come up")


async def hammer(url: str, token: str, seconds: float, callers: int, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        stop_at = time.monotonic() + seconds

        async def caller() -> None:
            while time.monotonic() < stop_at:
                started = time.monotonic()
                result = await session.call_tool(TOOL, {})
                ended = time.monotonic()
                tally.first_start = min(tally.first_start, started)
                tally.first_end = min(tally.first_end, ended)
                tally.last_start = max(tally.last_start, started)
                tally.last_end = max(tally.last_end, ended)
                text = result.content[0].text if result.content and result.content[0].type == "text" else ""
                if not result.is_error:
                    tally.allowed += 1
                elif text.startswith("rate_limited:"):
                    tally.refused += 1
                else:
                    tally.other.append(text[:120])

        await asyncio.gather(*(caller() for _ in range(callers)))


async def measure(
    url: str, proc: subprocess.Popen[bytes], tokens: dict[str, str], seconds: float, callers: int
) -> tuple[dict[str, Tally], float]:
    await until_up(url, proc)
    await hammer(url, tokens["warmup"], 0.5, 1, Tally())  # the workers are up: calls no longer wait
    tallies = {t.name: Tally() for t in TENANTS}
    wall = time.monotonic()
    await asyncio.gather(*(hammer(url, tokens[t.name], seconds, callers, tallies[t.name]) for t in TENANTS))
    return tallies, time.monotonic() - wall


def run(seconds: float, callers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="nbamcp-ratelimit-") as tmp:
        home, config = Path(tmp) / "home", Path(tmp) / "bench.toml"
        config.write_text(CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
        env.update(NBAMCP_HOME=str(home), NBAMCP_CONFIG=str(config))
        tokens = {t.name: make_key(env, t.name, t.rate_per_minute, t.burst) for t in TENANTS}
        tokens["warmup"] = make_key(env, "warmup", 60000.0, 1000)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "nbamcp.cli", "serve", "--transport", "http", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            tallies, wall = asyncio.run(measure(url, proc, tokens, seconds, callers))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    rows = []
    for t in TENANTS:
        tally = tallies[t.name]
        rate = t.rate_per_minute / 60.0
        low = t.burst + rate * max(tally.last_start - tally.first_end, 0.0)
        high = t.burst + rate * (tally.last_end - tally.first_start)
        rows.append(
            {
                "tenant": t.name,
                "rate_per_minute": t.rate_per_minute,
                "burst": t.burst,
                "attempts": tally.allowed + tally.refused + len(tally.other),
                "allowed": tally.allowed,
                "refused": tally.refused,
                "other_errors": len(tally.other),
                "seconds": round(tally.last_end - tally.first_start, 2),
                "expected_low": round(low, 1),
                "expected_high": round(high, 1),
                "ok": low - 1 <= tally.allowed <= high + 1 and tally.refused > 0 and not tally.other,
                "first_other": tally.other[:1],
            }
        )
    return {"seconds": seconds, "callers_per_tenant": callers, "wall_s": round(wall, 2), "tenants": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--callers", type=int, default=4, help="concurrent callers per tenant")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    report = run(args.seconds, args.callers)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.seconds:g} s, {args.callers} callers per tenant, tool {TOOL} (1 unit)")
        print(f"{'tenant':8} {'rate/min':>8} {'burst':>5} {'attempts':>8} {'allowed':>7} {'refused':>7} "
              f"{'expected':>13} {'span s':>6}  check")  # fmt: skip
        for r in report["tenants"]:  # type: ignore[attr-defined]
            print(
                f"{r['tenant']:8} {r['rate_per_minute']:8g} {r['burst']:5d} {r['attempts']:8d} "
                f"{r['allowed']:7d} {r['refused']:7d} "
                f"{r['expected_low']:6.1f}-{r['expected_high']:<6.1f} {r['seconds']:6.2f}  "
                + ("ok" if r["ok"] else f"MISMATCH {r['first_other']}")
            )
    if not all(r["ok"] for r in report["tenants"]):  # type: ignore[attr-defined]
        sys.exit(1)


if __name__ == "__main__":
    main()
