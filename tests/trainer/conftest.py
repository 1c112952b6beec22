"""Fixtures for the trainer tests: a real store, a fresh home per test, the trainer on a real bus.

The store is built once per session by the data package's ingestion from the
real 538 games file, cut to the seasons from ``FIRST_SEASON`` on (fewer games
to walk: every training here stays well under a few seconds), and the real
player tables the roster model projects from (Basketball-Reference advanced
stats, FiveThirtyEight RAPTOR).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from nbamcp.bus.base import Bus, Msg
from nbamcp.bus.memory import InMemoryBus
from nbamcp.config import StatsConfig, TrainerConfig, WorkersConfig
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.messages import ModelsChanged, TrainProgress, decode
from tests.contexts import Contexts, home_config, mark_all_announced
from workers.stats import StatsWorker
from workers.trainer import TrainerWorker

FIRST_SEASON = 2014
LAST_SEASON = 2023
WAIT = 30.0  # bound on every wait in these tests


class Home:
    """A fresh home per test and the worker contexts of the buses its workers run on."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store.sqlite"
        self.registry = root / "registry.sqlite"
        self.artifacts = root / "artifacts"
        self.contexts = Contexts(root)


def _cut_csv(src: Path, dst: Path) -> None:
    with src.open(newline="") as f, dst.open("w", newline="") as out:
        reader = csv.reader(f)
        header = next(reader)
        w = csv.writer(out)
        w.writerow(header)
        season = header.index("season")
        w.writerows(r for r in reader if int(r[season]) >= FIRST_SEASON)


@pytest.fixture(scope="session")
def games_csv(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 538 rows of seasons FIRST_SEASON.. (what the test store holds)."""
    path = tmp_path_factory.mktemp("trainer-data") / "games_538_recent.csv"
    _cut_csv(data_dir / "games" / "games_538_1947_2023.csv", path)
    return path


PLAYER_FILES = ("player_advanced_regular_1990_2024.csv", "raptor_by_player_1977_2022.csv")


@pytest.fixture(scope="session")
def base_store(games_csv: Path, data_dir: Path) -> Path:
    path = games_csv.parent / "store.sqlite"
    players = games_csv.parent / "players"
    players.mkdir()
    for name in PLAYER_FILES:
        shutil.copy(data_dir / "players" / name, players / name)

    async def build() -> None:
        store = await open_store(path)
        try:
            await ingest_paths(store, [games_csv, players])
        finally:
            await store.close()
        await mark_all_announced(path)

    asyncio.run(build())
    return path


@pytest.fixture
async def home(base_store: Path, tmp_path: Path) -> AsyncIterator[Home]:
    """A fresh home per test: a copy of the store, no registry yet."""
    root = tmp_path / "home"
    root.mkdir()
    shutil.copy(base_store, root / "store.sqlite")
    h = Home(root)
    try:
        yield h
    finally:
        async with asyncio.timeout(WAIT):
            await h.contexts.close()


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    b = InMemoryBus()
    yield b
    async with asyncio.timeout(WAIT):
        await b.close()


async def make_trainer(bus: Bus, home: Home, **settings: object) -> TrainerWorker:
    options: dict[str, object] = {"auto_train": False, "budget": "tiny", "train_from": 2016}
    options.update(settings)
    config = home_config(
        home.root,
        trainer=TrainerConfig(**options),  # type: ignore[arg-type]
        workers=WorkersConfig(stop_deadline_s=WAIT),
    )
    return TrainerWorker(await home.contexts.get(bus, config))


def stats_beside(trainer: TrainerWorker) -> StatsWorker:
    """The stats worker of the trainer's home, in the same process: the trainer gets the games from it."""
    config = home_config(trainer.config.home, stats=StatsConfig(auto_ingest=False))
    return StatsWorker(dataclasses.replace(trainer.ctx, config=config))


@asynccontextmanager
async def running(actor: TrainerWorker) -> AsyncIterator[TrainerWorker]:
    """The stats worker beside it, then the trainer."""
    stats = stats_beside(actor)
    async with asyncio.timeout(WAIT):
        await stats.start()
        await actor.start()
    try:
        yield actor
    finally:
        async with asyncio.timeout(WAIT):
            await actor.stop(WAIT)
            await stats.stop()


class Events:
    """Every message of one decoded type on a subject pattern; tests await them (no polling)."""

    def __init__(self, type_: type) -> None:
        self.type = type_
        self.items: list = []
        self._changed = asyncio.Condition()

    async def __call__(self, msg: Msg) -> None:
        async with self._changed:
            self.items.append(decode(msg.data, self.type))
            self._changed.notify_all()

    async def wait_until(self, done: object) -> list:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: done(self.items))  # type: ignore[operator]
        return self.items


def finished(items: list[TrainProgress]) -> bool:
    return any(e.state in ("done", "failed", "cancelled") for e in items)


async def progress_events(bus: Bus, pattern: str) -> Events:
    ev = Events(TrainProgress)
    await bus.subscribe(pattern, ev)
    return ev


async def models_changed(bus: Bus) -> Events:
    from nbamcp.subjects import MODELS_CHANGED

    ev = Events(ModelsChanged)
    await bus.subscribe(MODELS_CHANGED, ev)
    return ev
