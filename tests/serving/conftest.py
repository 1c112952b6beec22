"""Fixtures for the serving tests: a real store, real small models, real workers on a real bus.

Session-scoped (built once, then copied per test):
- a store (SQLite, ingested by the data package) holding the 538 games of the
  2016-2023 seasons up to ``CUTOFF``; the games after it are kept in a CSV
  that tests ingest to play "new results arrive";
- three small models trained by ``nbamcp.ml.train.train`` on a few seasons:
  two logistic regressions (v1, v2 for reloads) and one gradient-boosted tree.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, WorkerContext
from nbamcp.bus.base import Bus, Msg
from nbamcp.bus.memory import InMemoryBus
from nbamcp.calls import call
from nbamcp.config import CacheConfig, Config, InferenceConfig, StatsConfig, TrainerConfig
from nbamcp.data.games import GameRow, load_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.messages import IngestReply, IngestRequest, PredictionEvent, PromoteRequest, decode
from nbamcp.ml.registry import ModelRegistry
from nbamcp.ml.train import Budget, HgbParams, TrainResult, register_result, train
from nbamcp.subjects import EVENTS_PREDICTION
from tests.contexts import Contexts, home_config, mark_all_announced
from workers.cache import CacheWorker
from workers.inference import InferenceWorker
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

FIRST_SEASON = 2016
CUTOFF = "2023-03-31"  # the base store's latest results
TODAY = dt.date(2023, 4, 1)  # the workers' "today" in these tests
MODEL = "game"
WAIT = 20.0  # bound on every wait in these tests


@dataclass(frozen=True)
class Data:
    store: Path  # the base store (closed; copy it before writing)
    later_csv: Path  # 538 rows after CUTOFF
    games: list[GameRow]  # the base store's games


@dataclass(frozen=True)
class Models:
    lr1: TrainResult
    lr2: TrainResult
    hgb: TrainResult


def _split_csv(src: Path, base: Path, later: Path) -> None:
    with src.open(newline="") as f, base.open("w", newline="") as b, later.open("w", newline="") as lt:
        reader = csv.reader(f)
        header = next(reader)
        wb, wl = csv.writer(b), csv.writer(lt)
        wb.writerow(header)
        wl.writerow(header)
        date_i, season_i = header.index("date"), header.index("season")
        for row in reader:
            if int(row[season_i]) < FIRST_SEASON:
                continue
            (wb if row[date_i] <= CUTOFF else wl).writerow(row)


@pytest.fixture(scope="session")
def serving_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Data:
    root = tmp_path_factory.mktemp("serving-data")
    base_csv, later_csv = root / "base.csv", root / "later.csv"
    _split_csv(data_dir / "games" / "games_538_1947_2023.csv", base_csv, later_csv)

    async def build() -> list[GameRow]:
        store = await open_store(root / "store.sqlite")
        try:
            await ingest_paths(store, [base_csv])
            return await load_games(store.conn)
        finally:
            await store.close()

    games = asyncio.run(build())
    asyncio.run(mark_all_announced(root / "store.sqlite"))
    return Data(root / "store.sqlite", later_csv, games)


@pytest.fixture(scope="session")
def models(serving_data: Data) -> Models:
    games = [g for g in serving_data.games if g.season <= 2019]
    lr = Budget(candidates=("logreg",), lr_cs=(1.0,), cv_folds=1)
    lr1 = train(games, train_seasons=[2017, 2018], valid_seasons=[2019], budget=lr)
    lr2 = train(
        games,
        train_seasons=[2017, 2018],
        valid_seasons=[2019],
        budget=Budget(candidates=("logreg",), lr_cs=(0.01,), cv_folds=1),
    )
    hgb = Budget(candidates=("hgb",), hgb_grid=(HgbParams(max_iter=30, max_leaf_nodes=7),), cv_folds=1)
    return Models(lr1, lr2, train(games, train_seasons=[2017, 2018], valid_seasons=[2019], budget=hgb))


class Home:
    """A fresh home per test (a copy of the base store, an empty registry), and the worker contexts
    of the buses the test's workers run on."""

    def __init__(self, root: Path, later_csv: Path) -> None:
        self.root = root
        self.store = root / "store.sqlite"
        self.registry = root / "registry.sqlite"
        self.artifacts = root / "artifacts"
        self.later_csv = later_csv
        self.contexts = Contexts(root)

    def config(self, **sections: object) -> Config:
        return home_config(self.root, **sections)

    async def context(self, bus: Bus, config: Config) -> WorkerContext:
        return await self.contexts.get(bus, config)


@pytest.fixture
async def home(serving_data: Data, tmp_path: Path) -> AsyncIterator[Home]:
    root = tmp_path / "home"
    root.mkdir()
    shutil.copy(serving_data.store, root / "store.sqlite")
    h = Home(root, serving_data.later_csv)
    try:
        yield h
    finally:
        async with asyncio.timeout(WAIT):
            await h.contexts.close()


async def register(home: Home, result: TrainResult, *, alias: str | None = "champion") -> int:
    """Register ``result`` as the next version of MODEL in the trainer's registry; point ``alias`` at it.

    What a training job does, before the trainer starts (it then publishes the artifacts
    and the aliases); with a trainer running, move aliases with ``promote``."""
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        mv = await register_result(reg, MODEL, result)
        if alias is not None:
            await reg.set_alias(MODEL, alias, mv.version, actor="test", reason="test")
    return mv.version


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    b = InMemoryBus()
    yield b
    async with asyncio.timeout(WAIT):
        await b.close()


async def make_stats(bus: Bus, home: Home) -> StatsWorker:
    """The stats worker of the home's store: the games reach every other worker from it."""
    stats = StatsConfig(auto_ingest=False, ingest_roots=[str(home.later_csv.parent)])
    return StatsWorker(await home.context(bus, home.config(stats=stats)))


async def ingest(bus: Bus, path: Path) -> IngestReply:
    """What ``ingest_games`` does: the stats worker ingests, then announces the new games."""
    return await call(
        bus, ep.INGEST, IngestRequest(paths=[str(path)]), timeout_s=WAIT, request_id=f"ingest-{path.name}"
    )


def last_date(csv_path: Path) -> str:
    """The latest game date of a 538-layout CSV."""
    with csv_path.open(newline="") as f:
        return max(r["date"] for r in csv.DictReader(f))


async def make_trainer(bus: Bus, home: Home) -> TrainerWorker:
    config = home.config(trainer=TrainerConfig(model_name=MODEL, auto_train=False))
    return TrainerWorker(await home.context(bus, config))


async def promote(bus: Bus, version: int, alias: str = "champion") -> None:
    """Move ``alias`` through the trainer: it publishes the artifact, then announces the change."""
    await call(
        bus, ep.MODELS_PROMOTE, PromoteRequest(name=MODEL, version=version, alias=alias, actor="test"),
        timeout_s=WAIT, request_id=f"promote-{alias}-{version}",
    )  # fmt: skip


@asynccontextmanager
async def serving(bus: Bus, home: Home, *actors: Actor) -> AsyncIterator[TrainerWorker]:
    """The stats worker and the trainer (the owners: games and models reach the serving workers
    from them, over the bus), then ``actors``."""
    trainer = await make_trainer(bus, home)
    async with running(await make_stats(bus, home), trainer, *actors):
        yield trainer


async def make_inference(bus: Bus, home: Home, **settings: object) -> InferenceWorker:
    inference = InferenceConfig(model_name=MODEL, **settings)  # type: ignore[arg-type]
    return InferenceWorker(await home.context(bus, home.config(inference=inference)), today=lambda: TODAY)


async def make_cache(bus: Bus, home: Home, clock: object = None, **settings: object) -> CacheWorker:
    kw = {} if clock is None else {"clock": clock}
    config = home.config(cache=CacheConfig(**settings), inference=InferenceConfig(model_name=MODEL))  # type: ignore[arg-type]
    return CacheWorker(await home.context(bus, config), today=lambda: TODAY, **kw)  # type: ignore[arg-type]


@asynccontextmanager
async def running(*actors: Actor) -> AsyncIterator[None]:
    """Start the actors (in order), stop them (in reverse) at the end."""
    started = []
    try:
        for a in actors:
            async with asyncio.timeout(WAIT):
                await a.start()
            started.append(a)
        yield
    finally:
        for a in reversed(started):
            async with asyncio.timeout(WAIT):
                await a.stop(5.0)


class Recorder:
    """Every PredictionEvent published on the bus; tests await them (no polling)."""

    def __init__(self) -> None:
        self.events: list[PredictionEvent] = []
        self._changed = asyncio.Condition()

    async def __call__(self, msg: Msg) -> None:
        async with self._changed:
            self.events.append(decode(msg.data, PredictionEvent))
            self._changed.notify_all()

    def by(self, rid: str) -> list[PredictionEvent]:
        return [e for e in self.events if e.request_id == rid]

    async def wait_for(self, rid: str | None, n: int = 1) -> list[PredictionEvent]:
        """The events of ``rid`` (every event when None) once there are at least ``n``."""

        def enough() -> bool:
            return len(self.events if rid is None else self.by(rid)) >= n

        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(enough)
        return self.events if rid is None else self.by(rid)


@pytest.fixture
async def recorder(bus: Bus) -> Recorder:
    r = Recorder()
    await bus.subscribe(EVENTS_PREDICTION, r)
    return r


async def wait_fills(cache: CacheWorker, n: int) -> None:
    """Until the cache has taken ``n`` fills (they arrive as events after the reply)."""
    async with asyncio.timeout(WAIT):
        while cache.fills < n:
            await cache.filled.wait()


class FakeClock:
    """A clock tests move by hand (TTL, breaker cooldown)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield FakeClock()
