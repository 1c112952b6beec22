"""W3C trace context across HTTP, MCP and the bus, with an optional OpenTelemetry exporter.

Every request gets a trace: the HTTP request's ``traceparent`` header (or the
MCP request's ``_meta.traceparent``, or a new one), carried in bus headers to
every actor the request touches, and bound to every log line beside the request
id (``trace_id`` and ``traceparent``). Spans are made with the OpenTelemetry API:
without an SDK tracer provider they cost nothing and the incoming traceparent
passes through unchanged; with ``tracing.otlp_endpoint`` set, an SDK provider
exports them over OTLP/HTTP (each hop then logs its own span id under the same
trace id).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from nbamcp.bus.base import REQUEST_ID_HEADER, TENANT_HEADER, TRACEPARENT_HEADER
from nbamcp.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from nbamcp.config import TracingConfig

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("nbamcp")
# True once an SDK provider records spans: a missing traceparent then starts a
# real root span instead of a stand-in.
_recording = False
# Trace and span ids need to be unique, not secret (the OpenTelemetry SDK's own generator uses
# random.getrandbits too): SystemRandom made each one an os.urandom call, a system call that hands
# the GIL over, twice per request. Seeded from the OS, and again in a forked child.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)


def extract(headers: Mapping[str, str] | None) -> otel_context.Context | None:
    """The trace context ``headers`` carry, or None when they carry no valid traceparent."""
    if not headers or TRACEPARENT_HEADER not in headers:
        return None
    ctx = _PROPAGATOR.extract(dict(headers))
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def _new_root() -> otel_context.Context:
    span_context = SpanContext(
        trace_id=_rng.getrandbits(128) or 1,
        span_id=_rng.getrandbits(64) or 1,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER)


def has_trace() -> bool:
    return trace.get_current_span().get_span_context().is_valid


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: otel_context.Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """A span under ``parent`` (else the current trace, else a new one), bound to the log context."""
    if parent is None and not has_trace():
        parent = otel_context.Context() if _recording else _new_root()
    with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as sp:
        sc = sp.get_span_context()
        with structlog.contextvars.bound_contextvars(
            trace_id=trace.format_trace_id(sc.trace_id), traceparent=current_traceparent()
        ):
            yield sp


def context_headers(request_id: str) -> dict[str, str]:
    """The headers that carry a request's context onward: request id, traceparent, tenant."""
    headers = {REQUEST_ID_HEADER: request_id}
    tp = current_traceparent()
    if tp:
        headers[TRACEPARENT_HEADER] = tp
    tenant = structlog.contextvars.get_contextvars().get("tenant")
    if tenant:
        headers[TENANT_HEADER] = tenant
    return headers


def configure_tracing(settings: TracingConfig, *, process: str, exporter: SpanExporter | None = None) -> None:
    """Install an SDK tracer provider when an OTLP endpoint (or, in tests, an exporter) is given.

    Off by default: nothing is imported from opentelemetry-sdk unless asked for.
    """
    global _recording
    if exporter is None and not settings.otlp_endpoint:
        return
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ConfigError(
            "tracing.otlp_endpoint is set but opentelemetry-sdk is not installed: pip install 'nbamcp[otel]'"
        ) from None

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name, "service.instance.id": process})
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "tracing.otlp_endpoint needs the OTLP exporter: pip install 'nbamcp[otel]'"
            ) from None

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _recording = True


def shutdown_tracing() -> None:
    """Flush and stop the exporter (spans still queued are sent)."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if callable(stop):
        stop()
