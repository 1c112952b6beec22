"""Point-in-time features: no look-ahead, one code path for training and live prediction."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from nbamcp.data.games import GameRow
from nbamcp.data.players import PlayerSeason
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.ml.features import (
    FEATURE_NAMES,
    ROSTER_FEATURE_NAMES,
    FeatureState,
    build_training_matrix,
    feature_names,
    season_for_date,
)
from nbamcp.ml.rosters import RosterBook, RosterSnapshot, build_roster_book


def test_no_look_ahead_later_games_change_nothing(recent_games: list[GameRow]) -> None:
    games = [g for g in recent_games if g.season <= 2012]
    cutoff = "2011-01-15"
    early = [g for g in games if g.date < cutoff]
    X_all, y_all, meta_all = build_training_matrix(games)
    X_early, _, meta_early = build_training_matrix(early)
    n = len(early)
    assert meta_all.game_id[:n] == meta_early.game_id
    np.testing.assert_array_equal(X_all[:n], X_early)
    # Flip every later result: earlier features must not move, later ones must.
    flipped = early + [
        GameRow(
            **{
                **{f: getattr(g, f) for f in g.__struct_fields__},
                "home_pts": g.away_pts,
                "away_pts": g.home_pts,
            }
        )
        for g in games[n:]
    ]
    X_flip, y_flip, _ = build_training_matrix(flipped)
    np.testing.assert_array_equal(X_flip[:n], X_all[:n])
    assert not np.array_equal(X_flip[n:], X_all[n:])
    assert (y_flip[n:] != y_all[n:]).all()


def test_same_day_results_are_not_features_of_that_day() -> None:
    day1 = GameRow("a", "2020-01-01", 2020, "regular", "AAA", "BBB", 120, 90)
    # A doubleheader: the second game of the day must not see the first one's result.
    day2a = GameRow("b", "2020-01-02", 2020, "regular", "AAA", "BBB", 90, 120)
    day2b = GameRow("c", "2020-01-02", 2020, "regular", "AAA", "BBB", 100, 99)
    X, _, _ = build_training_matrix([day1, day2a, day2b])
    np.testing.assert_array_equal(X[1], X[2])
    assert X[1, FEATURE_NAMES.index("home_b2b")] == 1.0
    assert X[1, FEATURE_NAMES.index("home_form_margin")] == 30.0


def test_live_features_equal_training_features(recent_games: list[GameRow]) -> None:
    games = [g for g in recent_games if g.season <= 2016]
    X, _, meta = build_training_matrix(games)
    target = next(i for i, g in enumerate(games) if g.date == "2016-03-01")
    day = games[target].date
    state = FeatureState()
    state.consume_all(g for g in games if g.date < day)
    g = games[target]
    live = state.features_for(g.home, g.away, g.date, neutral=g.neutral, playoff=g.playoff)
    assert live.dtype == np.float32 and live.shape == (len(FEATURE_NAMES),)
    np.testing.assert_array_equal(live, X[target])
    assert meta.season[target] == 2016


def test_new_season_has_missing_form_and_full_rest(recent_games: list[GameRow]) -> None:
    state = FeatureState()
    state.consume_all(g for g in recent_games if g.season <= 2015)
    v = state.features_for("BOS", "NYK", "2015-10-28")
    named = dict(zip(FEATURE_NAMES, v.tolist(), strict=True))
    assert math.isnan(named["home_form_margin"]) and math.isnan(named["away_season_wins"])
    assert named["home_rest"] == 7.0 and named["season_frac"] == 0.0
    assert season_for_date(__import__("datetime").date(2015, 10, 28)) == 2016


SCHEDULE = {"home_rest", "away_rest", "home_b2b", "away_b2b", "season_frac"}


def _named(v: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, v.tolist(), strict=True))


def test_past_the_data_the_schedule_is_unknown_not_invented(recent_games: list[GameRow]) -> None:
    state = FeatureState()
    state.consume_all(g for g in recent_games if g.season <= 2015)
    unknown = _named(state.features_for("BOS", "NYK", "2017-12-01", schedule_known=False))
    known = _named(state.features_for("BOS", "NYK", "2017-12-01"))
    assert all(math.isnan(unknown[n]) for n in SCHEDULE)
    # Only the schedule facts differ: the ratings are the same code's (two summers of regression).
    same = {n for n in FEATURE_NAMES if unknown[n] == known[n] or math.isnan(known[n])}
    assert same == set(FEATURE_NAMES) - SCHEDULE
    # Within a season a team's form and share of the season are known from its games; rest is not.
    early = FeatureState()
    early.consume_all(g for g in recent_games if g.date < "2015-03-01")
    mid = _named(early.features_for("BOS", "NYK", "2015-03-10", schedule_known=False))
    assert math.isnan(mid["home_rest"]) and math.isnan(mid["away_b2b"])
    assert 0.5 < mid["season_frac"] < 1.0 and not math.isnan(mid["home_form_margin"])


def test_bad_inputs_get_clear_errors(recent_games: list[GameRow]) -> None:
    state = FeatureState()
    state.consume_all(g for g in recent_games if g.season <= 2010)
    with pytest.raises(NotFound, match=r"unknown home team 'XXX'.*BOS"):
        state.features_for("XXX", "BOS", "2010-11-01")
    with pytest.raises(NotFound, match="unknown away team"):
        state.features_for("BOS", "", "2010-11-01")
    with pytest.raises(InvalidInput, match="same team"):
        state.features_for("BOS", "BOS", "2010-11-01")
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        state.features_for("BOS", "NYK", "yesterday")
    with pytest.raises(InvalidInput, match="already holds results up to 2010-06"):
        state.features_for("BOS", "NYK", "2009-01-01")
    with pytest.raises(InvalidInput, match="form_n"):
        FeatureState(form_n=0)


# ---- fs2: rosters ------------------------------------------------------------------------------------
def _fs2(games: list[GameRow], book: RosterBook) -> tuple[np.ndarray, list[str]]:
    X, _, meta = build_training_matrix(games, rosters=book)
    return X, meta.game_id


def test_fs2_adds_roster_features_and_moves_the_elo(
    recent_games: list[GameRow], roster_book: RosterBook
) -> None:
    games = [g for g in recent_games if g.season <= 2017]
    X1, _, _ = build_training_matrix(games)
    X2, _ = _fs2(games, roster_book)
    names = feature_names("fs2")
    assert X2.shape == (len(games), len(names)) and names[: X1.shape[1]] == FEATURE_NAMES
    assert names[X1.shape[1] :] == ROSTER_FEATURE_NAMES
    col = {n: i for i, n in enumerate(names)}
    # Golden State's first game with Durant (2016-10-25 vs San Antonio, at home).
    i = next(i for i, g in enumerate(games) if g.date == "2016-10-25" and g.home == "GSW")
    assert X2[i, col["roster_diff"]] > 3.0
    assert X2[i, col["roster_diff_early"]] == X2[i, col["roster_diff"]]  # nobody has played yet
    assert X2[i, col["roster_diff_playoff"]] == 0.0
    assert X2[i, col["elo_diff"]] != X1[i, col["elo_diff"]]
    late = next(i for i, g in enumerate(games) if g.season == 2017 and g.playoff and g.home == "GSW")
    assert X2[late, col["roster_diff_early"]] == 0.0
    assert X2[late, col["roster_diff_playoff"]] == X2[late, col["roster_diff"]]
    # Before the player tables start (1990) nothing is known about rosters: NaN, imputed later.
    old = build_training_matrix([g for g in recent_games if g.season <= 2001][:5], rosters=RosterBook({}))[0]
    assert np.isnan(old[:, col["roster_diff"]]).all()


def test_later_player_seasons_never_change_earlier_features(
    recent_games: list[GameRow], all_players: list[PlayerSeason]
) -> None:
    games = [g for g in recent_games if g.season <= 2013]
    early_book = build_roster_book([p for p in all_players if p.season <= 2012])
    X_early, ids = _fs2(games, early_book)
    X_all, ids_all = _fs2(games, build_roster_book(all_players))
    assert ids == ids_all
    n = sum(1 for g in games if g.season <= 2012)
    np.testing.assert_array_equal(X_early[:n], X_all[:n])
    # 2013 itself: the full book knows 2013's table (the proxy), the early one only 2012's rosters.
    assert not np.array_equal(X_early[n:], X_all[n:])


def test_a_later_trade_never_changes_earlier_features(
    recent_games: list[GameRow], roster_book: RosterBook
) -> None:
    games = [g for g in recent_games if g.season <= 2012]
    X, _ = _fs2(games, roster_book)
    traded = copy.deepcopy(roster_book)
    # Denver sends Carmelo Anthony to New York on 2011-02-22 (the proxy has him in Denver all season).
    den = traded.snapshot("DEN", 2011, "")
    nyk = traded.snapshot("NYK", 2011, "")
    assert "anthoca01" in den.players
    traded.add(RosterSnapshot("DEN", 2011, "2011-02-22", tuple(p for p in den.players if p != "anthoca01")))
    traded.add(RosterSnapshot("NYK", 2011, "2011-02-22", (*nyk.players, "anthoca01")))
    X_t, _ = _fs2(games, traded)
    cut = next(i for i, g in enumerate(games) if g.date >= "2011-02-22")
    np.testing.assert_array_equal(X_t[:cut], X[:cut])
    col = feature_names("fs2").index("roster_diff")
    after = [i for i, g in enumerate(games[cut:], cut) if g.season == 2011 and "NYK" in (g.home, g.away)]
    assert after and all(X_t[i, col] != X[i, col] for i in after)


def test_fs2_live_features_equal_training_features(
    recent_games: list[GameRow], roster_book: RosterBook
) -> None:
    games = [g for g in recent_games if g.season <= 2016]
    X, _ = _fs2(games, roster_book)
    target = next(i for i, g in enumerate(games) if g.date == "2016-03-01")
    state = FeatureState(rosters=roster_book)
    state.consume_all(g for g in games if g.date < "2016-03-01")
    g = games[target]
    live = state.features_for(g.home, g.away, g.date, neutral=g.neutral, playoff=g.playoff)
    assert state.feature_set == "fs2" and live.shape == (len(feature_names("fs2")),)
    np.testing.assert_array_equal(live, X[target])
