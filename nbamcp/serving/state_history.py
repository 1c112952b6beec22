"""The feature state as of any past date, by lookup instead of a replay.

A hypothetical game on a date inside the history (two teams that did not meet
that day) needs the state holding every result before that date. Replaying the
season up to the date cost 3-6 ms of CPU per call (docs/benchmarks.md); a lookup
costs ~0.04 ms. ``features_for`` only reads, of a
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

That holds while seasons come in date order (every result of a season before
the first of the next: true of 1947-2023). A result from an earlier season
after a later one began would let a season's home-court memo in a replayed
state predate results it reads; the history then says so (``in_order``) and
``LiveFeatures`` replays, as before.

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

    __slots__ = ("first", "positions", "season", "wins")

    def __init__(self, season: int, first: int) -> None:
        self.season = season
        self.first = first  # position of its first result (neutral ones included)
        self.positions = array("i")  # positions of its non-neutral results, ascending
        self.wins = array("i")  # home wins up to and including that result

    def __getstate__(self) -> tuple[object, ...]:
        return self.season, self.first, self.positions, self.wins

    def __setstate__(self, state: tuple[int, int, array[int], array[int]]) -> None:
        self.season, self.first, self.positions, self.wins = state

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
        self._order: list[_SeasonRecord] = []  # by first result
        self._firsts: list[int] = []  # their first results' positions, ascending
        self._days = array("i")  # date ordinal of each result, in the order recorded
        self._count = 0
        # False once a result comes from a season before the latest one seen (never in the NBA's
        # data): then a season's home-court memo may predate results of the seasons it reads, and
        # only a replay gives the state as of a date (``state_before`` says so with None).
        self.in_order = True
        # The first k seasons' whole records and the latest of them, by k (whole: seasons in order).
        self._whole: dict[int, tuple[dict[int, tuple[int, int]], int]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {k: ({} if k == "_whole" else v) for k, v in self.__dict__.items()}

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
            season = self._seasons[game.season] = _SeasonRecord(game.season, pos)
            if self._order and game.season < self._order[-1].season:
                self.in_order = False
            self._order.append(season)
            self._firsts.append(pos)
        elif season is not self._order[-1]:
            self.in_order = False
        if self._whole:
            self._whole.clear()
        if not game.neutral:
            season.positions.append(pos)
            season.wins.append(state.elo.home_record(game.season)[0])

    def state_before(self, like: FeatureState, date: str, teams: Iterable[str]) -> FeatureState | None:
        """A state holding, for ``teams``, every recorded result dated before ``date`` and no other
        (``like`` gives the parameters: Elo, form window, rosters); None when the results came
        with seasons out of order (``in_order``)."""
        if not self.in_order:
            return None
        ordinal = dt.date.fromisoformat(date).toordinal()
        pos = bisect_left(self._days, ordinal)  # results before the date
        facts = {}
        for team in teams:
            line = self._teams.get(team)
            found = None if line is None else line.before(ordinal, like.form_n)
            if found is not None:
                facts[team] = found
        records, max_season = self._records_before(pos)
        last = dt.date.fromordinal(self._days[pos - 1]) if pos else None
        return like.restored(facts, records, max_season, last)

    def _records_before(self, pos: int) -> tuple[dict[int, tuple[int, int]], int]:
        """Every season's home record over the results before ``pos``, and the latest season seen."""
        k = bisect_left(self._firsts, pos)  # the seasons with a result before pos
        if k == 0:
            return {}, -1
        whole = self._whole.get(k - 1)
        if whole is None:
            whole = self._whole[k - 1] = self._whole_records(k - 1)
        full, max_season = whole
        records = dict(full)
        rec = self._order[k - 1]  # the one season that may be under way at pos
        wg = rec.before(pos)
        if wg is not None:
            records[rec.season] = wg
        return records, max(max_season, rec.season)

    def _whole_records(self, k: int) -> tuple[dict[int, tuple[int, int]], int]:
        records = {r.season: (r.wins[-1], len(r.positions)) for r in self._order[:k] if r.positions}
        return records, max((r.season for r in self._order[:k]), default=-1)

    def nbytes(self) -> int:
        """Bytes of the arrays (the per-team and per-season objects around them apart)."""
        return (
            sum(t.nbytes() for t in self._teams.values())
            + sum(s.nbytes() for s in self._seasons.values())
            + self._days.itemsize * len(self._days)
        )
