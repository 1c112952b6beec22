"""The HTTP front end around the SDK's streamable-HTTP and SSE apps.

``hosts``: allowed Host/Origin headers (the SDK's ``TransportSecuritySettings``)
for every bind. ``edge``: the ASGI layers in front of the SDK app (trace
context and access log, Host/Origin checks, per-key HTTP rate limit, sessions
per client). ``routes``: ``/healthz``, ``/readyz``, ``/metrics``.
``dashboard``: ``/dashboard``. ``server``: puts it together and runs uvicorn
with structured logs and a quiet, graceful SIGTERM.
"""
