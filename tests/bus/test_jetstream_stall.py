"""A durable consumer made while nats-server stalls for longer than one JetStream API call's timeout.

Found by the chaos test (tests/e2e/test_supervised_chaos.py): in a cold start of the Procfile the
trainer's start failed (exit 1, restarted by the supervisor) because creating its durable consumer
timed out while the server was busy with every process's streams, consumers and buckets and the
stats worker's games dataset. Here the server is really stalled (SIGSTOP, then SIGCONT: the
stall's length is the fault injected) for longer than two timeouts; the creation, idempotent, is
tried again and succeeds once the server answers, and the consumer works. Before: ``BusTimeout``
after the first timeout.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from structlog.testing import capture_logs

from nbamcp.bus.durable import StreamSettings
from nbamcp.bus.durable_jetstream import CONSUMER_TRIES, JetStreamEvents
from nbamcp.bus.nats import NatsBus
from tests.conftest import start_nats_server, stop_nats_server

WAIT = 60.0  # generous: a loaded 2-core machine
TIMEOUT_S = 1.0  # one API call's timeout (publish_timeout_s) in this test
# The fault: more than two timeouts, and 1.5 timeouts short of all the tries, so that a loaded
# machine's late resume or slow answer still falls within the last tries.
STALL_S = 2.5 * TIMEOUT_S


async def test_a_consumer_made_while_the_server_stalls_is_tried_again(tmp_path: Path) -> None:
    assert STALL_S < CONSUMER_TRIES * TIMEOUT_S
    server = start_nats_server(tmp_path / "nats")
    try:
        bus = await NatsBus.connect(server.url)
        try:
            settings = StreamSettings(
                name="T_STALL", subjects="nba.events.>", ack_wait_s=30, publish_timeout_s=TIMEOUT_S
            )
            events = await JetStreamEvents.open(bus, settings)
            with capture_logs() as logs:
                server.proc.send_signal(signal.SIGSTOP)
                try:
                    making = asyncio.create_task(events.consumer("tlog", "nba.events.test"))
                    await asyncio.sleep(STALL_S)  # the stall itself: the fault, not a wait for work
                finally:
                    server.proc.send_signal(signal.SIGCONT)
                async with asyncio.timeout(WAIT):
                    consumer = await making
            slow = [e for e in logs if e["event"] == "durable.consumer_slow"]
            assert len(slow) >= 1, logs  # timed out while stalled, and tried again
            # It works: an event published now is delivered to it.
            await events.publish("nba.events.test", b"e1", msg_id="m1")
            async with asyncio.timeout(WAIT):
                batch = await consumer.fetch(10, timeout=WAIT)
            assert [m.data for m in batch] == [b"e1"]
        finally:
            await bus.close()
    finally:
        server.proc.send_signal(signal.SIGCONT)
        stop_nats_server(server)
