"""The anomaly screen on real seasons: a real week passes, a fabricated one (impossible margins, mass
upsets, a team twice on one day) is flagged game by game, with its reason and numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nbamcp.dataplane.screen import pregame_home_probs
from nbamcp.messages import GameRow
from nbamcp.ml.ratings import Elo
from nbamcp.monitoring.anomalies import AnomalyRules, EraScales, rescore_reason, screen
from tests.ml.csv_games import load_csv_games

CUT = "2023-03-31"
RULES = AnomalyRules()


@pytest.fixture(scope="module")
def real() -> list[GameRow]:
    return [g for g in load_csv_games(season_from=2021) if g.season_type == "regular"]


@pytest.fixture(scope="module")
def history(real: list[GameRow]) -> list[GameRow]:
    return [g for g in real if g.date <= CUT]


def ranked(history: list[GameRow]) -> list[str]:
    """Teams by their Elo at the cut, best first."""
    elo = Elo()
    for g in history:
        elo.update(g)
    teams = {g.home for g in history if g.season == 2023}
    return sorted(teams, key=lambda t: -elo.rating(t, 2023, CUT))


def fake(day: str, home: str, away: str, hp: int, ap: int) -> GameRow:
    return GameRow(f"{day}-{away}-{home}-9", day, 2023, "regular", home, away, hp, ap)


def fabricated_week(history: list[GameRow]) -> tuple[list[GameRow], list[GameRow]]:
    """(impossible margins, mass upsets): seven days after the cut, no team twice on a day."""
    teams = ranked(history)
    elo = Elo()
    for g in history:
        elo.update(g)
    # Heavy favourites at home (> 0.85 by the ratings) against the league's weakest teams.
    pairs = [
        (h, a) for h in teams[:8] for a in teams[-8:] if elo.prob(h, a, 2023, neutral=False, date=CUT) > 0.85
    ]
    start = date.fromisoformat(CUT) + timedelta(days=1)
    margins, upsets = [], []
    for d in range(7):
        day = (start + timedelta(days=d)).isoformat()
        busy: set[str] = set()
        # The favourites lose, by ordinary scores: only their number is odd.
        for h, a in pairs[d * 5 % len(pairs) :] + pairs:
            if len(busy) == 6:
                break
            if not busy & {h, a}:
                busy |= {h, a}
                upsets.append(fake(day, h, a, 104, 111 + d))
        # Two mid-table teams, a 130-point margin (a swapped or mistyped score).
        margins.append(fake(day, teams[10 + d % 5], teams[17 + d % 5], 190, 60 - d))
    return margins, upsets


def test_a_real_week_passes(real: list[GameRow], history: list[GameRow]) -> None:
    week = [g for g in real if "2023-04-01" <= g.date <= "2023-04-07"]
    assert len(week) > 40
    probs = pregame_home_probs(history, week)
    assert screen(week, history, probs, RULES) == {}


def test_a_fabricated_week_is_flagged_game_by_game(history: list[GameRow]) -> None:
    margins, upsets = fabricated_week(history)
    week = sorted([*margins, *upsets], key=lambda g: g.date)
    probs = pregame_home_probs(history, week)
    # The fabricated upsets are heavy favourites beaten (the Elo's pre-game view).
    assert len(upsets) == 21 and all(probs[g.game_id] > 0.85 for g in upsets)
    found = screen(week, history, probs, RULES)
    rules = {gid: {f.rule for f in fs} for gid, fs in found.items()}
    assert all(rules.get(g.game_id) == {"score_outlier"} for g in margins), rules
    # A week's file: every upset is in a window of improbably many, the first day's too.
    flagged = {g.game_id for g in upsets if "mass_upsets" in rules.get(g.game_id, set())}
    assert flagged == {g.game_id for g in upsets}
    f = found[margins[0].game_id][0]
    assert f.numbers["margin"] == 130 and f.numbers["z_margin"] > RULES.score_k
    assert "robust deviations" in f.reason and "season 2023" in f.reason
    u = next(fnd for gid in sorted(flagged) for fnd in found[gid] if fnd.rule == "mass_upsets")
    assert u.numbers["p_value"] < RULES.upset_alpha and u.numbers["upsets"] >= RULES.min_upsets


def test_day_by_day_the_burst_is_flagged_once_it_is_improbable(history: list[GameRow]) -> None:
    """Ingested a day at a time (the earlier days accepted): three upsets of favourites is a day of
    basketball; the days after, once the window holds improbably many, are flagged."""
    _, upsets = fabricated_week(history)
    accepted, flagged_days = list(history), []
    for day in sorted({g.date for g in upsets}):
        cands = [g for g in upsets if g.date == day]
        found = screen(cands, accepted, pregame_home_probs(accepted, cands), RULES)
        if found:
            flagged_days.append(day)
        # What is not held is accepted (and moves the ratings, as it would in the worker).
        accepted.extend(g for g in cands if g.game_id not in found)
    first = upsets[0].date
    assert first not in flagged_days and len(flagged_days) >= 3, flagged_days


def test_the_candidates_do_not_move_the_ratings_they_are_judged_by(history: list[GameRow]) -> None:
    _, upsets = fabricated_week(history)
    alone = pregame_home_probs(history, upsets[-1:])
    together = pregame_home_probs(history, upsets)
    assert together[upsets[-1].game_id] == alone[upsets[-1].game_id]


def test_a_team_twice_on_one_day(history: list[GameRow]) -> None:
    day = "2023-04-01"
    twice = [fake(day, "BOS", "NYK", 110, 100), fake(day, "MIA", "BOS", 99, 101)]
    found = screen(twice, history, {}, RULES)
    assert {f.rule for fs in found.values() for f in fs} == {"team_day"}
    assert "BOS would play 2 games on 2023-04-01" in found[twice[0].game_id][0].reason
    # A stored game on that day counts too: one new game for a team that already played.
    found = screen(twice[1:], [*history, twice[0]], {}, RULES)
    assert [f.rule for f in found[twice[1].game_id]] == ["team_day"]


def test_era_scales_follow_the_season_and_fill_up_early_seasons(history: list[GameRow]) -> None:
    scales = EraScales(history, min_reference=300)
    total_2023, _ = scales.scales(2023) or (None, None)
    assert total_2023 is not None and 220 < total_2023.median < 240 and total_2023.n >= 1000
    # A season with 10 games so far borrows the season before it.
    season_2023 = [g for g in history if g.season == 2023]
    early = EraScales([*[g for g in history if g.season == 2022], *season_2023[:10]], 300)
    sc = early.scales(2023)
    assert sc is not None and sc[0].n > 300
    assert EraScales(history[:10], 300).scales(2021) is None  # too few games to judge


def test_rescore_reason_names_both_scores(history: list[GameRow]) -> None:
    g = history[-1]
    f = rescore_reason(g, g.home_pts + 10, g.away_pts, "nba_team_gamelog x.csv")
    assert f.rule == "rescored" and f.numbers["was_home_pts"] == g.home_pts
    assert f"{g.home_pts}-{g.away_pts}" in f.reason and f"{g.home_pts + 10}-{g.away_pts}" in f.reason
