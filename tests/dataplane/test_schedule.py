"""The schedule on both kinds of process: the stats worker's announcement writes it into the data
bucket; a replica elsewhere (the inference and cache workers' ``ScheduleReplica``) replays it, follows
a game that gets played, and a season the store drops."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from nbamcp.bus.kv import BucketSettings
from nbamcp.data.live_schedule import ingest_live_schedule
from nbamcp.data.store import Store
from nbamcp.dataplane.announce import Announcer
from nbamcp.dataplane.schedule import ScheduleReplica
from tests.dataplane.conftest import Plane

WAIT = 20.0
BUCKET = BucketSettings("nbamcp-data")
RECORDING = Path(__file__).resolve().parents[1] / "data" / "recordings" / "scheduleleaguev2_2026-27.json"


async def _changed(replica: ScheduleReplica, n: int) -> None:
    async with asyncio.timeout(WAIT):
        while len(replica) != n:
            await replica.changed.wait()


async def test_the_schedule_travels_and_follows_the_store(plane: Plane, store: Store) -> None:
    await ingest_live_schedule(store, 2027, response=json.loads(RECORDING.read_text()))
    announcer = Announcer(store, await (await plane.stores()).kv(BUCKET), await plane.events())
    await announcer.announce(request_id="t-start", full=True)
    replica = ScheduleReplica(await (await plane.stores()).kv(BUCKET))  # another process
    task = asyncio.create_task(replica.run())
    try:
        async with asyncio.timeout(WAIT):
            await replica.caught_up.wait()
        assert len(replica) == 7
        meeting = replica.next_meeting("BOS", "NYK", "2026-12-02")
        assert meeting is not None and (meeting.game_id, meeting.date) == ("0022600325", "2026-12-04")
        later = replica.next_meeting("BOS", "NYK", "2026-12-05")
        assert later is not None and later.date == "2027-01-14"
        assert replica.next_meeting("LAL", "MIA", "2026-12-02") is None

        # The game is played (its result comes in): it leaves the schedule everywhere.
        await store.conn.execute(
            "INSERT INTO games (game_id, date, season, season_type, home, away, home_code, away_code, "
            "home_pts, away_pts, sources, nba_game_id) VALUES ('x1', '2026-12-04', 2027, 'regular', 'BOS', "
            "'NYK', 'BOS', 'NYK', 101, 99, 'nba_api', '0022600325')"
        )
        await store.conn.commit()
        await announcer.announce(request_id="t-day")
        await _changed(replica, 6)
        nxt = replica.next_meeting("BOS", "NYK", "2026-12-02")
        assert nxt is not None and nxt.date == "2027-01-14"

        # A season the store no longer schedules is purged from the bucket.
        await store.conn.execute("DELETE FROM scheduled_games")
        await store.conn.commit()
        await announcer.announce(request_id="t-gone", full=True)
        await _changed(replica, 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
