"""Feature set fs2 served end to end, on both buses: the stats worker publishes the roster model,
the trainer trains an fs2 champion on it, inference and the cache compute the same rows from
it; a served row is the training row of the same game; a trade seen live mid-season moves the
served strength from its date on, never before; the explanation names the roster effect."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from nbamcp.actor import Actor, WorkerContext
from nbamcp.bus.base import Bus
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.nats import NatsBus
from nbamcp.config import (
    CacheConfig,
    Config,
    FeaturesConfig,
    InferenceConfig,
    StatsConfig,
    TrainerConfig,
    WorkersConfig,
)
from nbamcp.data.games import GameRow, load_games
from nbamcp.data.live_rosters import ingest_live_rosters
from nbamcp.data.players import load_player_seasons
from nbamcp.data.rosters import load_rosters
from nbamcp.data.store import open_store
from nbamcp.messages import GameQuery, PredictReply
from nbamcp.ml.features import build_training_matrix, feature_names
from nbamcp.ml.rosters import RosterBook, build_roster_book, snapshots_from_entries
from nbamcp.serving.canonical import canonicalize
from nbamcp.serving.scoring import cache_key_for
from tests.contexts import Contexts, home_config
from tests.data.test_live_rosters import DEADLINE, answers, with_players
from tests.serving.conftest import MODEL, TODAY, WAIT, Data, running
from tests.serving.test_inference import ask, one
from workers.cache import CacheWorker
from workers.inference import InferenceWorker
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

FS2 = FeaturesConfig(served="fs2")
NAMES = feature_names("fs2")
DIFF = NAMES.index("roster_diff")


@pytest.fixture(scope="session")
def fs2_store(serving_data: Data, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving store (2016 to 2023-03-31) with the players and the opening-night rosters."""
    return with_players(serving_data.store, data_dir, tmp_path_factory.mktemp("fs2-store"))


@pytest.fixture(params=["memory", "nats"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[str], Awaitable[Bus]]]:
    """One bus per worker ("process") on NATS; the one in-process bus otherwise."""
    opened: list[Bus] = []
    shared = InMemoryBus()
    url = request.getfixturevalue("nats_server").url if request.param == "nats" else ""

    async def make(name: str) -> Bus:
        if not url:
            return shared
        b = await NatsBus.connect(url, name=name)
        opened.append(b)
        return b

    yield make
    async with asyncio.timeout(WAIT):
        for b in opened:
            await b.close()
        await shared.close()


async def until(worker: object, attr: str, predicate: Callable[[], bool]) -> None:
    """Await ``worker.<attr>`` (an event replaced after each change) until ``predicate()``."""
    async with asyncio.timeout(WAIT * 3):
        while not predicate():
            await getattr(worker, attr).wait()


async def store_book(store_path: Path) -> tuple[RosterBook, list[GameRow]]:
    """The book and the games of the store's own rows: what training offline computes."""
    store = await open_store(store_path)
    try:
        players = await load_player_seasons(store.conn)
        live = snapshots_from_entries(await load_rosters(store.conn))
        return build_roster_book(players, extra=live), await load_games(store.conn)
    finally:
        await store.close()


async def test_fs2_served_from_the_bus(
    buses: Callable[[str], Awaitable[Bus]], fs2_store: Path, tmp_path: Path
) -> None:
    root = tmp_path / "home"
    root.mkdir()
    shutil.copy(fs2_store, root / "store.sqlite")
    contexts = Contexts(root)

    def config(**sections: object) -> Config:
        return home_config(root, features=FS2, workers=WorkersConfig(stop_deadline_s=WAIT), **sections)

    async def ctx(name: str, **sections: object) -> WorkerContext:
        return await contexts.get(await buses(name), config(**sections))

    stats = StatsWorker(await ctx("stats", stats=StatsConfig(auto_ingest=False)))
    trainer = TrainerWorker(
        await ctx("trainer", trainer=TrainerConfig(
            model_name=MODEL, auto_train=True, budget="tiny", train_from=2020, valid_seasons=1,
        ))
    )  # fmt: skip
    inference = InferenceWorker(
        await ctx("inference", inference=InferenceConfig(model_name=MODEL)), today=lambda: TODAY
    )
    cache = CacheWorker(
        await ctx("cache", inference=InferenceConfig(model_name=MODEL), cache=CacheConfig(kv_bucket="")),
        today=lambda: TODAY,
    )
    bus = inference.bus
    actors: list[Actor] = [stats, trainer, inference, cache]
    try:
        async with running(*actors):
            # No champion: the trainer trains one on fs2 and promotes it; inference loads it.
            await until(inference, "models_changed", lambda: inference.models.champion is not None)
            assert inference.live.feature_set == cache.live.feature_set == "fs2"
            version = inference.live.rosters_version
            assert version and cache.live.rosters_version == version
            health = inference.health_detail()
            assert (health["feature_set"], health["rosters"]) == ("fs2", version)
            champion = await trainer.registry.get(MODEL, "champion")
            assert champion.feature_set_version == "fs2" and champion.feature_names == NAMES

            # A played game's served row is its training row (the store's own book, offline code).
            book, games = await store_book(root / "store.sqlite")
            X = build_training_matrix(games, rosters=book)[0]
            idx = next(i for i, g in enumerate(games) if g.date == "2023-01-15" and "BKN" in (g.home, g.away))
            g = games[idx]
            reply = await ask(bus, one(g.home, g.away, g.date), "fs2-played")
            assert isinstance(reply, PredictReply), reply
            (played,) = reply.predictions
            assert played.result is not None and played.source == "model"
            assert list(played.features) == NAMES
            assert [played.features[n] for n in NAMES] == pytest.approx(X[idx].tolist(), abs=0, nan_ok=True)

            # A future game: the roster effect in a fan's terms.
            before = await ask(bus, one("Suns", "Nets", "2023-04-05"), "fs2-future-1")
            assert isinstance(before, PredictReply), before
            (fut,) = before.predictions
            assert "The Phoenix Suns' roster projects" in fut.roster_note
            assert "than last season's" in fut.roster_note and "Brooklyn Nets' roster" in fut.roster_note

            # The trade deadline's rosters, fetched live into the store; the stats worker publishes.
            store = await open_store(root / "store.sqlite")
            try:
                await ingest_live_rosters(store, 2023, responses=answers("deadline"), today=DEADLINE)
            finally:
                await store.close()
            assert stats.rosters is not None
            assert await stats.rosters.announce() == [2023, 2024]
            await until(inference, "features_changed", lambda: inference.live.rosters_version != version)
            await until(cache, "features_changed", lambda: cache.live.rosters_version != version)
            assert inference.live.rosters_version == cache.live.rosters_version

            again = await ask(bus, one(g.home, g.away, g.date), "fs2-played-2")
            assert isinstance(again, PredictReply)
            assert again.predictions[0].features == played.features  # before the trade: unchanged
            after = await ask(bus, one("Suns", "Nets", "2023-04-05"), "fs2-future-2")
            assert isinstance(after, PredictReply)
            (fut2,) = after.predictions
            assert fut2.features["roster_diff"] != fut.features["roster_diff"]
            # The cache key names the rosters: an answer computed with the old ones is not found.
            game, results, age = cache.live.keyed(
                canonicalize(GameQuery(home="PHX", away="BKN", date="2023-04-05"), today=TODAY)
            )
            old = cache_key_for(game, results, age, MODEL, 1, None, rosters=version)
            new = cache_key_for(game, results, age, MODEL, 1, None, rosters=cache.live.rosters_version)
            assert old != new and new.endswith(f".r{cache.live.rosters_version}")
            # And the moved rows are still the offline code's rows on the store's rows.
            book2, _ = await store_book(root / "store.sqlite")
            phx, bkn = book2.strength("PHX", 2023, "2023-04-05"), book2.strength("BKN", 2023, "2023-04-05")
            assert phx is not None and bkn is not None
            assert fut2.features["roster_diff"] == pytest.approx(phx - bkn, abs=1e-5)
    finally:
        async with asyncio.timeout(WAIT):
            await contexts.close()
