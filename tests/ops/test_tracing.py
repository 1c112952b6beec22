"""Trace context: parsing, spans bound to log lines, headers carried onward."""

from __future__ import annotations

import structlog

from nbamcp.bus.base import REQUEST_ID_HEADER, TENANT_HEADER, TRACEPARENT_HEADER
from nbamcp.ops.tracing import context_headers, current_traceparent, extract, span

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


def test_extract_accepts_only_valid_traceparents() -> None:
    assert extract(None) is None
    assert extract({}) is None
    assert extract({TRACEPARENT_HEADER: "garbage"}) is None
    assert extract({TRACEPARENT_HEADER: f"00-{'0' * 32}-{PARENT}-01"}) is None  # all-zero trace id
    assert extract({TRACEPARENT_HEADER: TRACEPARENT}) is not None


def test_spans_bind_the_trace_to_log_lines_and_headers() -> None:
    with span("incoming", parent=extract({TRACEPARENT_HEADER: TRACEPARENT})):
        bound = structlog.contextvars.get_contextvars()
        assert bound["trace_id"] == TRACE_ID and bound["traceparent"] == TRACEPARENT
        with structlog.contextvars.bound_contextvars(tenant="alice"):
            headers = context_headers("rid-1")
        assert headers == {
            REQUEST_ID_HEADER: "rid-1",
            TRACEPARENT_HEADER: TRACEPARENT,
            TENANT_HEADER: "alice",
        }
        with span("inner"):  # no SDK provider: the same span context passes through
            assert current_traceparent() == TRACEPARENT
    assert current_traceparent() is None
    with span("fresh"):
        fresh = current_traceparent()
        assert fresh and fresh.split("-")[1] != TRACE_ID
    assert "trace_id" not in structlog.contextvars.get_contextvars()
