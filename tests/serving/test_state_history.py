"""A hypothetical game on a past date: the looked-up state gives the replay's features, bit for bit.

The reference is the replay ``LiveFeatures`` ran before ``StateHistory`` (a state fed every result
dated before the game's day, in order, then asked the same question), over the whole 1947-2023
history: random dates and teams, every season's first day and the day after its last game, days
with games (teams that play someone else that day, whose results of that day must not count),
teams before their first result, fs1 and fs2.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec
import numpy as np
import pytest

from nbamcp.data.games import GameRow
from nbamcp.ml.features import FeatureState, season_for_date
from nbamcp.ml.rosters import RosterBook, build_roster_book
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.live_features import LiveFeatures
from tests.ml.csv_games import load_csv_games
from tests.ml.csv_players import load_csv_players


@pytest.fixture(scope="module")
def history(data_dir: Path) -> list[GameRow]:
    return load_csv_games(data_dir / "games" / "games_538_1947_2023.csv")


@pytest.fixture(scope="module")
def live(history: list[GameRow]) -> LiveFeatures:
    return LiveFeatures(history)


def replayed(
    live: LiveFeatures, games: Sequence[GameRow], asked: Iterable[CanonicalGame]
) -> list[np.ndarray]:
    """The reference: per day asked (ascending), a state fed every result dated before it."""
    asked = sorted(asked, key=lambda q: q.date)
    state = FeatureState(rosters=live.rosters)
    pos, out = 0, []
    for q in asked:
        while pos < len(games) and games[pos].date < q.date:
            state.consume(games[pos])
            pos += 1
        state.add_teams((q.home, q.away))
        out.append(
            state.features_for(
                q.home, q.away, q.date, neutral=q.neutral, playoff=live.playoff_on(q.season, q.date),
                season=q.season, schedule_known=live.age(q).schedule_known,
            )
        )  # fmt: skip
    return out


def hypothetical(
    live: LiveFeatures, h: str, a: str, date: str, neutral: bool = False
) -> CanonicalGame | None:
    q = CanonicalGame(h, a, date, season_for_date(dt.date.fromisoformat(date)), neutral, h, a)
    latest = live.latest_date
    return q if latest is not None and date <= latest and live.played(q) is None else None


def asked_games(games: Sequence[GameRow], live: LiveFeatures, seed: int, n: int) -> list[CanonicalGame]:
    rng = random.Random(seed)
    teams: dict[int, set[str]] = {}
    days: dict[str, list[GameRow]] = {}
    for g in games:
        teams.setdefault(g.season, set()).update((g.home, g.away))
        days.setdefault(g.date, []).append(g)
    seasons = sorted(teams)
    first = {s: min(d for d, gs in days.items() if gs[0].season == s) for s in seasons}
    last = {s: max(d for d, gs in days.items() if gs[0].season == s) for s in seasons}
    out: list[CanonicalGame | None] = []

    def pair(season: int) -> tuple[str, str]:
        pool = sorted(teams[season] | teams.get(season - 1, set()))
        h, a = rng.sample(pool, 2)
        return h, a

    for s in seasons:
        out.append(hypothetical(live, *pair(s), first[s]))  # a season's first day: its own games not yet
        day_after = (dt.date.fromisoformat(last[s]) + dt.timedelta(days=1)).isoformat()
        out.append(hypothetical(live, *pair(s), day_after))  # the summer: next season's carry-over
        g = rng.choice(days[rng.choice([d for d in days if days[d][0].season == s])])
        # Two teams that play someone else that day: that day's results must not count.
        busy = {g.home, g.away}
        other = next((o for o in days[g.date] if busy.isdisjoint({o.home, o.away})), None)
        if other is not None:
            out.append(hypothetical(live, g.home, other.away, g.date, neutral=rng.random() < 0.2))
        out.append(hypothetical(live, g.away, g.home, g.date))  # the reverse of a game played that day
    for _ in range(n):  # any day, on or off a game day, with teams of the season or the one before
        g = games[rng.randrange(len(games))]
        date = (dt.date.fromisoformat(g.date) + dt.timedelta(days=rng.randrange(-120, 121))).isoformat()
        s = season_for_date(dt.date.fromisoformat(date))
        if s in teams:
            out.append(hypothetical(live, *pair(s), date, neutral=rng.random() < 0.1))
    out.append(hypothetical(live, "BOS", "NYK", "1946-11-01"))  # before any result
    return [q for q in out if q is not None]


def check(live: LiveFeatures, games: Sequence[GameRow], asked: list[CanonicalGame]) -> None:
    assert len(asked) > 200
    want = replayed(live, games, asked)
    by_date = sorted(asked, key=lambda q: q.date)
    got = [r.x for r in live.resolve(by_date)]
    for q, g, w in zip(by_date, got, want, strict=True):
        assert g.tobytes() == w.tobytes(), (q, g, w)
    one_by_one = [live.resolve([q])[0].x for q in by_date]  # a slate and single games agree
    assert np.vstack(one_by_one).tobytes() == np.vstack(got).tobytes()


def test_fs1_equals_the_replay_over_the_whole_history(live: LiveFeatures, history: list[GameRow]) -> None:
    asked = asked_games(history, live, seed=13, n=1500)
    assert any(q.date < "1950-01-01" for q in asked) and any(q.season == 2023 for q in asked)
    check(live, history, asked)


def test_a_loaded_snapshot_answers_as_the_live_state(live: LiveFeatures, history: list[GameRow]) -> None:
    loaded = LiveFeatures.load(live.dump())
    asked = asked_games(history, live, seed=7, n=300)
    assert np.vstack([r.x for r in loaded.resolve(asked)]).tobytes() == (
        np.vstack([r.x for r in live.resolve(asked)]).tobytes()
    )


def test_results_added_later_extend_the_history(history: list[GameRow]) -> None:
    recent = [g for g in history if g.season >= 2019]
    start = next(i for i, g in enumerate(recent) if g.date >= "2023-01-01")
    live = LiveFeatures(recent[:start])
    live.add(recent[start:])
    asked = [q for q in asked_games(recent, live, seed=3, n=1000) if q.season >= 2022]
    check(live, recent, asked)


@pytest.fixture(scope="module")
def book(data_dir: Path) -> RosterBook:
    return build_roster_book(load_csv_players(data_dir))


def test_fs2_equals_the_replay(book: RosterBook, history: list[GameRow]) -> None:
    games = [g for g in history if g.season >= 2010]
    live = LiveFeatures(games, rosters=book)
    assert live.feature_set == "fs2"
    check(live, games, asked_games(games, live, seed=29, n=400))


def test_seasons_out_of_date_order_are_replayed(history: list[GameRow]) -> None:
    """Results of a season after the next one began (not in the NBA's data): the history cannot
    stand in for the replay (a season's home-court memo may predate results it reads), says so,
    and the answers are the replay's."""
    recent = [g for g in history if g.season >= 2019]
    start = next(i for i, g in enumerate(recent) if g.season == 2022)
    games = [
        msgspec.structs.replace(g, season=2021) if start + 300 <= i < start + 400 else g
        for i, g in enumerate(recent)
    ]
    live = LiveFeatures(games)
    assert not live.history.in_order and LiveFeatures(recent).history.in_order
    asked = [q for q in asked_games(games, live, seed=5, n=400) if q.season >= 2021]
    check(live, games, asked[:250])
