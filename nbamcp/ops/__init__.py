"""Operations shared by every process: Prometheus metrics, W3C trace context, backups.

Plain code over prometheus-client and opentelemetry: the front end, the actors
and the CLI import it; it imports no actor and no front end.
"""
