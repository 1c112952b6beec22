"""Open the bus named by a URL: ``memory://`` or ``nats://host:port`` / ``tls://host:port``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from nbamcp.bus.base import Bus
from nbamcp.bus.memory import InMemoryBus
from nbamcp.errors import ConfigError

MEMORY_URLS = ("memory://", "memory")
NATS_SCHEMES = ("nats://", "tls://")


async def connect_bus(
    url: str,
    *,
    name: str = "nbamcp",
    token: str | None = None,
    connect_timeout: float = 2.0,
) -> Bus:
    """Return a connected bus for ``url``.

    ``memory://`` (or ``memory``) gives a NEW :class:`InMemoryBus` every call:
    the actors of one process must share one instance, so the caller creates it
    once and passes it around. ``nats://`` and ``tls://`` connect a
    :class:`NatsBus` and raise ``BusUnreachable`` (naming the URL) if the server
    cannot be reached within about ``connect_timeout`` seconds.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"bus url is empty: use {_accepted()}")
    url = url.strip()
    if url.lower() in MEMORY_URLS:
        return InMemoryBus()
    if url.lower().startswith(NATS_SCHEMES):
        # Imported here: the in-memory default never pays for nats-py.
        from nbamcp.bus.nats import NatsBus

        if len(url.split("://", 1)[1].strip("/")) == 0:
            raise ConfigError(f"bus url {redact_url(url)!r} has no host: use {_accepted()}")
        return await NatsBus.connect(url, name=name, token=token, connect_timeout=connect_timeout)
    raise ConfigError(f"unsupported bus url {redact_url(url)!r}: use {_accepted()}")


def _accepted() -> str:
    return "'memory://' (in-process) or 'nats://host:port' / 'tls://host:port' (a NATS server)"


def redact_url(url: str) -> str:
    """``url`` without user, password or token (safe to log and to put in errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if parts.username is None and parts.password is None:
        return url
    netloc = "***@" + parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
