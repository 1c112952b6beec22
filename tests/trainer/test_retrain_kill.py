"""A retraining job survives its trainer being SIGKILLed: a real process on a real nats-server.

The stats worker (in the test process) publishes the games dataset on NATS; ``nbamcp worker
trainer`` runs in its own process and home. A drift alarm goes on the durable stream; once
the trainer says the job started, it is killed with SIGKILL (no stop hook, no ack). A new
trainer process on the same home gets the job again from the JetStream work queue (after
``ack_wait_s``) and trains it: one challenger, the job done after two attempts. Waits are
on the processes' own log lines.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiosqlite

from nbamcp import endpoints as ep
from nbamcp.bus.nats import NatsBus
from nbamcp.config import StatsConfig
from nbamcp.messages import RetrainTrigger
from nbamcp.ml.registry import ModelRegistry
from nbamcp.streams import publish_durable
from tests.conftest import NatsServer
from tests.contexts import home_config
from tests.e2e.procs import nbamcp_proc, server_env
from tests.trainer.conftest import WAIT, Home
from workers.stats import StatsWorker

CONFIG = """
[trainer]
auto_train = false
train_from = 2016
[retrain]
min_new_results = 0
ack_wait_s = 2.0
budget = "{budget}"
"""


def trainer_env(home: Path, data_dir: Path, budget: str) -> dict[str, str]:
    cfg = home / f"{budget}.toml"
    cfg.write_text(CONFIG.format(budget=budget))
    return server_env(home, data_dir, NBAMCP_CONFIG=str(cfg))


async def test_a_killed_trainer_process_trains_the_job_again_after_restart(
    nats_server: NatsServer, home: Home, tmp_path: Path, data_dir: Path
) -> None:
    trainer_home = tmp_path / "trainer-home"
    trainer_home.mkdir()
    args = ("worker", "trainer", "--bus", nats_server.url)
    bus = await NatsBus.connect(nats_server.url)
    try:
        ctx = await home.contexts.get(bus, home_config(home.root, stats=StatsConfig(auto_ingest=False)))
        stats = StatsWorker(ctx)
        await stats.start()
        try:
            alarm = RetrainTrigger(
                trigger_id="concept_drift:game:2023-01-14", kind="concept_drift", source="test",
                reason="Page-Hinkley alarm on the realized log loss", metrics={"ph_statistic": 12.5},
            )  # fmt: skip
            # Many fits (the small budget): the kill lands while the job trains.
            async with nbamcp_proc(trainer_env(trainer_home, data_dir, "small"), *args) as first:
                await first.wait_event(
                    "actor.started", timeout=120, where=lambda e: e.get("actor") == "trainer"
                )
                await publish_durable(ctx.events, ep.RETRAIN_TRIGGERS, alarm)
                started = await first.wait_event("trainer.retrain_job_started", timeout=60)
                assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            async with nbamcp_proc(trainer_env(trainer_home, data_dir, "tiny"), *args) as second:
                done = await second.wait_event("trainer.retrain_job_done", timeout=180)
                await second.stop()
        finally:
            async with asyncio.timeout(WAIT):
                await stats.stop()
    finally:
        await bus.close()

    assert done["job_id"] == started["job_id"] and done["version"] == 1
    sql = "SELECT job_id, state, attempts, version FROM jobs"
    async with aiosqlite.connect(trainer_home / "retrain.sqlite") as conn, conn.execute(sql) as cur:
        rows = list(await cur.fetchall())
    assert rows == [(started["job_id"], "done", 2, 1)]
    async with await ModelRegistry.open(trainer_home / "registry.sqlite", trainer_home / "artifacts") as reg:
        (mv,) = await reg.list_versions("game")
        assert await reg.aliases("game") == {"challenger": 1}
    assert mv.lineage["job_id"] == started["job_id"] and mv.lineage["attempt"] == 2
    assert mv.lineage["trigger"]["kind"] == "concept_drift"
