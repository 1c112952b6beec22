"""`nbamcp serve` over HTTP/SSE as an operator runs it: first-start key, CLI keys, quiet stops, unsafe binds
refused, one trace across processes (JSON log lines parsed), worker metrics."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.procs import make_key, nbamcp_proc, server_env
from tests.e2e.test_transports import free_port
from tests.frontend.web.harness import INIT, MCP_HEADERS

TIMEOUT = 90
TOKEN = re.compile(r"nba_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_first_start_key_then_cli_keys(home: Path, data_dir: Path) -> None:
    port, env = free_port(), server_env(home, data_dir)
    url = f"http://127.0.0.1:{port}"
    with anyio.fail_after(TIMEOUT):
        async with nbamcp_proc(env, "serve", "--transport", "http", "--port", str(port)) as server:
            banner = await server.wait_for("nba_")
            await server.wait_for("Uvicorn running on")
            (admin,) = TOKEN.findall(banner)
            created = cli(env, "keys", "create", "--tenant", "alice", "--scopes", "read", "--burst", "5")
            assert created.returncode == 0, created.stderr
            alice = TOKEN.findall(created.stdout)[0]
            async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
                for token in (admin, alice):
                    auth = MCP_HEADERS | {"Authorization": f"Bearer {token}"}
                    assert (await http.post("/mcp", json=INIT, headers=auth)).status_code == 200
                listed = json.loads(cli(env, "keys", "list", "--json").stdout)
                assert {(k["tenant"], ",".join(k["scopes"])) for k in listed} == {
                    ("admin", "read,predict,admin,metrics"),
                    ("alice", "read"),
                }
                assert all("sha256" not in k for k in listed)
                alice_id = next(k["id"] for k in listed if k["tenant"] == "alice")
                assert cli(env, "keys", "revoke", alice_id).returncode == 0
                auth = MCP_HEADERS | {"Authorization": f"Bearer {alice}"}
                assert (await http.post("/mcp", json=INIT, headers=auth)).status_code == 401
        # The key was printed once, in the banner, and in no log line.
        assert sum(admin in line for line in server.lines) == 1
        assert all(admin not in json.dumps(e) for e in server.events())
        assert any(e.get("event") == "auth.first_key_created" for e in server.events())
        assert admin not in (home / "keys.json").read_text()
        # A second start has keys: no new one, no banner.
        async with nbamcp_proc(env, "serve", "--transport", "http", "--port", str(port)) as again:
            await again.wait_for("Uvicorn running on")
        assert not any(TOKEN.search(line) for line in again.lines)
    assert cli(env, "keys", "revoke", "000000000000").returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stop_is_quiet_with_a_stream_open(home: Path, data_dir: Path, tmp_path: Path, sig: int) -> None:
    (home / "e2e.toml").write_text(
        (home / "e2e.toml").read_text() + "\n[server]\ngraceful_shutdown_s = 1.0\n"
    )
    port, env = free_port(), server_env(home, data_dir)
    token = make_key(home)
    out = tmp_path / "stdout"
    with anyio.fail_after(TIMEOUT):
        async with nbamcp_proc(env, "serve", "--transport", "sse", "--port", str(port), stdout=out) as server:
            await server.wait_for("Uvicorn running on")
            async with (
                httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
                http.stream("GET", "/sse", headers={"Authorization": f"Bearer {token}"}) as stream,
            ):
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        break  # the endpoint event: the stream is open
                code = await server.stop(sig)
    assert code == 0, "\n".join(server.lines)
    assert out.read_bytes() == b""  # stdout belongs to the stdio transport, even here
    assert server.lines and not any("Traceback" in line for line in server.lines)
    for line in server.lines:
        json.loads(line)  # uvicorn's lines too: every line is a JSON object
    events = [e["event"] for e in server.events()]
    assert "serve.stopped" in events and "Uvicorn running on" in " ".join(events)


def test_unsafe_binds_are_refused(home: Path, data_dir: Path) -> None:
    env = server_env(home, data_dir)
    no_auth = cli(env, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1", "--no-auth")
    assert no_auth.returncode == 2 and "--no-auth is accepted only on a loopback bind" in no_auth.stderr
    wild = cli(env, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1")
    assert wild.returncode == 2 and "server.allowed_hosts" in wild.stderr
    assert "Traceback" not in no_auth.stderr + wild.stderr


async def test_one_trace_through_front_end_and_worker_processes(
    home: Path, data_dir: Path, nats_server
) -> None:
    (home / "e2e.toml").write_text((home / "e2e.toml").read_text() + '\n[workers]\nembedded = ["stats"]\n')
    env = server_env(home, data_dir, NBAMCP_LOG_LEVEL="debug")
    port, metrics_port = free_port(), free_port()
    token = make_key(home, "tracer", "read")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    worker_args = ("worker", "stats", "--bus", nats_server.url, "--metrics-port", str(metrics_port))
    serve_args = ("serve", "--transport", "http", "--port", str(port), "--bus", nats_server.url)
    with anyio.fail_after(TIMEOUT):
        async with nbamcp_proc(env, *worker_args) as worker:
            await worker.wait_for('"actor.started"')
            async with nbamcp_proc(env, *serve_args) as front:
                await front.wait_for("Uvicorn running on")
                headers = {"Authorization": f"Bearer {token}", "traceparent": traceparent}
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=300)) as http,
                    streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (r, w),
                    ClientSession(r, w) as session,
                ):
                    await session.initialize()
                    result = await session.call_tool("find_player", {"query": "jokic"})
                    assert not result.is_error
                async with httpx2.AsyncClient(timeout=30) as http:
                    text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    calls = [e for e in front.events() if e.get("event") == "tool.call" and e.get("tool") == "find_player"]
    assert len(calls) == 1
    call = calls[0]
    assert (call["trace_id"], call["traceparent"], call["tenant"]) == (trace_id, traceparent, "tracer")
    handled = [
        e
        for e in worker.events()
        if e.get("event") == "actor.handled" and e.get("request_id") == call["request_id"]
    ]
    assert len(handled) == 1
    assert (handled[0]["trace_id"], handled[0]["traceparent"]) == (trace_id, traceparent)
    assert handled[0]["subject"] == "nba.stats.find_player" and handled[0]["tenant"] == "tracer"
    worker_ok = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "nbamcp_worker_messages_total" and s.labels == {"actor": "stats", "outcome": "ok"}
    ]
    assert worker_ok and worker_ok[0] >= 1
