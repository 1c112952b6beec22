"""The prediction log survives its worker being killed: real processes on a real nats-server.

The test publishes 2,000 prediction events through JetStream, SIGKILLs the
``nbamcp worker predlog`` process after its first batch (mid-load), publishes
the rest while it is down, restarts it, and then finds every request id in the
log exactly once. Waits are on the worker's own log lines, never sleeps.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiosqlite

from nbamcp import endpoints as ep
from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.nats import NatsBus
from nbamcp.config import Config
from nbamcp.streams import publish_durable, settings_from
from tests.conftest import NatsServer
from tests.e2e.procs import nbamcp_proc, server_env
from tests.predlog.conftest import prediction

N = 2000
# Big, slow-to-fill batches: when the kill lands, the worker usually holds fetched events it
# has not acked (or a batch it committed but did not ack yet): both must come back once.
CONFIG = """
[events]
ack_wait_s = 1.0
[predlog]
batch_size = 200
max_delay_s = 0.5
"""


async def publish_range(events: JetStreamEvents, lo: int, hi: int) -> None:
    for start in range(lo, hi, 50):
        await asyncio.gather(
            *(
                publish_durable(events, ep.PREDICTION_EVENTS, prediction(i), request_id=f"req-{i:06d}")
                for i in range(start, min(start + 50, hi))
            )
        )


async def count_rows(path: Path) -> int:
    async with aiosqlite.connect(path) as conn, conn.execute("SELECT COUNT(*) FROM predictions") as cur:
        (n,) = await cur.fetchone() or (0,)
    return int(n)


async def test_killed_predlog_worker_loses_nothing_and_stores_nothing_twice(
    nats_server: NatsServer, tmp_path: Path, data_dir: Path
) -> None:
    home = tmp_path / "home"
    cfg = tmp_path / "test.toml"
    cfg.write_text(CONFIG)
    env = server_env(home, data_dir, NBAMCP_CONFIG=str(cfg))
    args = ("worker", "predlog", "--bus", nats_server.url)
    bus = await NatsBus.connect(nats_server.url)
    try:
        events = await JetStreamEvents.open(bus, settings_from(Config()))
        async with nbamcp_proc(env, *args) as first:
            await first.wait_event("predlog.ready")
            publishing = asyncio.create_task(publish_range(events, 0, N // 2))
            await first.wait_event("predlog.batch_written")
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            async with asyncio.timeout(60):
                await publishing
        killed_at = await count_rows(home / "predlog.sqlite")
        assert 0 < killed_at < N
        await publish_range(events, N // 2, N)  # while the worker is down
        async with nbamcp_proc(env, *args) as second:
            await second.wait_event("predlog.batch_written", timeout=60, where=lambda e: e["rows"] == N)
    finally:
        await bus.close()
    sql = "SELECT request_id, COUNT(*) FROM predictions GROUP BY request_id"
    async with aiosqlite.connect(home / "predlog.sqlite") as conn, conn.execute(sql) as cur:
        counts = dict(await cur.fetchall())
    assert set(counts) == {f"req-{i:06d}" for i in range(N)}
    assert set(counts.values()) == {1}
