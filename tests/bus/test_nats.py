"""What only the NATS bus has: the nats client, JetStream, the server's limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nbamcp.bus.base import Msg
from nbamcp.bus.nats import NatsBus
from nbamcp.errors import BusTimeout
from tests.conftest import NatsServer, start_nats_server, stop_nats_server


async def test_jetstream_is_reachable(nats_server: NatsServer) -> None:
    bus = await NatsBus.connect(nats_server.url)
    try:
        async with asyncio.timeout(10):
            js = bus.jetstream()
            await js.add_stream(name="EVENTS", subjects=["nba.events.>"])
            ack = await js.publish("nba.events.test", b"durable")
            assert ack.stream == "EVENTS" and ack.seq == 1
            msg = await js.get_msg("EVENTS", 1)
            assert msg.data == b"durable"
    finally:
        await bus.close()


async def test_max_payload_comes_from_the_server(tmp_path: Path) -> None:
    conf = tmp_path / "small.conf"
    conf.write_text("max_payload: 4096\n")
    server = start_nats_server(tmp_path / "small", extra_args=("-c", str(conf)))
    try:
        bus = await NatsBus.connect(server.url)
        try:
            assert bus.max_payload == 4096
            assert bus.nc.is_connected
        finally:
            await bus.close()
    finally:
        stop_nats_server(server)


async def test_reconnects_after_a_server_restart(tmp_path: Path) -> None:
    first = start_nats_server(tmp_path / "one")
    bus = await NatsBus.connect(
        first.url, reconnect_time_wait=0.05, max_reconnect_attempts=200, drain_timeout=1.0
    )
    try:

        async def echo(msg: Msg) -> None:
            await msg.respond(msg.data)

        await bus.subscribe("svc.echo", echo)
        assert (await bus.request("svc.echo", b"1", timeout=2)).data == b"1"
        stop_nats_server(first)
        # Same port again ("-p" given twice: the last one wins).
        second = start_nats_server(tmp_path / "two", extra_args=("-p", str(first.port)))
        try:
            # NATS core is at-most-once: a request sent before the client
            # notices the restart is lost, so retry (each try is bounded).
            async with asyncio.timeout(10):
                while True:
                    try:
                        reply = await bus.request("svc.echo", b"2", timeout=0.5)
                        break
                    except BusTimeout:
                        continue
            assert reply.data == b"2"  # the subscription was replayed on reconnect
        finally:
            stop_nats_server(second)
        async with asyncio.timeout(5):
            await bus.close()  # the server is gone: close is still bounded
    finally:
        await bus.close()
