"""The monitor as its own process on NATS (``nbamcp worker monitor``): it joins and it answers."""

from __future__ import annotations

from pathlib import Path

from nbamcp.bus.durable_jetstream import JetStreamEvents
from nbamcp.bus.nats import NatsBus
from nbamcp.config import Config
from nbamcp.messages import MonitorStatus, MonitorStatusRequest, decode, encode
from nbamcp.streams import settings_from
from nbamcp.subjects import MONITOR_STATUS
from tests.conftest import NatsServer
from tests.e2e.procs import nbamcp_proc, server_env
from tests.predlog.realgames import event_for, ingest_and_announce, on_dates, to_games

DAY = "2023-01-16"


async def test_monitor_process_joins_results_and_answers_status(
    nats_server: NatsServer, tmp_path: Path, data_dir: Path
) -> None:
    home = tmp_path / "home"
    env = server_env(home, data_dir)
    header, rows = on_dates(data_dir, DAY)
    games = to_games(rows)
    bus = await NatsBus.connect(nats_server.url)
    try:
        events = await JetStreamEvents.open(bus, settings_from(Config()))
        async with nbamcp_proc(env, "worker", "monitor", "--bus", nats_server.url) as monitor:
            await monitor.wait_for('"actor.started"')
            for i, g in enumerate(games):
                await events.publish("nba.events.prediction", encode(event_for(g, f"p{i}", prob=g.elo_prob)))
            await ingest_and_announce(events, home / "store.sqlite", header, rows, tmp_path / "csv", "day")
            await monitor.wait_for(f'"resolved": {len(games)}')
            reply = await bus.request(MONITOR_STATUS, encode(MonitorStatusRequest()), timeout=10)
            st = decode(reply.data, MonitorStatus)
            assert st.pending == 0 and st.results_events == 1
            [realized] = st.realized
            assert (realized.model_version, realized.n_games) == (1, len(games))
            assert realized.accuracy == round(
                sum((g.elo_prob >= 0.5) == g.home_won for g in games) / len(games), 4
            )
    finally:
        await bus.close()
