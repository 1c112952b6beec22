"""A durable consumer made while nats-server stalls for longer than one JetStream API call's timeout.

Found by the chaos test (tests/e2e/test_supervised_chaos.py): in a cold start of the Procfile the
trainer's start failed (exit 1, restarted by the supervisor) because creating its durable consumer
timed out while the server was busy with every process's streams, consumers and buckets and the
stats worker's games dataset. Here the server is really stalled (SIGSTOP, then SIGCONT once a try
has timed out); the creation, idempotent, is tried again and succeeds once the server answers, and
the consumer works. Before: ``BusTimeout`` after the first timeout.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from nbamcp.bus.durable import StreamSettings
from nbamcp.bus.durable_jetstream import CONSUMER_TRIES, JetStreamEvents
from nbamcp.bus.nats import NatsBus
from tests.conftest import start_nats_server, stop_nats_server

WAIT = 60.0  # generous: a loaded 2-core machine
TIMEOUT_S = 1.0  # one API call's timeout (publish_timeout_s) in this test


async def test_a_consumer_made_while_the_server_stalls_is_tried_again(tmp_path: Path) -> None:
    assert CONSUMER_TRIES >= 3  # a timed-out try, then two with the server answering again
    server = start_nats_server(tmp_path / "nats")
    timed_out = asyncio.Event()

    def spy(_logger: object, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("event") == "durable.consumer_slow":
            timed_out.set()
        return event

    try:
        bus = await NatsBus.connect(server.url)
        try:
            settings = StreamSettings(
                name="T_STALL", subjects="nba.events.>", ack_wait_s=30, publish_timeout_s=TIMEOUT_S
            )
            events = await JetStreamEvents.open(bus, settings)
            with capture_logs(processors=[spy]) as logs:
                server.proc.send_signal(signal.SIGSTOP)
                try:
                    making = asyncio.create_task(events.consumer("tlog", "nba.events.test"))
                    # The stall lasts until a try has timed out (the event, not a guess at timing),
                    # so the tries left have the server back whatever the machine's load.
                    async with asyncio.timeout(WAIT):
                        await timed_out.wait()
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
