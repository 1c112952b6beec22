"""Opening a bus from a URL, and failing fast and clearly when that is not possible."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbamcp.bus import InMemoryBus, NatsBus, connect_bus
from nbamcp.bus.connect import redact_url
from nbamcp.errors import BusUnreachable, ConfigError
from tests.conftest import NatsServer, start_nats_server, stop_nats_server


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections but never speaks NATS."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


async def test_memory_urls_give_a_new_in_memory_bus() -> None:
    a = await connect_bus("memory://")
    b = await connect_bus("memory")
    assert isinstance(a, InMemoryBus) and isinstance(b, InMemoryBus)
    assert a is not b
    assert a.kind == "memory"
    await a.close()
    await b.close()


async def test_nats_url_gives_a_nats_bus(nats_server: NatsServer) -> None:
    bus = await connect_bus(nats_server.url, name="test")
    try:
        assert isinstance(bus, NatsBus)
        assert bus.kind == "nats"
        assert bus.max_payload == 1024 * 1024
    finally:
        await bus.close()


@pytest.mark.parametrize("url", ["", "   ", "http://localhost:4222", "redis://x", "nats://", "memory://x"])
async def test_unsupported_urls_list_the_accepted_schemes(url: str) -> None:
    with pytest.raises(ConfigError, match=r"memory://.*nats://host:port"):
        await connect_bus(url)


async def test_unsupported_url_error_hides_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        await connect_bus("http://me:s3cret@host:1")
    assert "s3cret" not in str(info.value)


async def test_unreachable_nats_fails_fast_naming_the_url(closed_port: int) -> None:
    url = f"nats://127.0.0.1:{closed_port}"
    start = time.monotonic()
    async with asyncio.timeout(10):
        with pytest.raises(BusUnreachable) as info:
            await connect_bus(url)
    assert time.monotonic() - start < 3
    assert url in str(info.value)
    assert info.value.code == "bus_unreachable"


async def test_server_that_never_answers_fails_within_the_connect_timeout(silent_listener: int) -> None:
    url = f"nats://127.0.0.1:{silent_listener}"
    start = time.monotonic()
    async with asyncio.timeout(10):
        with pytest.raises(BusUnreachable, match=url.replace(".", r"\.")):
            await connect_bus(url, connect_timeout=0.3)
    assert time.monotonic() - start < 2.5


async def test_unreachable_error_hides_credentials(closed_port: int) -> None:
    async with asyncio.timeout(10):
        with pytest.raises(BusUnreachable) as info:
            await NatsBus.connect(f"nats://alice:s3cret@127.0.0.1:{closed_port}")
    assert "s3cret" not in str(info.value)
    assert f"***@127.0.0.1:{closed_port}" in str(info.value)


async def test_token_auth(tmp_path: Path) -> None:
    server = start_nats_server(tmp_path / "auth", extra_args=("--auth", "t0ken-value"))
    try:
        async with asyncio.timeout(10):
            with pytest.raises(BusUnreachable, match="authorization") as info:
                await connect_bus(server.url, token="wrong-token")
            assert "wrong-token" not in str(info.value)
            bus = await connect_bus(server.url, token="t0ken-value")
            await bus.close()
    finally:
        stop_nats_server(server)


def test_redact_url() -> None:
    assert redact_url("nats://a:b@h:4222") == "nats://***@h:4222"
    assert redact_url("nats://tok@h:4222") == "nats://***@h:4222"
    assert redact_url("nats://h:4222") == "nats://h:4222"
