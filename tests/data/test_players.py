"""The player-seasons read model: the store's rows equal the CSVs, malformed rows are refused."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from nbamcp.data.ingest import ingest_paths
from nbamcp.data.players import load_player_seasons, players_from_rows, read_player_seasons
from nbamcp.data.store import open_store
from nbamcp.errors import DataQualityError, Unavailable
from tests.ml.csv_players import load_csv_players


async def test_store_rows_equal_the_csv_rows(data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "players"
    src.mkdir()
    for name in ("player_advanced_regular_1990_2024.csv", "raptor_by_player_1977_2022.csv"):
        shutil.copy(data_dir / "players" / name, src / name)
    store = await open_store(tmp_path / "store.sqlite")
    try:
        await ingest_paths(store, [src], today=dt.date(2024, 12, 1))
        until = await load_player_seasons(store.conn, season_to=2000)
    finally:
        await store.close()
    rows = await read_player_seasons(tmp_path / "store.sqlite")
    expected = load_csv_players(data_dir)
    assert rows == expected and len(rows) == 20071
    assert until == [p for p in expected if p.season <= 2000]
    assert any(p.raptor is not None for p in rows) and any(p.team is None for p in rows)  # RAPTOR, TOT rows
    with pytest.raises(Unavailable, match="no store at"):
        await read_player_seasons(tmp_path / "nowhere.sqlite")


def test_malformed_rows_are_refused() -> None:
    ok = ("a01", 2020, "BOS", 1, 25, 10, 200.0, 1.5, None)
    assert players_from_rows([ok])[0].bpm == 1.5
    with pytest.raises(DataQualityError, match="expected 9"):
        players_from_rows([ok[:5]])
    with pytest.raises(DataQualityError, match="stint 0 with team 'BOS'"):
        players_from_rows([("a01", 2020, "BOS", 0, 25, 10, 200.0, 1.5, None)])
    with pytest.raises(DataQualityError, match="no player_id"):
        players_from_rows([("", 2020, "BOS", 1, 25, 10, 200.0, 1.5, None)])
