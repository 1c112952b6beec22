"""Point-in-time game features: one ``FeatureState`` for training and live prediction.

The state consumes results in date order and answers ``features_for(home, away,
date, ...)`` for any game not played yet, from results before it only. Training
rows come from the very same code (``build_training_matrix``): for each day it
first computes the features of all that day's games, then feeds their results,
so features of day d never see a result of day d or later.

Two feature sets: ``fs1`` from results only, and ``fs2`` (a state given a
``RosterBook``) where each team's season-start Elo moves toward what its roster
projects and three roster features follow: the strength difference as of the
game's date, a copy fading out over the teams' first games, and a copy for
playoff games.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from nbamcp.data.games import GameRow
from nbamcp.errors import DataQualityError, InvalidInput, NotFound
from nbamcp.ml.ratings import DEFAULT_ELO, Elo, EloParams
from nbamcp.ml.rosters import RosterBook

FEATURE_SET_VERSION = "fs1"  # the default of ``[features] served`` (nbamcp.config)
FEATURE_NAMES: list[str] = [
    "elo_diff",  # home minus away Elo, home court included unless neutral
    "home_form_margin",  # mean margin over the last FORM_N games this season (NaN before any)
    "away_form_margin",
    "home_form_wins",  # win share over the same games (NaN before any)
    "away_form_wins",
    "home_rest",  # days since the previous game this season, capped at REST_CAP
    "away_rest",
    "home_b2b",  # 1 when the previous game was yesterday
    "away_b2b",
    "season_frac",  # regular-season games played / scheduled, mean of both sides; 1 in playoffs
    "playoff",
    "playin",
    "neutral",
    "home_elo",  # each side's own Elo minus the mean: lets trees see weak teams late in a season
    "away_elo",
    "home_season_margin",  # mean margin over all games this season (NaN before any)
    "away_season_margin",
    "home_season_wins",  # win share this season (NaN before any)
    "away_season_wins",
]
ROSTER_FEATURE_NAMES: list[str] = [
    "roster_diff",  # home minus away projected roster strength as of the game (NaN: a roster unknown)
    "roster_diff_early",  # the same, times the share of the first fade_games the teams have still to play
    "roster_diff_playoff",  # the same in playoff games, else 0: rotations shorten, stars play more
]
FEATURE_SETS: dict[str, list[str]] = {"fs1": FEATURE_NAMES, "fs2": FEATURE_NAMES + ROSTER_FEATURE_NAMES}


# A row's width names its feature set (serving reads the set of a row, or of a logged vector, by it).
FEATURE_SET_OF_WIDTH: dict[int, str] = {len(v): k for k, v in FEATURE_SETS.items()}
assert len(FEATURE_SET_OF_WIDTH) == len(FEATURE_SETS), "two feature sets of one width"


def feature_names(version: str) -> list[str]:
    """The feature names of a feature set, in the order its rows hold them."""
    names = FEATURE_SETS.get(version)
    if names is None:
        raise InvalidInput(f"unknown feature set {version!r}; known: {', '.join(FEATURE_SETS)}")
    return list(names)


FORM_N = 10
REST_CAP = 7
# Regular-season games per team where it was not 82 (lockouts, the 2020-21 pandemic season).
# The schedule is known before a season starts, so this is not look-ahead.
SCHEDULED_GAMES = {1999: 50, 2012: 66, 2021: 72}


def scheduled_games(season: int) -> int:
    return SCHEDULED_GAMES.get(season, 82)


def season_for_date(date: dt.date) -> int:
    """The season (end year) a game on ``date`` belongs to.

    Seasons start in October; the 2019-20 season ran until October 2020 (bubble)
    and the 2020-21 season started late in December 2020.
    """
    if dt.date(2020, 8, 1) <= date <= dt.date(2020, 11, 30):
        return 2020
    return date.year + 1 if date.month >= 10 else date.year


def parse_date(date: str | dt.date) -> dt.date:
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise InvalidInput(f"date {date!r} is not a date; expected 'YYYY-MM-DD'") from None


class _Team:
    """What the state remembers about one franchise (current season only, except Elo)."""

    __slots__ = ("games", "last_day", "margin_sum", "margins", "reg_games", "season", "wins")

    def __init__(self, form_n: int) -> None:
        self.season = -1
        self.last_day = -1  # date ordinal of the last game
        self.reg_games = 0
        self.margins: deque[int] = deque(maxlen=form_n)
        self.games = 0  # this season, playoffs included
        self.wins = 0
        self.margin_sum = 0


class _Side(NamedTuple):
    """One side's per-team features entering a game."""

    form_margin: float
    form_wins: float
    rest: float
    b2b: float
    reg_games: int
    season_margin: float
    season_wins: float
    games: int  # this season, playoffs included


class TeamFacts(NamedTuple):
    """One team's part of a state after its latest result, as ``features_for`` reads it (its
    recent margins apart: they are its results' margins)."""

    rating: float  # Elo after the result
    season: int  # the result's season
    day: int  # the result's date, as an ordinal
    reg_games: int  # this season, as ``_Team`` counts them
    games: int
    wins: int
    margin_sum: int


# A team's first game of a season: fully rested, no form yet (NaN: the pipeline imputes).
_NEW_SEASON = _Side(math.nan, math.nan, float(REST_CAP), 0.0, 0, math.nan, math.nan, 0)


class FeatureState:
    """Feature source that moves forward in time, one result at a time."""

    def __init__(
        self,
        *,
        elo_params: EloParams = DEFAULT_ELO,
        form_n: int = FORM_N,
        teams: Iterable[str] = (),
        rosters: RosterBook | None = None,
    ) -> None:
        if form_n < 1:
            raise InvalidInput(f"form_n must be at least 1, got {form_n}")
        self.rosters = rosters
        if rosters is None:
            self.elo = Elo(elo_params)
            self.feature_set = "fs1"
        else:
            self.elo = Elo(elo_params, prior=rosters.elo_prior, prior_share=rosters.params.elo_share)
            self.feature_set = "fs2"
        self.feature_names = FEATURE_SETS[self.feature_set]
        self.form_n = form_n
        self._teams: dict[str, _Team] = {}
        self.last_date: dt.date | None = None
        self.add_teams(teams)

    def add_teams(self, teams: Iterable[str]) -> None:
        """Declare franchises that exist (a new one starts at the mean rating)."""
        for t in teams:
            if t not in self._teams:
                self._teams[t] = _Team(self.form_n)

    def known_teams(self) -> list[str]:
        return sorted(self._teams)

    # ---- the state as of a past date (nbamcp.serving.state_history) ----------------------------------
    def facts(self, team: str) -> TeamFacts | None:
        """The team's part of the state (None before its first result)."""
        st = self._teams.get(team)
        stored = self.elo.stored(team)
        if st is None or stored is None:
            return None
        return TeamFacts(stored[0], stored[1], st.last_day, st.reg_games, st.games, st.wins, st.margin_sum)

    def restored(
        self,
        teams: Mapping[str, tuple[TeamFacts, Sequence[int]]],
        home_records: Mapping[int, tuple[int, int]],
        max_season: int,
        last_date: dt.date | None,
    ) -> FeatureState:
        """A new state with this one's parameters, standing where some state stood after earlier
        results as far as ``features_for`` can tell for ``teams`` (each with its latest margins
        this season, oldest first): the state as of a past date without replaying the results."""
        out = FeatureState(elo_params=self.elo.params, form_n=self.form_n, rosters=self.rosters)
        out.elo.restore({t: (f.rating, f.season) for t, (f, _) in teams.items()}, home_records, max_season)
        for name, (f, margins) in teams.items():
            st = out._teams[name] = _Team(self.form_n)
            st.season, st.last_day, st.reg_games = f.season, f.day, f.reg_games
            st.games, st.wins, st.margin_sum = f.games, f.wins, f.margin_sum
            st.margins.extend(margins)
        out.last_date = last_date
        return out

    def consume(self, game: GameRow) -> None:
        """Feed one result. Results must arrive in date order."""
        day = parse_date(game.date)
        if self.last_date is not None and day < self.last_date:
            raise DataQualityError(
                f"game {game.game_id} on {game.date} arrived after results of {self.last_date}; "
                "results must be fed in date order"
            )
        self.last_date = day
        self.add_teams((game.home, game.away))
        self.elo.update(game)
        margin = game.home_pts - game.away_pts
        for team, m in ((game.home, margin), (game.away, -margin)):
            st = self._teams[team]
            if st.season != game.season:
                st.season, st.reg_games = game.season, 0
                st.games = st.wins = st.margin_sum = 0
                st.margins.clear()
            st.last_day = day.toordinal()
            st.margins.append(m)
            st.games += 1
            st.wins += m > 0
            st.margin_sum += m
            if game.season_type == "regular":
                st.reg_games += 1

    def consume_all(self, games: Iterable[GameRow]) -> None:
        for g in games:
            self.consume(g)

    def features_for(
        self,
        home: str,
        away: str,
        date: str | dt.date,
        neutral: bool = False,
        playoff: bool = False,
        *,
        playin: bool = False,
        season: int | None = None,
        schedule_known: bool = True,
    ) -> np.ndarray:
        """Feature vector (float32, ``self.feature_names`` order) of a game not yet played.

        Uses only results already consumed; a date before the latest consumed
        result is refused because those results would be look-ahead for it.
        ``playin`` implies ``playoff``; ``season`` defaults to the one ``date``
        falls in (between seasons, ratings regress toward the mean as they will
        at the team's first game, once per season boundary).

        ``schedule_known`` False says the results consumed may not be every game
        played before ``date`` (a date past the end of the data): rest days and
        back-to-backs are then unknown, and so is how far into the season a team
        is that has no known game in it. They become NaN, which every pipeline
        imputes; training always knows them (every game is fed in order).
        """
        day = parse_date(date)
        for side, team in (("home", home), ("away", away)):
            if team not in self._teams:
                raise NotFound(
                    f"unknown {side} team {team!r}; known franchise ids: {', '.join(self.known_teams())}",
                    details={"team": str(team)},
                )
        if home == away:
            raise InvalidInput(f"home and away are the same team ({home!r})")
        if self.last_date is not None and day < self.last_date:
            raise InvalidInput(
                f"features for {day} requested but the state already holds results up to "
                f"{self.last_date}; use a state that has seen only earlier results"
            )
        season = season_for_date(day) if season is None else season
        if playin:
            playoff = True
        sched = scheduled_games(season)
        ordinal = day.toordinal()
        elo, mean, iso = self.elo, self.elo.params.mean, day.isoformat()
        h = self._side(self._teams[home], season, ordinal)
        a = self._side(self._teams[away], season, ordinal)
        if not schedule_known:
            h, a = h._replace(rest=math.nan, b2b=math.nan), a._replace(rest=math.nan, b2b=math.nan)
        if playoff:
            frac = 1.0
        elif not schedule_known and (h.games == 0 or a.games == 0):
            frac = math.nan  # a season past the data: its opener or its 60th game, nobody knows
        else:
            frac = min((h.reg_games + a.reg_games) / 2.0 / sched, 1.0)
        out = [
            elo.diff(home, away, season, neutral=neutral, date=iso),
            h.form_margin, a.form_margin, h.form_wins, a.form_wins,
            h.rest, a.rest, h.b2b, a.b2b,
            frac, float(playoff), float(playin), float(neutral),
            elo.rating(home, season, iso) - mean, elo.rating(away, season, iso) - mean,
            h.season_margin, a.season_margin, h.season_wins, a.season_wins,
        ]  # fmt: skip
        if self.rosters is not None:
            out += self._roster_features(self.rosters, home, away, season, iso, h.games, a.games, playoff)
        return np.asarray(out, dtype=np.float32)

    @staticmethod
    def _roster_features(book: RosterBook, home: str, away: str, season: int, date: str,
                         home_games: int, away_games: int, playoff: bool) -> list[float]:  # fmt: skip
        sh, sa = book.strength(home, season, date), book.strength(away, season, date)
        if sh is None or sa is None:
            return [math.nan] * len(ROSTER_FEATURE_NAMES)
        n = book.params.fade_games
        fade = (max(0.0, 1.0 - home_games / n) + max(0.0, 1.0 - away_games / n)) / 2.0
        diff = sh - sa
        return [diff, diff * fade, diff if playoff else 0.0]

    @staticmethod
    def _side(st: _Team, season: int, ordinal: int) -> _Side:
        if st.season != season or not st.margins:
            return _NEW_SEASON
        ms = st.margins
        rest = min(ordinal - st.last_day, REST_CAP)
        return _Side(
            form_margin=sum(ms) / len(ms),
            form_wins=sum(1 for m in ms if m > 0) / len(ms),
            rest=float(rest),
            b2b=1.0 if rest == 1 else 0.0,
            reg_games=st.reg_games,
            season_margin=st.margin_sum / st.games,
            season_wins=st.wins / st.games,
            games=st.games,
        )


@dataclass(frozen=True)
class MatrixMeta:
    """Per-row facts that are not features: ids, seasons, and the 538 baselines (NaN when absent)."""

    game_id: list[str]
    date: list[str]
    season: np.ndarray
    elo538: np.ndarray
    raptor538: np.ndarray


def build_training_matrix(
    games: Sequence[GameRow],
    *,
    elo_params: EloParams = DEFAULT_ELO,
    form_n: int = FORM_N,
    rosters: RosterBook | None = None,
) -> tuple[np.ndarray, np.ndarray, MatrixMeta]:
    """(X float32 [n, n_features], y int8 home win, meta) for every game, in input order.

    ``games`` must be in date order; give the whole history, rows of early
    seasons then serve as warm-up the caller may drop. With ``rosters`` the
    rows are feature set fs2, else fs1.
    """
    state = FeatureState(elo_params=elo_params, form_n=form_n, rosters=rosters)
    rows: list[np.ndarray] = []
    prev = ""
    for date, day_iter in itertools.groupby(games, key=lambda g: g.date):
        if date < prev:
            raise DataQualityError(f"games are not in date order: {date} comes after {prev}")
        prev = date
        day = list(day_iter)
        # A scheduled game reveals that both teams exist, not how it ends.
        state.add_teams(t for g in day for t in (g.home, g.away))
        for g in day:
            rows.append(
                state.features_for(
                    g.home,
                    g.away,
                    g.date,
                    neutral=g.neutral,
                    playoff=g.playoff,
                    playin=g.playin,
                    season=g.season,
                )
            )
        for g in day:
            state.consume(g)
    n = len(rows)
    X = np.vstack(rows) if rows else np.zeros((0, len(state.feature_names)), dtype=np.float32)
    y = np.fromiter((g.home_win for g in games), dtype=np.int8, count=n)
    nan = math.nan
    meta = MatrixMeta(
        game_id=[g.game_id for g in games],
        date=[g.date for g in games],
        season=np.fromiter((g.season for g in games), dtype=np.int32, count=n),
        elo538=np.fromiter(
            (nan if g.elo538_home_prob is None else g.elo538_home_prob for g in games), np.float64, n
        ),
        raptor538=np.fromiter(
            (nan if g.raptor538_home_prob is None else g.raptor538_home_prob for g in games), np.float64, n
        ),
    )
    return X, y, meta
