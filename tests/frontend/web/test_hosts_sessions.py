"""Allowed Host/Origin headers for every kind of bind, and the per-client session table."""

from __future__ import annotations

import pytest

from nbamcp.config import ServerConfig
from nbamcp.errors import ConfigError
from nbamcp.frontend.web.hosts import public_url, security_settings
from nbamcp.frontend.web.sessions import SessionTable


def test_loopback_bind_allows_every_loopback_spelling() -> None:
    s = security_settings(ServerConfig(), "127.0.0.1", 8000)
    assert s.enable_dns_rebinding_protection
    assert {"127.0.0.1:*", "localhost:*", "[::1]:*"} <= set(s.allowed_hosts)
    assert "http://localhost:*" in s.allowed_origins
    assert not any("evil" in o for o in s.allowed_origins)


def test_specific_and_wildcard_binds() -> None:
    s = security_settings(ServerConfig(), "10.0.0.5", 8000)
    assert s.allowed_hosts == ["10.0.0.5", "10.0.0.5:*"]
    with pytest.raises(ConfigError, match=r"allowed_hosts .* or server.public_url"):
        security_settings(ServerConfig(), "0.0.0.0", 8000)
    proxied = ServerConfig(public_url="https://nba.example.com")
    s = security_settings(proxied, "0.0.0.0", 8000)
    assert "nba.example.com" in s.allowed_hosts and "https://nba.example.com" in s.allowed_origins
    assert public_url(proxied, "0.0.0.0", 8000) == "https://nba.example.com"
    explicit = ServerConfig(allowed_hosts=["api.example.org"], allowed_origins=["https://app.example.org"])
    s = security_settings(explicit, "0.0.0.0", 8000)
    assert (s.allowed_hosts, s.allowed_origins) == (["api.example.org"], ["https://app.example.org"])
    assert public_url(ServerConfig(), "::1", 9) == "http://[::1]:9"


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_session_table_counts_per_owner_and_expires_idle_sessions() -> None:
    clock = Clock()
    table = SessionTable(per_client=2, idle_timeout_s=60, clock=clock)
    table.opened("alice", "s1")
    table.opened("alice", "s2")
    assert not table.has_room("alice") and table.has_room("bob")
    table.closed("s1")  # DELETE
    assert table.has_room("alice")
    table.opened("alice", "s3")
    table.begin("s3")  # a GET stream held open: busy, never idle
    clock.t += 120
    assert table.count("alice") == 1  # s2 idled out, s3 is busy
    table.end("s3")
    clock.t += 61
    assert table.count("alice") == 0
    table.stream_opened("bob")
    table.stream_opened("bob")
    assert not table.has_room("bob")
    table.stream_closed("bob")
    assert table.count("bob") == 1 and table.total() == 1
