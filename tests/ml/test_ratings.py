"""The project's Elo: margin of victory, learnt home court, carry-over, the rating series."""

from __future__ import annotations

import statistics

import pytest

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.ratings import (
    DEFAULT_ELO,
    Elo,
    EloParams,
    mov_multiplier,
    rating_series,
    tune_elo,
    walk_forward_log_loss,
)


def game(
    gid: str, date: str, season: int, home: str, away: str, hp: int, ap: int, neutral: bool = False
) -> GameRow:
    return GameRow(gid, date, season, "regular", home, away, hp, ap, neutral=neutral)


def test_new_team_starts_at_mean_and_update_is_zero_sum() -> None:
    elo = Elo(EloParams(hca_window=0, home_adv=100.0))
    assert elo.rating("XYZ", 2020) == 1500.0
    hb, ab, ha, aa = elo.update(game("1", "2020-01-01", 2020, "AAA", "BBB", 120, 100))
    assert (hb, ab) == (1500.0, 1500.0)
    assert ha > 1500.0 > aa
    assert ha - hb == pytest.approx(ab - aa)


def test_bigger_margins_move_more_but_less_for_favourites() -> None:
    assert mov_multiplier(20, 0.0) > mov_multiplier(5, 0.0)
    assert mov_multiplier(20, 200.0) < mov_multiplier(20, 0.0)


def test_carry_over_pulls_toward_the_mean_between_seasons() -> None:
    elo = Elo(EloParams(carry=0.5, hca_window=0))
    elo.update(game("1", "2020-01-01", 2020, "AAA", "BBB", 130, 90))
    r = elo.rating("AAA", 2020)
    assert elo.rating("AAA", 2021) == pytest.approx(1500.0 + 0.5 * (r - 1500.0))


def test_every_season_boundary_crossed_pulls_once_more() -> None:
    """Three summers without a game regress three times, as three seasons of training would."""
    elo = Elo(EloParams(carry=0.5, hca_window=0))
    elo.update(game("1", "2020-01-01", 2020, "AAA", "BBB", 130, 90))
    r = elo.rating("AAA", 2020)
    assert elo.rating("AAA", 2023) == pytest.approx(1500.0 + 0.5**3 * (r - 1500.0))


def test_the_spread_of_a_season_and_of_ratings_carried_further() -> None:
    """Each team-season's move (its end minus its carried-over start), and the deviation left
    after several summers: each adds a season's move, each shrinks what came before by carry."""
    elo = Elo(EloParams(carry=0.5, hca_window=0))
    teams = [f"T{i}" for i in range(12)]
    assert elo.season_spread() is None and elo.spread_after(3) is None
    for season in (2020, 2021, 2022, 2023):
        for i in range(0, 12, 2):
            h, a = teams[i], teams[i + 1]
            elo.update(game(f"{season}-{i}", f"{season}-01-01", season, h, a, 100 + i * (season % 3), 100))
    starts: dict[str, float] = {}
    moves = []
    replay = Elo(EloParams(carry=0.5, hca_window=0))
    for season in (2020, 2021, 2022, 2023):
        for i in range(0, 12, 2):
            h, a = teams[i], teams[i + 1]
            hb, ab, ha, aa = replay.update(
                game(f"{season}-{i}", f"{season}-01-01", season, h, a, 100 + i * (season % 3), 100)
            )
            for t, before, after in ((h, hb, ha), (a, ab, aa)):
                if season > 2020:
                    moves.append(starts[t + "end"] - starts[t])
                starts[t], starts[t + "end"] = before, after
    assert len(moves) == 36
    sd = elo.season_spread()
    assert sd == pytest.approx(statistics.pstdev(moves))
    assert elo.spread_after(1) == pytest.approx(sd)
    assert elo.spread_after(3) == pytest.approx(sd * ((1 - 0.25**3) / (1 - 0.25)) ** 0.5)


def test_a_season_past_the_data_keeps_the_last_learnt_home_court() -> None:
    elo = Elo(EloParams(hca_window=1, home_adv=100.0))
    teams = [f"T{i}" for i in range(20)]
    for i in range(600):
        h, a = teams[i % 20], teams[(i + 1 + i // 20) % 20]
        elo.update(game(str(i), "2020-01-01", 2020, h, a, 110 if i % 4 else 100, 105))
    learnt = elo.home_adv(2021)
    assert learnt != 100.0 and elo.home_adv(2024) == pytest.approx(learnt)


def test_learnt_home_court_uses_earlier_seasons_only() -> None:
    elo = Elo(EloParams(hca_window=1, home_adv=100.0))
    # A season where home teams win 3 of 4 games (500+ games needed to learn: repeat).
    teams = [f"T{i}" for i in range(20)]
    for i in range(600):
        h, a = teams[i % 20], teams[(i + 7) % 20]
        win = i % 4 != 0
        elo.update(game(str(i), "2010-01-01", 2010, h, a, 100 if win else 90, 90 if win else 100))
    assert elo.home_adv(2010) == 100.0  # the season's own games do not feed its home court
    learnt = elo.home_adv(2011)
    assert learnt == pytest.approx(1.1 * 400 * 0.47712, rel=1e-3)  # log10(3) = 0.47712


def test_rating_series_chains_before_and_after(recent_games: list[GameRow]) -> None:
    games = [g for g in recent_games if g.season == 2016]
    series = rating_series(games)
    assert len(series) == 2 * len(games)
    last: dict[str, float] = {}
    for pt in series:
        if pt.team in last:
            assert pt.rating_before == pytest.approx(last[pt.team], abs=0.01)
        last[pt.team] = pt.rating_after
    gsw = [p for p in series if p.team == "GSW"]
    assert gsw[-1].rating_after > 1700  # the 73-9 Warriors


def test_tuning_ranks_by_walk_forward_log_loss(all_games: list[GameRow]) -> None:
    old = [g for g in all_games if g.season <= 1985]
    res = tune_elo(old, score_from=1984, score_to=1985, ks=(10.0, 20.0), carries=(0.75,), hca_windows=(1,),
                   hca_scales=(1.1,))  # fmt: skip
    assert [r.log_loss for r in res] == sorted(r.log_loss for r in res)
    assert res[0].n == sum(1 for g in old if g.season >= 1984)
    with pytest.raises(InvalidInput, match="no games to score"):
        walk_forward_log_loss(old, DEFAULT_ELO, score_from=2030, score_to=2031)
    with pytest.raises(InvalidInput, match="carry"):
        Elo(EloParams(carry=1.5))


def test_season_prior_moves_the_start_and_is_fixed_by_the_first_result() -> None:
    known: dict[str, float] = {}

    def prior(team: str, season: int, date: str) -> float | None:
        return known.get(team) if date >= "2021-01-01" else None  # a roster known from Jan 1st

    elo = Elo(EloParams(hca_window=0, home_adv=0.0), prior=prior, prior_share=0.5)
    elo.update(game("1", "2020-03-01", 2020, "AAA", "BBB", 130, 100))
    carried = 1500.0 + 0.75 * (elo.rating("AAA", 2020) - 1500.0)
    known["AAA"] = -100.0  # the roster got a lot worse
    assert elo.rating("AAA", 2021, "2020-12-30") == pytest.approx(carried)
    start = carried + 0.5 * (1400.0 - carried)
    assert elo.rating("AAA", 2021, "2021-01-02") == pytest.approx(start)
    hb, _, ha, _ = elo.update(game("2", "2021-01-02", 2021, "AAA", "BBB", 100, 101))
    assert hb == pytest.approx(start)
    known["AAA"] = 300.0  # news after the first game cannot rewrite the season's start
    assert elo.rating("AAA", 2021, "2021-02-01") == pytest.approx(ha)
    with pytest.raises(InvalidInput, match="prior_share"):
        Elo(prior=prior, prior_share=2.0)
