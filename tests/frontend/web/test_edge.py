"""The edge over real HTTP: Origin/Host checks, body and session limits, health probes, /metrics."""

from __future__ import annotations

from pathlib import Path

import anyio
from prometheus_client.parser import text_string_to_metric_families

from tests.frontend.web.harness import INIT, MCP_HEADERS, WAIT, call, mcp_session, serving


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_evil_origin_and_host_are_refused(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir) as h, h.http(h.key("alice", "read,metrics")) as http:
            r = await http.post("/mcp", json=INIT, headers=MCP_HEADERS | {"Origin": "http://evil.example"})
            assert r.status_code == 403
            assert (await http.get("/metrics", headers={"Origin": "https://evil.example"})).status_code == 403
            assert (await http.get("/metrics", headers={"Host": "evil.example"})).status_code == 421
            same = {"Origin": h.url}
            assert (await http.post("/mcp", json=INIT, headers=MCP_HEADERS | same)).status_code == 200
            assert (await http.get("/healthz", headers={"Host": "10.1.2.3:8000"})).status_code == 200


async def test_a_non_loopback_bind_checks_hosts_too(home: Path, data_dir: Path) -> None:
    # The harness listens on loopback; the checks come from server.allowed_hosts, as on any bind.
    server = {"allowed_hosts": ["nba.example.com"], "allowed_origins": ["https://app.example.com"]}
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, server=server) as h, h.http(h.key("alice", "read")) as http:
            ok = MCP_HEADERS | {"Host": "nba.example.com"}
            assert (await http.post("/mcp", json=INIT, headers=ok)).status_code == 200
            assert (await http.post("/mcp", json=INIT, headers=MCP_HEADERS)).status_code == 421  # 127.0.0.1
            evil = ok | {"Origin": "https://evil.example"}
            assert (await http.post("/mcp", json=INIT, headers=evil)).status_code == 403
            app = ok | {"Origin": "https://app.example.com"}
            assert (await http.post("/mcp", json=INIT, headers=app)).status_code == 200


async def test_body_limit(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with (
            serving(home, data_dir, server={"max_body_bytes": 4096}) as h,
            h.http(h.key("alice", "read")) as http,
        ):
            big = INIT | {"padding": "x" * 5000}
            assert (await http.post("/mcp", json=big, headers=MCP_HEADERS)).status_code == 413
            assert (await http.post("/mcp", json=INIT, headers=MCP_HEADERS)).status_code == 200


async def test_sessions_per_client(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, server={"max_sessions_per_client": 2}) as h:
            alice, bob = h.key("alice", "read"), h.key("bob", "read")
            async with h.http(alice) as a, h.http(bob) as b:
                sids = [
                    (await a.post("/mcp", json=INIT, headers=MCP_HEADERS)).headers["mcp-session-id"]
                    for _ in "12"
                ]
                r = await a.post("/mcp", json=INIT, headers=MCP_HEADERS)
                assert r.status_code == 429 and "too_many_sessions" in r.text
                assert (
                    await b.post("/mcp", json=INIT, headers=MCP_HEADERS)
                ).status_code == 200  # others unaffected
                r = await a.delete("/mcp", headers=MCP_HEADERS | {"mcp-session-id": sids[0]})
                assert r.status_code == 200
                assert (await a.post("/mcp", json=INIT, headers=MCP_HEADERS)).status_code == 200
                # An idle session stops counting after server.session_idle_timeout_s (here: moved clock).
                h.clock.t += h.config.server.session_idle_timeout_s + 1
                assert (await a.post("/mcp", json=INIT, headers=MCP_HEADERS)).status_code == 200


async def test_health_probes_say_only_ok_or_what_fails(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, workers=("stats", "usage")) as h, h.http() as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            r = await http.get("/readyz")
            assert (r.status_code, r.json()) == (200, {"status": "ready"})
            await h.actors[0].stop()
            h.clock.t += 10  # past the readiness cache
            r = await http.get("/readyz")
            assert (r.status_code, r.json()) == (503, {"status": "not ready", "failing": "stats"})
        async with serving(home, data_dir, workers=("stats", "usage", "inference")) as h, h.http() as http:
            r = await http.get("/readyz")  # no champion in this registry: the Elo baseline is not "a model"
            assert (r.status_code, r.json()) == (503, {"status": "not ready", "failing": "model"})


async def test_metrics_move_with_calls_and_need_a_metrics_or_admin_key(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir) as h:
            watcher, reader = h.key("prom", "metrics"), h.key("alice", "read")
            async with h.http(watcher) as http:
                before = samples((await http.get("/metrics")).text)
                async with mcp_session(h, reader) as s:
                    for _ in range(3):
                        assert not (await call(s, "find_player", query="jokic"))[0]
                    assert (await call(s, "train_model"))[0]  # forbidden
                after = samples((await http.get("/metrics")).text)
            async with h.http(reader) as http:
                assert (await http.get("/metrics")).status_code == 403

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("nbamcp_tool_calls_total", tool="find_player", code="ok") == 3
    assert delta("nbamcp_tool_calls_total", tool="train_model", code="forbidden") == 1
    assert delta("nbamcp_tool_latency_seconds_count", tool="find_player") == 3
    assert delta("nbamcp_bus_requests_total", subject="nba.stats.find_player", outcome="ok") == 3
    assert delta("nbamcp_bus_latency_seconds_count", subject="nba.stats.find_player") == 3
    assert delta("nbamcp_worker_messages_total", actor="stats", outcome="ok") >= 3
    assert delta("nbamcp_tenant_calls_total", tenant="alice", tool="find_player") == 3
    assert delta("nbamcp_tenant_units_total", tenant="alice") == 3
    assert delta("nbamcp_http_requests_total", route="/mcp", status="200") >= 4
