"""LiveGames serving fs2: the rosters dataset replayed before the games, a snapshot kept only
while the roster priors are the ones it was built with, a roster change rebuilding the state."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np

from nbamcp.bus.kv import KeyValue
from nbamcp.endpoints import ROSTERS_DATASET
from nbamcp.messages import GameQuery, RosterPriors, TeamPrior, encode
from nbamcp.ml.features import feature_names
from nbamcp.serving.canonical import canonicalize_all
from nbamcp.serving.live_games import LiveGames
from tests.serving.conftest import TODAY, WAIT, Home
from tests.serving.test_live_games import Worker, bucket  # noqa: F401  (the bucket fixture)

DIFF = feature_names("fs2").index("roster_diff")
TEAMS = ("BOS", "LAL", "MIA", "NYK")


def priors(season: int, bos_after_deadline: float | None = None) -> RosterPriors:
    teams = [TeamPrior(t, "", float(i), "season-table") for i, t in enumerate(TEAMS)]
    if bos_after_deadline is not None:
        teams.insert(1, TeamPrior("BOS", "2023-02-10", bos_after_deadline, "nba_api"))
    return RosterPriors(season, teams, league_mean=1.5, previous={t: 1.0 for t in TEAMS})


async def publish(kv: KeyValue, p: RosterPriors) -> None:
    await kv.put(ROSTERS_DATASET.key(str(p.season)), encode(p))


class Fs2Worker(Worker):
    """The order ``open_live_games`` follows serving fs2: the rosters replayed, then the games."""

    def __init__(self, kv: KeyValue, snapshot: Path) -> None:
        self.tasks = []
        self.games = LiveGames(kv, snapshot, spawn=self._spawn, feature_set="fs2")

    async def __aenter__(self) -> LiveGames:
        assert self.games.rosters is not None
        self._spawn(self.games.run_rosters(), "rosters")
        async with asyncio.timeout(WAIT):
            await self.games.rosters.caught_up.wait()
        return await super().__aenter__()


def bos_lal(live_games: LiveGames, date: str) -> np.ndarray:
    games = canonicalize_all([GameQuery(home="BOS", away="LAL", date=date)], today=TODAY, max_slate=1)
    return live_games.live.resolve(games)[0].x


async def test_fs2_snapshot_and_roster_changes(bucket: KeyValue, home: Home) -> None:  # noqa: F811
    for season in range(2016, 2024):
        await publish(bucket, priors(season))
    snapshot = home.root / "inference-features.snapshot"
    async with Fs2Worker(bucket, snapshot) as first:
        assert first.live.feature_set == "fs2" and first.live.rosters_version
        x = bos_lal(first, "2023-03-15")
        assert (
            x[DIFF] == 0.0 - 1.0
            and "roster projects"
            in first.live.resolve(
                canonicalize_all(
                    [GameQuery(home="BOS", away="LAL", date="2023-03-15")], today=TODAY, max_slate=1
                )
            )[0].roster_note
        )
        version = first.live.rosters_version
        played_before = np.vstack(first.live.rows)

        # A trade seen mid-season: rebuilt with the new book, from the deadline on only.
        await publish(bucket, priors(2023, bos_after_deadline=5.0))
        async with asyncio.timeout(WAIT):
            while first.roster_rebuilds == 0:
                await first.changed.wait()
        assert first.live.rosters_version != version
        assert bos_lal(first, "2023-03-15")[DIFF] == 5.0 - 1.0
        rows = np.vstack(first.live.rows)
        dates = np.array([g.date for g in first.live.games])
        early = dates < "2023-02-10"
        np.testing.assert_array_equal(rows[early], played_before[early])
        moved = ~early & np.array(["BOS" in (g.home, g.away) for g in first.live.games])
        assert moved.any() and not np.array_equal(rows[moved], played_before[moved])
        after = first.live.rosters_version

    # Same priors: the snapshot serves; other priors: it is not loaded, the state is rebuilt.
    async with Fs2Worker(bucket, snapshot) as second:
        assert second.restored and second.rebuilds == 0 and second.live.rosters_version == after
        assert bos_lal(second, "2023-03-15")[DIFF] == 4.0
    await publish(bucket, priors(2023))
    async with Fs2Worker(bucket, snapshot) as third:
        assert not third.restored and third.live.rosters_version == version
        assert bos_lal(third, "2023-03-15")[DIFF] == -1.0
        # A team with no roster published: the roster features are unknown (imputed), not made up.
        den = canonicalize_all(
            [GameQuery(home="DEN", away="PHX", date="2023-03-15")], today=TODAY, max_slate=1
        )
        assert math.isnan(float(third.live.resolve(den)[0].x[DIFF]))
