"""The OpenTelemetry exporter (tracing.otlp_endpoint) sending one trace, HTTP to worker, to a real OTLP/HTTP
receiver that decodes the protobuf."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.procs import make_key, nbamcp_proc, server_env
from tests.e2e.test_transports import free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []
    got = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(body)
        type(self).got.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"bodies": [], "got": threading.Event()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


async def test_otlp_exporter_sends_one_trace_from_http_to_the_worker(
    home: Path, data_dir: Path, otlp_receiver: tuple[str, type[_Receiver]]
) -> None:
    endpoint, receiver = otlp_receiver
    config = home / "e2e.toml"
    config.write_text(
        config.read_text() + f'\n[workers]\nembedded = ["stats"]\n[tracing]\notlp_endpoint = "{endpoint}"\n'
    )
    port, env = free_port(), server_env(home, data_dir)
    token = make_key(home, "tracer", "read")
    with anyio.fail_after(90):
        async with nbamcp_proc(env, "serve", "--transport", "http", "--port", str(port)) as server:
            await server.wait_for("Uvicorn running on")
            headers = {"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=300)) as http,
                streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (r, w),
                ClientSession(r, w) as session,
            ):
                await session.initialize()
                assert not (await session.call_tool("find_player", {"query": "jokic"})).is_error
            assert await server.stop() == 0  # shutdown flushes the exporter's queue
    assert receiver.got.is_set()
    spans = {}
    for body in receiver.bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    if sp.trace_id.hex() == TRACE_ID:
                        spans[sp.span_id.hex()] = sp
    by_name = {sp.name: sp for sp in spans.values()}
    worker = by_name["stats nba.stats.find_player"]
    chain = [worker.name]
    node = worker
    while node.parent_span_id.hex() in spans:
        node = spans[node.parent_span_id.hex()]
        chain.append(node.name)
    # The worker's span hangs, through the tool and the SDK's MCP span, from the HTTP request's span,
    # whose parent is the client's.
    assert chain[0] == "stats nba.stats.find_player" and chain[-1] == "HTTP POST /mcp"
    assert "tool find_player" in chain and "tools/call find_player" in chain
    assert node.parent_span_id.hex() == PARENT
    logged = [e for e in server.events() if e.get("event") == "actor.handled"] or [
        e for e in server.events() if e.get("event") == "tool.call"
    ]
    assert all(e["trace_id"] == TRACE_ID for e in logged)
