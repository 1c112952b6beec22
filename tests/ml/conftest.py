"""Fixtures for the ML tests: real games and player seasons from the shared files, small models.

``data_dir`` comes from tests/conftest.py (NBAMCP_DATA_DIR or ../shared/data).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nbamcp.data.games import GameRow
from nbamcp.data.players import PlayerSeason
from nbamcp.ml.rosters import RosterBook, build_roster_book
from nbamcp.ml.train import SMALL_BUDGET, TrainResult, train
from tests.ml.csv_games import load_csv_games
from tests.ml.csv_players import load_csv_players

# Ratings warm up from here; the small models train on a few seasons after it.
WARMUP_FROM = 2000
SMALL_TRAIN = range(2008, 2014)
SMALL_VALID = [2014, 2015]


@pytest.fixture(scope="session")
def all_games(data_dir: Path) -> list[GameRow]:
    return load_csv_games(data_dir / "games" / "games_538_1947_2023.csv")


@pytest.fixture(scope="session")
def recent_games(all_games: list[GameRow]) -> list[GameRow]:
    return [g for g in all_games if g.season >= WARMUP_FROM]


@pytest.fixture(scope="session")
def small_result(recent_games: list[GameRow]) -> TrainResult:
    """One trained + exported model (all three candidate families, small search)."""
    games = [g for g in recent_games if g.season <= max(SMALL_VALID)]
    return train(games, train_seasons=SMALL_TRAIN, valid_seasons=SMALL_VALID, seed=0, budget=SMALL_BUDGET)


@pytest.fixture(scope="session")
def all_players(data_dir: Path) -> list[PlayerSeason]:
    return load_csv_players(data_dir)


@pytest.fixture(scope="session")
def roster_book(all_players: list[PlayerSeason]) -> RosterBook:
    """Projections for 1991-2025 and the season-table rosters (the backtests' proxy)."""
    return build_roster_book(all_players)
