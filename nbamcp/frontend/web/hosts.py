"""Which Host and Origin headers the HTTP front end accepts (DNS-rebinding protection), on every bind.

The SDK turns its protection on by itself only for loopback binds; here it is
on for every bind, from ``server.allowed_hosts`` / ``allowed_origins`` when
given, else derived: the bind address (every loopback spelling for a loopback
bind) and ``server.public_url``'s host, any port. A wildcard bind (0.0.0.0,
::) names no host, so it needs one of those settings or the server refuses to
start. Requests without an Origin (every non-browser client) pass; a browser
page from another origin gets 403, an unknown Host 421.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings

from nbamcp.config import ServerConfig
from nbamcp.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def public_url(settings: ServerConfig, host: str, port: int) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if settings.tls_certfile else "http"
    shown = "127.0.0.1" if host in WILDCARD else host
    return f"{scheme}://{_bracket(shown)}:{port}"


def security_settings(settings: ServerConfig, host: str, port: int) -> TransportSecuritySettings:
    hosts = list(settings.allowed_hosts)
    if not hosts:
        names: list[str] = []
        if is_loopback(host):
            names += ["127.0.0.1", "localhost", "[::1]"]
        elif host not in WILDCARD:
            names.append(_bracket(host))
        if settings.public_url:
            hostname = urlsplit(settings.public_url).hostname
            if not hostname:
                raise ConfigError(
                    f"server.public_url {settings.public_url!r} is not a URL (https://host[:port])"
                )
            names.append(_bracket(hostname))
        if not names:
            raise ConfigError(
                f"binding to {host or 'every address'} would accept any Host header: set "
                'server.allowed_hosts (e.g. ["nba.example.com", "10.0.0.5:*"]) or server.public_url'
            )
        hosts = [h for name in names for h in (name, f"{name}:*")]
    origins = list(settings.allowed_origins) or [
        f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(set(hosts)),
        allowed_origins=sorted(set(origins)),
    )
