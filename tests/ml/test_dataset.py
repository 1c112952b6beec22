"""What the ML code adds to the games read model: season checks and the lineage hash."""

from __future__ import annotations

import pytest

from nbamcp.data.games import games_from_rows
from nbamcp.errors import InvalidInput
from nbamcp.ml.dataset import require_seasons, snapshot_hash
from tests.data.test_games import ROWS


def test_require_seasons_names_missing_and_available() -> None:
    games = games_from_rows(ROWS)
    assert require_seasons(games, [2021, 2020], what="x") == [2020, 2021]
    with pytest.raises(InvalidInput, match=r"season\(s\) 1999.*seasons with games: 2020-2021"):
        require_seasons(games, [1999, 2020], what="train_seasons")
    with pytest.raises(InvalidInput, match="no seasons given"):
        require_seasons(games, [], what="train_seasons")


def test_snapshot_hash_tracks_content() -> None:
    games = games_from_rows(ROWS)
    assert snapshot_hash(games) == snapshot_hash(games_from_rows(ROWS))
    changed = [*games[:-1], games_from_rows([(*ROWS[0][:6], 101, 90, 0, 0, 0.6, 0.55)])[0]]
    assert snapshot_hash(changed) != snapshot_hash(games)
