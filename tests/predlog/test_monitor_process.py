"""The monitor as its own process on NATS (``nbamcp worker monitor``), with its own home: it joins the
results the stats worker (another home, another connection) announces, and it answers."""

from __future__ import annotations

from pathlib import Path

from nbamcp.actor import open_context
from nbamcp.bus.nats import NatsBus
from nbamcp.config import Config, PathsConfig, StatsConfig
from nbamcp.messages import MonitorStatus, MonitorStatusRequest, decode, encode
from nbamcp.subjects import MONITOR_STATUS
from tests.conftest import NatsServer
from tests.e2e.procs import nbamcp_proc, server_env
from tests.predlog.realgames import event_for, ingest_via_stats, on_dates, to_games
from workers.stats import StatsWorker

DAY = "2023-01-16"


async def test_monitor_process_joins_results_and_answers_status(
    nats_server: NatsServer, tmp_path: Path, data_dir: Path
) -> None:
    env = server_env(tmp_path / "monitor-home", data_dir)
    stats_home = tmp_path / "stats-home"
    config = Config(
        paths=PathsConfig(home=str(stats_home), data_dir=str(data_dir)), stats=StatsConfig(auto_ingest=False)
    )
    header, rows = on_dates(data_dir, DAY)
    games = to_games(rows)
    bus = await NatsBus.connect(nats_server.url)
    try:
        async with open_context(bus, config) as ctx:
            stats = StatsWorker(ctx)
            await stats.start()
            try:
                async with nbamcp_proc(env, "worker", "monitor", "--bus", nats_server.url) as monitor:
                    await monitor.wait_event("actor.started")
                    for i, g in enumerate(games):
                        event = event_for(g, f"p{i}", prob=g.elo_prob)
                        await ctx.events.publish("nba.events.prediction", encode(event))
                    await ingest_via_stats(bus, stats_home / "csv", header, rows, "day")
                    await monitor.wait_event(
                        "monitor.results_joined", where=lambda e: e["resolved"] == len(games)
                    )
                    reply = await bus.request(MONITOR_STATUS, encode(MonitorStatusRequest()), timeout=10)
            finally:
                await stats.stop()
    finally:
        await bus.close()
    st = decode(reply.data, MonitorStatus)
    assert st.pending == 0 and st.results_events == 1
    [realized] = st.realized
    assert (realized.model_version, realized.n_games) == (1, len(games))
    assert realized.accuracy == round(sum((g.elo_prob >= 0.5) == g.home_won for g in games) / len(games), 4)
    # Its home holds its own files only.
    assert sorted(p.name for p in (tmp_path / "monitor-home").iterdir()) == ["monitor.sqlite"]
