"""The anomaly screen on a store's first ingest too: the stats worker's auto-ingest of the data
folder and the offline ``nbamcp ingest``. Real 538 rows of 2021-2023, then three fabricated days
of impossible margins after the season: those are held (with an alert from the worker), the
history before the screened days is not judged, and a later offline ingest is screened like the
worker's ingest endpoint."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import msgspec

from nbamcp import endpoints as ep
from nbamcp.bus.memory import InMemoryBus
from nbamcp.calls import call
from nbamcp.config import PathsConfig, StatsConfig
from nbamcp.data.held import held_games
from nbamcp.data.ingest.offline import run_ingest
from nbamcp.data.store import open_store
from nbamcp.dataplane.screen import offline_screen
from nbamcp.messages import HeldGames, HeldGamesRequest
from tests.contexts import Contexts, home_config
from tests.dataplane.conftest import LAST_DAY, SEASONS
from tests.predlog.realgames import read_rows
from workers.stats import StatsWorker

WAIT = 60.0
# Three days after the season: each game a 130-point margin (the robust rule: far past 7 MADs).
FABRICATED = [
    ("2023-04-11", "BOS", "MIL", 180, 50),
    ("2023-04-11", "DEN", "PHO", 178, 45),
    ("2023-04-12", "LAL", "GSW", 185, 52),
    ("2023-04-13", "NYK", "MIA", 182, 48),
]
# An old oddity inside the trusted history (2021): before the screened days, never judged.
OLD_ODDITY = ("2021-01-15", "CHI", "DET", 186, 51)


def data_folder(root: Path, data_dir: Path, extra: list[tuple[str, str, str, int, int]]) -> Path:
    header, rows = read_rows(data_dir, lambda r: int(r["season"]) in SEASONS and r["date"] <= LAST_DAY)
    folder = root / "data" / "games"
    folder.mkdir(parents=True)
    with (folder / "games_538_test.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        for date, home, away, hp, ap in extra:
            season = "2023" if date >= "2022-10-01" else "2021"
            blank = {
                **dict.fromkeys(header, ""),
                "date": date,
                "season": season,
                "neutral": "0",
                "playoff": "0",
            }
            w.writerow({**blank, "team1": home, "team2": away, "score1": hp, "score2": ap})
    return folder.parent


async def test_the_auto_ingest_of_the_data_folder_holds_its_latest_days_anomalies(
    tmp_path: Path, data_dir: Path
) -> None:
    folder = data_folder(tmp_path, data_dir, [*FABRICATED, OLD_ODDITY])
    home = tmp_path / "home"
    config = home_config(home, stats=StatsConfig(auto_ingest=True))
    config = msgspec.structs.replace(config, paths=PathsConfig(home=str(home), data_dir=str(folder)))
    bus = InMemoryBus()
    contexts = Contexts(home)
    stats = StatsWorker(await contexts.get(bus, config))
    try:
        async with asyncio.timeout(WAIT):
            await stats.start()
        reply = await call(
            bus, ep.HELD_GAMES, HeldGamesRequest(limit=50), timeout_s=WAIT, request_id="held-1"
        )
        alerts = stats.alerter.raised
    finally:
        async with asyncio.timeout(WAIT):
            await stats.stop(5.0)
            await contexts.close()
            await bus.close()
    assert isinstance(reply, HeldGames)
    held = {(g.date, g.home_pts, g.away_pts) for g in reply.games}
    assert held == {(d, hp, ap) for d, _, _, hp, ap in FABRICATED}  # and nothing real, nothing old
    assert all(g.kind == "new" and "score" in ",".join(g.rules) for g in reply.games), reply.games
    assert stats.held == len(FABRICATED) and alerts >= 1  # an alert per rule that held games
    async with await open_store(config.store_path) as store:
        old = await store.fetchone("SELECT count(*) FROM games WHERE home_pts = 186 AND away_pts = 51")
    assert old is not None and old[0] == 1  # the old oddity is in the store, and not held


async def test_the_offline_ingest_screens_a_first_ingest_and_every_later_one(
    tmp_path: Path, data_dir: Path
) -> None:
    folder = data_folder(tmp_path, data_dir, FABRICATED[:2])
    config = home_config(tmp_path / "home")
    screen = offline_screen(config.anomalies)
    first = await run_ingest(config, [str(folder)], "auto", None, False, None, screen=screen)
    assert "anomaly screen: 2 game(s) held" in first and "accept_games" in first
    later = tmp_path / "later.csv"
    header, _ = read_rows(data_dir, lambda r: False)
    with later.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        day = {
            **dict.fromkeys(header, ""),
            "date": "2023-04-14",
            "season": "2023",
            "neutral": "0",
            "playoff": "0",
        }
        w.writerow({**day, "team1": "CLE", "team2": "ATL", "score1": 99, "score2": 101})
        w.writerow({**day, "team1": "SAC", "team2": "POR", "score1": 184, "score2": 49})
    second = await run_ingest(config, [str(later)], "auto", None, False, None, screen=screen)
    assert "anomaly screen: 1 game(s) held" in second
    async with await open_store(config.store_path) as store:
        games, total = await held_games(store, 50)
    assert total == 3
    assert {(g.home_pts, g.away_pts) for g in games} == {(180, 50), (178, 45), (184, 49)}
