"""Live features are the training features: same rows, same state, point in time."""

from __future__ import annotations

import numpy as np
import pytest

from nbamcp.ml.features import FeatureState, build_training_matrix
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.live_features import LiveFeatures, NeedsRebuild
from tests.serving.conftest import Data


def game(home: str, away: str, date: str, season: int, neutral: bool = False) -> CanonicalGame:
    return CanonicalGame(home, away, date, season, neutral, home, away)


@pytest.fixture(scope="module")
def recent(serving_data: Data) -> list:
    return [g for g in serving_data.games if g.season >= 2021]


def test_rows_equal_the_training_matrix(recent: list) -> None:
    live = LiveFeatures(recent)
    X, _, _ = build_training_matrix(recent)
    np.testing.assert_array_equal(np.vstack(live.rows), X)


def test_incremental_results_equal_a_full_replay(recent: list) -> None:
    cut = next(i for i, g in enumerate(recent) if g.season == 2023)
    while recent[cut].date == recent[cut - 1].date:  # whole days only
        cut += 1
    live = LiveFeatures(recent[:cut])
    assert live.add(recent[cut:]) == recent[cut:]
    assert live.add(recent[cut:]) == []  # already seen: nothing happens
    full = LiveFeatures(recent)
    np.testing.assert_array_equal(np.vstack(live.rows), np.vstack(full.rows))
    q = [game("BOS", "LAL", "2023-06-10", 2023)]
    np.testing.assert_array_equal(live.resolve(q)[0].x, full.resolve(q)[0].x)
    assert live.results("BOS") == full.results("BOS") > 0


def test_older_results_need_a_rebuild(recent: list) -> None:
    live = LiveFeatures(recent[1:])
    with pytest.raises(NeedsRebuild, match="not after the latest"):
        live.add(recent[:1])


def test_past_hypothetical_game_uses_only_earlier_results(recent: list) -> None:
    live = LiveFeatures(recent)
    date = "2022-01-15"
    (r,) = live.resolve([game("BOS", "SAC", date, 2022)])
    assert r.played is None
    state = FeatureState()
    state.consume_all(g for g in recent if g.date < date)
    np.testing.assert_array_equal(r.x, state.features_for("BOS", "SAC", date, season=2022))


def test_played_game_uses_its_own_row_and_facts(recent: list) -> None:
    live = LiveFeatures(recent)
    i, g = next((i, g) for i, g in enumerate(recent) if g.playoff and g.season == 2022)
    (r,) = live.resolve([game(g.home, g.away, g.date, g.season, neutral=not g.neutral)])
    assert r.played == g and r.playoff and r.game.neutral == g.neutral
    np.testing.assert_array_equal(r.x, live.rows[i])


def test_playoffs_are_inferred_once_they_have_started(recent: list) -> None:
    live = LiveFeatures(recent)
    first = min(g.date for g in recent if g.season == 2022 and g.playoff)
    assert live.playoff_on(2022, first) and not live.playoff_on(2022, "2022-03-01")
    (r,) = live.resolve([game("BOS", "LAL", "2022-06-30", 2022)])
    assert r.playoff and r.x[10] == 1.0  # the "playoff" feature


def test_the_cache_key_parts_equal_the_resolved_games(recent: list) -> None:
    live = LiveFeatures(recent)
    played = recent[-1]
    # Asked as a home game although it was played on a neutral court (or the reverse).
    asked = [
        game(played.home, played.away, played.date, played.season, neutral=not played.neutral),
        game("BOS", "LAL", "2099-01-01", 2099),  # after the latest result
        game("BOS", "LAL", recent[len(recent) // 2].date, recent[len(recent) // 2].season),  # in the past
    ]
    for g, r in zip(asked, live.resolve(asked), strict=True):
        assert live.keyed(g) == (r.game, (r.home_results, r.away_results), r.age)
    assert live.keyed(asked[0])[0].neutral == played.neutral
