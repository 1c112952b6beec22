"""The feature state as of any past date, by lookup instead of a replay.

A hypothetical game on a date inside the history (two teams that did not meet
that day) needs the state holding every result before that date. Replaying the
season up to the date cost ~13 ms per call. ``features_for`` only reads, of a
state, the two teams' own facts after their latest result (rating, season,
last day, counts, recent margins) and every season's home record (for home
court), so ``StateHistory`` records those after each result:

- per team, one row per result in typed arrays (26 bytes a row: ~3.8 MB for
  the 73,113 games of 1947-2023): the state as of date D is the row before
  the team's first result on or after D (a bisect), its recent margins the
  row's slice of the same season;
- per season, the positions of its non-neutral results and the running count
  of home wins: the record as of D is a bisect in the one season under way,
  the whole record for the seasons before.

``state_before`` turns that into a ``FeatureState`` (``FeatureState.restored``)
for the teams asked, so the features are computed by the training code itself.
Results of D itself never count, as in training (a day's features are computed
before its results are fed).
"""

from __future__ import annotations

import datetime as dt
from array import array
from bisect import bisect_left
from collections.abc import Iterable

from nbamcp.data.games import GameRow
from nbamcp.ml.features import FeatureState, TeamFacts


class _TeamLine:
    """One team's facts after each of its results, oldest first."""

    __slots__ = ("day", "games", "margin", "margin_sum", "rating", "reg_games", "season", "wins")

    def __init__(self) -> None:
        self.day = array("i")  # date ordinals, ascending
        self.rating = array("d")
        self.season = array("h")
        self.reg_games = array("h")
        self.games = array("h")
        self.wins = array("h")
        self.margin_sum = array("i")
        self.margin = array("h")  # the result's margin, as the team saw it

    def __getstate__(self) -> tuple[array[int] | array[float], ...]:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state: tuple[array[int] | array[float], ...]) -> None:
        for k, v in zip(self.__slots__, state, strict=True):
            setattr(self, k, v)

    def append(self, f: TeamFacts, margin: int) -> None:
        self.day.append(f.day)
        self.rating.append(f.rating)
        self.season.append(f.season)
        self.reg_games.append(f.reg_games)
        self.games.append(f.games)
        self.wins.append(f.wins)
        self.margin_sum.append(f.margin_sum)
        self.margin.append(margin)

    def before(self, ordinal: int, form_n: int) -> tuple[TeamFacts, list[int]] | None:
        """The facts after the team's latest result dated before ``ordinal`` (None: no such result)."""
        i = bisect_left(self.day, ordinal) - 1
        if i < 0:
            return None
        games = self.games[i]
        facts = TeamFacts(
            self.rating[i], self.season[i], self.day[i], self.reg_games[i], games, self.wins[i],
            self.margin_sum[i],
        )  # fmt: skip
        # The state's margins: this season's, at most form_n of them (its deque's maxlen).
        first = i + 1 - min(games, form_n)
        return facts, self.margin[first : i + 1].tolist()

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (getattr(self, k) for k in self.__slots__))


class _SeasonRecord:
    """A season's home record after each of its non-neutral results."""

    __slots__ = ("first", "positions", "wins")

    def __init__(self, first: int) -> None:
        self.first = first  # position of the season's first result (neutral ones included)
        self.positions = array("i")  # positions of its non-neutral results, ascending
        self.wins = array("i")  # home wins up to and including that result

    def __getstate__(self) -> tuple[object, ...]:
        return self.first, self.positions, self.wins

    def __setstate__(self, state: tuple[int, array[int], array[int]]) -> None:
        self.first, self.positions, self.wins = state

    def before(self, pos: int) -> tuple[int, int] | None:
        """(home wins, games) over the results before position ``pos`` (None: none yet)."""
        n = len(self.positions)
        if n == 0 or self.positions[0] >= pos:
            return None
        if self.positions[-1] >= pos:  # the season under way at pos
            n = bisect_left(self.positions, pos)
        return self.wins[n - 1], n

    def nbytes(self) -> int:
        return self.positions.itemsize * len(self.positions) + self.wins.itemsize * len(self.wins)


class StateHistory:
    """What a ``FeatureState`` knew after each result, as it consumed them (``record``)."""

    def __init__(self) -> None:
        self._teams: dict[str, _TeamLine] = {}
        self._seasons: dict[int, _SeasonRecord] = {}
        self._days = array("i")  # date ordinal of each result, in the order recorded
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def record(self, game: GameRow, state: FeatureState) -> None:
        """After ``state.consume(game)``: what the state now knows about the game's teams."""
        pos = self._count
        self._count += 1
        margin = game.home_pts - game.away_pts
        day = -1
        for team, m in ((game.home, margin), (game.away, -margin)):
            facts = state.facts(team)
            assert facts is not None, f"{team} was consumed"
            line = self._teams.get(team)
            if line is None:
                line = self._teams[team] = _TeamLine()
            line.append(facts, m)
            day = facts.day
        self._days.append(day)
        season = self._seasons.get(game.season)
        if season is None:
            season = self._seasons[game.season] = _SeasonRecord(pos)
        if not game.neutral:
            season.positions.append(pos)
            season.wins.append(state.elo.home_record(game.season)[0])

    def state_before(self, like: FeatureState, date: str, teams: Iterable[str]) -> FeatureState:
        """A state holding, for ``teams``, every recorded result dated before ``date`` and no other
        (``like`` gives the parameters: Elo, form window, rosters)."""
        ordinal = dt.date.fromisoformat(date).toordinal()
        pos = bisect_left(self._days, ordinal)  # results before the date
        facts = {}
        for team in teams:
            line = self._teams.get(team)
            found = None if line is None else line.before(ordinal, like.form_n)
            if found is not None:
                facts[team] = found
        records = {}
        max_season = -1
        for s, rec in self._seasons.items():
            if rec.first < pos:
                max_season = max(max_season, s)
                wg = rec.before(pos)
                if wg is not None:
                    records[s] = wg
        last = dt.date.fromordinal(self._days[pos - 1]) if pos else None
        return like.restored(facts, records, max_season, last)

    def nbytes(self) -> int:
        """Bytes of the arrays (the per-team and per-season objects around them apart)."""
        return (
            sum(t.nbytes() for t in self._teams.values())
            + sum(s.nbytes() for s in self._seasons.values())
            + self._days.itemsize * len(self._days)
        )
