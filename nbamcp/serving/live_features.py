"""Live features: the training feature code, kept current with the games dataset's results.

``LiveFeatures`` replays the games through ``nbamcp.ml.features.
FeatureState`` exactly as ``build_training_matrix`` does (per day: the
features of that day's games, then their results), so a served feature vector
is computed by the same code as a training row. It keeps:

- the state after the latest result, for games after it;
- the point-in-time feature row of every played game, so predicting a game
  already played gives the prediction made before it, beside its result;
- what the state knew of each team after each result (``StateHistory``), so a
  hypothetical game on a past date is computed from the results before that
  date only, by a lookup instead of a replay of the season up to it.

New results (``add``) are consumed in place when they all come after the
latest one; anything older needs a rebuild from every game (``NeedsRebuild``),
which the workers run in a thread and swap in when done.

``dump`` / ``load`` turn it into bytes and back (the games as msgpack, the rows
as one float32 array, the feature state and its history pickled: the worker's own snapshot, in
its own home) so a restart costs a file read instead of a replay of the whole
history; ``fingerprint`` names the code that computed it, and a snapshot made by
other code is not loaded.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np
import structlog

import nbamcp.ml
from nbamcp.data.games import GameRow
from nbamcp.ml.features import FeatureState
from nbamcp.ml.rosters import RosterBook
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.roster_note import roster_note
from nbamcp.serving.staleness import KNOWN, Staleness, staleness
from nbamcp.serving.state_history import StateHistory

log = structlog.get_logger(__name__)

_DUMP_FORMAT = 2


class _Dump(msgspec.Struct, frozen=True):
    format: int
    games: list[GameRow]
    rows: bytes  # float32, len(games) x width, row-major
    width: int
    states: bytes  # pickle of (state, its history): the project's own objects


def fingerprint(feature_set: str = "fs1") -> str:
    """The feature set and the code that computes it: the ML package and this module."""
    h = hashlib.sha256(f"{_DUMP_FORMAT}:{feature_set}".encode())
    for path in [*sorted(Path(nbamcp.ml.__file__).parent.glob("*.py")), Path(__file__)]:
        h.update(path.read_bytes())
    return f"{feature_set}:{h.hexdigest()[:16]}"


class NeedsRebuild(Exception):
    """New results predate the latest one consumed: replay every game."""


class ResolvedGame(NamedTuple):
    game: CanonicalGame  # neutral as actually played, for a played game
    playoff: bool
    x: np.ndarray  # float32, in the order of the feature set's names (``LiveFeatures.feature_names``)
    played: GameRow | None
    home_results: int  # results of each team the state had seen (part of the cache key)
    away_results: int
    age: Staleness = KNOWN  # how far past the data's end the game lies
    roster_note: str = ""  # each roster against last season's, in words (fs2; "" otherwise)


class LiveFeatures:
    """``rosters`` None: feature set fs1; a ``RosterBook`` (the rosters dataset's): fs2."""

    def __init__(
        self, games: Sequence[GameRow] = (), rosters: RosterBook | None = None, rosters_version: str = ""
    ) -> None:
        self.rosters = rosters
        self.rosters_version = rosters_version  # names ``rosters`` (part of the cache key)
        self.state = FeatureState(rosters=rosters)
        self.games: list[GameRow] = []
        self.rows: list[np.ndarray] = []
        self._played: dict[tuple[str, str, str], int] = {}
        self._ids: set[str] = set()
        self._results: Counter[str] = Counter()
        self.history = StateHistory()
        self._playoffs_from: dict[int, str] = {}
        self._consume(games)

    @property
    def feature_set(self) -> str:
        return self.state.feature_set

    @property
    def feature_names(self) -> list[str]:
        return self.state.feature_names

    @property
    def latest_date(self) -> str | None:
        return self.games[-1].date if self.games else None

    def age(self, game: CanonicalGame) -> Staleness:
        """Where ``game`` lies against the latest result (part of its cache key)."""
        last = self.games[-1] if self.games else None
        if last is None:
            return staleness(game.date, game.season, None, None)
        return staleness(game.date, game.season, last.date, last.season, self.state.elo)

    def __len__(self) -> int:
        return len(self.games)

    def results(self, team: str) -> int:
        return self._results[team]

    # ---- feeding results ---------------------------------------------------------------------------
    def add(self, new: Sequence[GameRow]) -> list[GameRow]:
        """Consume results not seen yet; return them. NeedsRebuild if one predates the latest day."""
        fresh = sorted((g for g in new if g.game_id not in self._ids), key=lambda g: (g.date, g.game_id))
        latest = self.latest_date
        if fresh and latest is not None and fresh[0].date <= latest:
            raise NeedsRebuild(
                f"{len(fresh)} new result(s) from {fresh[0].date}, not after the latest one ({latest})"
            )
        self._consume(fresh)
        return fresh

    def _consume(self, games: Sequence[GameRow]) -> None:
        # The same loop as nbamcp.ml.features.build_training_matrix (a test checks
        # that the rows are identical), plus what serving needs on the side.
        state = self.state
        for _, day_iter in itertools.groupby(games, key=lambda g: g.date):
            day = list(day_iter)
            state.add_teams(t for g in day for t in (g.home, g.away))
            for g in day:
                self.rows.append(
                    state.features_for(
                        g.home, g.away, g.date, neutral=g.neutral, playoff=g.playoff,
                        playin=g.playin, season=g.season,
                    )
                )  # fmt: skip
            for g in day:
                state.consume(g)
                self.history.record(g, state)
                self._played.setdefault((g.date, g.home, g.away), len(self.games))
                self._ids.add(g.game_id)
                self._results[g.home] += 1
                self._results[g.away] += 1
                if g.playoff:
                    self._playoffs_from.setdefault(g.season, g.date)
                self.games.append(g)

    # ---- snapshots -----------------------------------------------------------------------------------
    def dump(self) -> bytes:
        rows = (
            np.vstack(self.rows).astype(np.float32, copy=False) if self.rows else np.zeros((0, 0), np.float32)
        )
        states = pickle.dumps((self.state, self.history), protocol=5)
        return msgspec.msgpack.encode(_Dump(_DUMP_FORMAT, self.games, rows.tobytes(), rows.shape[1], states))

    @classmethod
    def load(cls, data: bytes) -> LiveFeatures:
        """What ``dump`` made (ValueError / msgspec errors for anything else)."""
        d = msgspec.msgpack.decode(data, type=_Dump)
        if d.format != _DUMP_FORMAT:
            raise ValueError(f"snapshot format {d.format}, this code reads {_DUMP_FORMAT}")
        lf = cls()
        state, history = pickle.loads(d.states)
        lf.state, lf.history, lf.rosters = state, history, state.rosters
        lf.games = d.games
        width = d.width or 1
        lf.rows = list(np.frombuffer(d.rows, dtype=np.float32).reshape(-1, width)) if d.games else []
        for i, g in enumerate(lf.games):
            lf._played.setdefault((g.date, g.home, g.away), i)
            lf._ids.add(g.game_id)
            lf._results[g.home] += 1
            lf._results[g.away] += 1
            if g.playoff:
                lf._playoffs_from.setdefault(g.season, g.date)
        return lf

    # ---- features for queries -------------------------------------------------------------------------
    def played(self, game: CanonicalGame) -> GameRow | None:
        idx = self._played.get((game.date, game.home, game.away))
        return None if idx is None else self.games[idx]

    def keyed(self, game: CanonicalGame) -> tuple[CanonicalGame, tuple[int, int], Staleness]:
        """What a prediction's cache key names, without computing features: the game (neutral
        as actually played, for a played game), the results each team's state has seen, and how
        far past the data's end the game lies."""
        row = self.played(game)
        if row is not None and row.neutral != game.neutral:
            game = game._replace(neutral=row.neutral)
        return game, (self._results[game.home], self._results[game.away]), self.age(game)

    def playoff_on(self, season: int, date: str) -> bool:
        """Whether the season's playoffs had started by ``date`` (as far as the results show)."""
        first = self._playoffs_from.get(season)
        return first is not None and date >= first

    def resolve(self, games: Sequence[CanonicalGame]) -> list[ResolvedGame]:
        """Feature rows for canonical games, in order (see the module docstring for the three cases)."""
        out: list[ResolvedGame | None] = [None] * len(games)
        latest = self.latest_date
        past: dict[str, list[int]] = {}
        for i, g in enumerate(games):
            idx = self._played.get((g.date, g.home, g.away))
            if idx is not None:
                row = self.games[idx]
                game = g._replace(neutral=row.neutral)
                out[i] = self._resolved(game, row.playoff, self.rows[idx], row)
            elif latest is None or g.date > latest:
                out[i] = self._from_state(self.state, g)
            else:
                past.setdefault(g.date, []).append(i)
        for date, ids in past.items():
            teams = {t for i in ids for t in (games[i].home, games[i].away)}
            state = self.history.state_before(self.state, date, teams) or self._replayed(date)
            for i in ids:
                out[i] = self._from_state(state, games[i])
        return [r for r in out if r is not None]

    def _resolved(
        self, game: CanonicalGame, playoff: bool, x: np.ndarray, played: GameRow | None
    ) -> ResolvedGame:
        note = roster_note(
            self.rosters, (game.home, game.home_name), (game.away, game.away_name), game.season, game.date
        )
        return ResolvedGame(
            game, playoff, x, played, self._results[game.home], self._results[game.away], self.age(game),
            note,
        )  # fmt: skip

    def _from_state(self, state: FeatureState, g: CanonicalGame) -> ResolvedGame:
        # A scheduled game reveals that both teams exist (a franchise with no result yet starts at the mean).
        state.add_teams((g.home, g.away))
        playoff = self.playoff_on(g.season, g.date)
        # Past the data's end the games in between are unknown: the same code as training, told so.
        known = self.age(g).schedule_known
        x = state.features_for(
            g.home, g.away, g.date, neutral=g.neutral, playoff=playoff, season=g.season,
            schedule_known=known,
        )  # fmt: skip
        return self._resolved(g, playoff, x, None)

    def _replayed(self, date: str) -> FeatureState:
        """Every result before ``date`` fed to a new state: only for results whose seasons came out
        of order (``StateHistory.in_order``), which the history cannot stand in for."""
        log.warning("features.past_date_replay", date=date, results=len(self.games))
        state = FeatureState(elo_params=self.state.elo.params, form_n=self.state.form_n, rosters=self.rosters)
        state.consume_all(itertools.takewhile(lambda g: g.date < date, self.games))
        return state
