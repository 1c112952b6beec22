"""Every Prometheus metric the project exports, defined once (prometheus-client's default registry).

In ``nbamcp serve`` on the in-memory bus every worker runs in the front end's
process, so ``/metrics`` shows them all; on NATS each worker process serves its
own on ``--metrics-port``. Label values are bounded: tools, subjects with ids
replaced by ``*``, worker names, codes, tenants (created by an operator).
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)

# ---- MCP front end -----------------------------------------------------------------------------------
TOOL_CALLS = Counter(
    "nbamcp_tool_calls", "Tool calls by tool and result code (ok or the error code)", ["tool", "code"]
)
TOOL_LATENCY = Histogram(
    "nbamcp_tool_latency_seconds", "Tool call latency", ["tool"], buckets=LATENCY_BUCKETS
)
TENANT_CALLS = Counter("nbamcp_tenant_calls", "Tool calls per tenant and tool", ["tenant", "tool"])
TENANT_ERRORS = Counter(
    "nbamcp_tenant_errors", "Tool calls that failed, per tenant and code", ["tenant", "code"]
)
TENANT_UNITS = Counter("nbamcp_tenant_units", "Rate-limit units spent per tenant", ["tenant"])
TENANT_GAMES = Counter("nbamcp_tenant_games_predicted", "Games predicted per tenant", ["tenant"])
RATE_LIMITED = Counter("nbamcp_rate_limited", "Requests refused by a limit", ["tenant", "reason"])
HTTP_REQUESTS = Counter("nbamcp_http_requests", "HTTP requests by route and status", ["route", "status"])
HTTP_LATENCY = Histogram(
    "nbamcp_http_request_seconds", "HTTP request time", ["route"], buckets=LATENCY_BUCKETS
)
HTTP_SESSIONS = Gauge("nbamcp_http_sessions", "Open MCP sessions (streamable HTTP and SSE streams)")

# ---- the bus, from the requester's side, and the actors ---------------------------------------------
BUS_REQUESTS = Counter("nbamcp_bus_requests", "Bus requests by subject and outcome", ["subject", "outcome"])
BUS_LATENCY = Histogram(
    "nbamcp_bus_latency_seconds", "Bus request latency", ["subject"], buckets=LATENCY_BUCKETS
)
WORKER_MESSAGES = Counter(
    "nbamcp_worker_messages", "Messages handled by an actor, by outcome (ok or code)", ["actor", "outcome"]
)
WORKER_LATENCY = Histogram(
    "nbamcp_worker_handle_seconds", "Time an actor spent on one message", ["actor"], buckets=LATENCY_BUCKETS
)

# ---- workers ---------------------------------------------------------------------------------------------
INFERENCE_BATCH = Histogram(
    "nbamcp_inference_batch_size",
    "Rows per onnxruntime call (micro-batching)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
CACHE_HITS = Counter("nbamcp_cache_hits", "Prediction cache hits", ["level"])
CACHE_MISSES = Counter("nbamcp_cache_misses", "Prediction cache misses")
PREDICTIONS_LOGGED = Counter("nbamcp_predictions_logged", "Prediction events written to the prediction log")
MODEL_INFO = Gauge(
    "nbamcp_model_info", "The model versions served, 1 per alias", ["name", "version", "alias"]
)

_ID_TOKEN = re.compile(r"^(?:[0-9a-f]{8,}|\d+)$")


def subject_label(subject: str) -> str:
    """A subject with its id tokens (job ids, inboxes) replaced by ``*``: a bounded label."""
    return ".".join("*" if _ID_TOKEN.match(t) else t for t in subject.split("."))


_model_labels: dict[str, list[tuple[str, str, str]]] = {}


def set_model_info(name: str, aliases: dict[str, int | None]) -> None:
    """Export ``name``'s alias -> version map, dropping the versions it no longer serves."""
    for labels in _model_labels.pop(name, []):
        MODEL_INFO.remove(*labels)
    now = [(name, str(v), alias) for alias, v in aliases.items() if v is not None]
    for labels in now:
        MODEL_INFO.labels(*labels).set(1)
    _model_labels[name] = now


def serve_worker_metrics(host: str, port: int) -> None:
    """Serve this process's metrics on ``host:port`` (a daemon thread; no auth)."""
    start_http_server(port, addr=host)
