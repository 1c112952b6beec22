"""The project's own team ratings: Elo with margin of victory, home court and carry-over.

Point in time by construction: a rating only moves when a result is fed in.
Between seasons every rating is pulled toward the mean (``carry`` keeps that
fraction of the distance, once per season boundary crossed); a franchise never
seen before starts at the mean.
With a season prior (``Elo(params, prior=..., prior_share=...)``) a team's
season-start rating moves that share of the way toward the rating its roster
implies on the date asked (``nbamcp.ml.rosters``); it is fixed by the team's
first result of the season, so a roster known only later cannot change it.
The defaults were tuned by walk-forward log loss on the 1980-2000 seasons
(``tune_elo``; numbers in docs/model.md) so that later seasons stay untouched
for model selection and backtests.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import msgspec

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput


class EloParams(msgspec.Struct, frozen=True):
    """Elo knobs.

    ``carry`` in [0, 1] is the share of a rating's distance from the mean kept
    over the summer. Home court is learnt from results when ``hca_window`` > 0:
    the Elo gap that matches the home win rate of the previous ``hca_window``
    seasons, times ``hca_scale`` (home court fell from ~100 to ~60 Elo points
    between the 1980s and the 2020s, so a fixed value is wrong for one era or
    the other). ``home_adv`` is used until enough seasons were seen, or always
    when ``hca_window`` is 0.
    """

    k: float = 20.0
    home_adv: float = 100.0
    carry: float = 0.75
    hca_window: int = 3
    hca_scale: float = 1.1
    mean: float = 1500.0


_MIN_HCA_GAMES = 500
SPREAD_SEASONS = 300  # team-seasons behind Elo.season_spread (about the last ten seasons)
_MIN_SPREAD = 30

# Chosen by tune_elo on 1980-2000 (see docs/model.md).
DEFAULT_ELO = EloParams(k=20.0, home_adv=100.0, carry=0.75, hca_window=1, hca_scale=1.1)


class RatingPoint(msgspec.Struct, frozen=True):
    """One team's rating around one game: for a team-rating chart."""

    game_id: str
    date: str
    season: int
    team: str
    rating_before: float
    rating_after: float


def win_prob(diff: float) -> float:
    """P(first side wins) for an Elo difference that already includes home court."""
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def mov_multiplier(margin: int, winner_diff: float) -> float:
    """FiveThirtyEight's margin-of-victory multiplier.

    Grows with the margin but less for favourites (``winner_diff`` is the
    winner's pre-game advantage including home court), which stops strong teams'
    ratings from inflating through blow-outs they were expected to win.
    """
    return (abs(margin) + 3.0) ** 0.8 / (7.5 + 0.006 * winner_diff)


# (team, season, date) -> Elo points above the mean the team's roster implies on that date, or None
SeasonPrior = Callable[[str, int, str], float | None]


class Elo:
    """Mutable Elo state for every franchise seen so far."""

    def __init__(
        self, params: EloParams = DEFAULT_ELO, *, prior: SeasonPrior | None = None, prior_share: float = 0.0
    ) -> None:
        if not 0.0 <= params.carry <= 1.0:
            raise InvalidInput(f"Elo carry must be in [0, 1], got {params.carry}")
        if params.k <= 0:
            raise InvalidInput(f"Elo k must be positive, got {params.k}")
        if not 0.0 <= prior_share <= 1.0:
            raise InvalidInput(f"Elo prior_share must be in [0, 1], got {prior_share}")
        self.params = params
        self._prior = prior if prior_share > 0 else None
        self._prior_share = prior_share
        self._rating: dict[str, float] = {}
        self._season: dict[str, int] = {}
        # season -> [home wins, games] over non-neutral games, for the learnt home court
        self._home_record: dict[int, list[int]] = {}
        self._hca: dict[int, float] = {}
        self._max_season = -1
        # Each team's rating entering its season (after the summer), and how far recent seasons
        # moved teams from there: how uncertain a rating carried past the data is.
        self._start: dict[str, float] = {}
        self._moves: deque[float] = deque(maxlen=SPREAD_SEASONS)
        # season_spread of these moves (None: not computed since the last move). statistics.pstdev
        # is exact (fractions) and cost ~1 ms over 300 moves: a served game past the data asked it
        # several times per prediction, while the moves change once a season.
        self._spread_memo: float | None = None

    def teams(self) -> list[str]:
        return sorted(self._rating)

    # ---- the state as of a past date (nbamcp.serving.state_history) ----------------------------------
    def stored(self, team: str) -> tuple[float, int] | None:
        """The team's rating after its latest result and that result's season (None: no result)."""
        r = self._rating.get(team)
        return None if r is None else (r, self._season[team])

    def home_record(self, season: int) -> tuple[int, int]:
        """(home wins, games) over the season's non-neutral results so far."""
        rec = self._home_record.get(season)
        return (0, 0) if rec is None else (rec[0], rec[1])

    def restore(
        self,
        ratings: Mapping[str, tuple[float, int]],
        home_records: Mapping[int, tuple[int, int]],
        max_season: int,
    ) -> None:
        """Put a fresh Elo where another one stood after some results, as far as ``rating``, ``diff``
        and ``home_adv`` can tell: the listed teams' ratings, every season's home record, the latest
        season seen. The home-court memo starts empty: a season's value only reads earlier
        seasons' records, whole by then while seasons come in date order, so recomputing it gives
        the value the memo held (``StateHistory.in_order`` says when they did not)."""
        for team, (r, season) in ratings.items():
            self._rating[team], self._season[team] = r, season
        self._home_record = {s: [w, n] for s, (w, n) in home_records.items()}
        self._hca = {}
        self._max_season = max_season

    def rating(self, team: str, season: int, date: str = "") -> float:
        """The team's rating entering a game of ``season`` on ``date`` (carry-over and the season
        prior as of ``date`` applied, state untouched)."""
        p = self.params
        r = self._rating.get(team)
        if r is not None and self._season[team] >= season:
            return r
        # One summer's regression per season boundary crossed: a team unseen for three seasons
        # (a franchise's gap, or a game asked three seasons past the data) is pulled three times.
        summers = 0 if r is None else season - self._season[team]
        start = p.mean if r is None else p.mean + p.carry**summers * (r - p.mean)
        if self._prior is not None:
            above = self._prior(team, season, date)
            if above is not None:
                start += self._prior_share * (p.mean + above - start)
        return start

    def home_adv(self, season: int) -> float:
        """Home court in Elo points for ``season``, from earlier seasons' results only."""
        hca = self._hca.get(season)
        if hca is None:
            p = self.params
            wins = games = 0
            # The latest seasons with results before this one: the previous ones while results
            # run on (training), the data's last ones for a season asked past the data.
            seen = sorted(s for s in self._home_record if s < season)
            for s in seen[-p.hca_window :] if p.hca_window > 0 else []:
                w, n = self._home_record[s]
                wins, games = wins + w, games + n
            if p.hca_window > 0 and games >= _MIN_HCA_GAMES:
                rate = wins / games
                hca = p.hca_scale * 400.0 * math.log10(rate / (1.0 - rate))
            else:
                hca = p.home_adv
            # Only cache once the season is under way: its own games never feed its value.
            if self._max_season >= season:
                self._hca[season] = hca
        return hca

    def season_spread(self) -> float | None:
        """The standard deviation of a team's rating move over one season (season end minus the
        carried-over start), over the last ``SPREAD_SEASONS`` team-seasons; None before enough."""
        if len(self._moves) < _MIN_SPREAD:
            return None
        if self._spread_memo is None:
            self._spread_memo = statistics.pstdev(self._moves)
        return self._spread_memo

    def spread_after(self, summers: int) -> float | None:
        """How far a team's true rating may lie from one carried over ``summers`` seasons (one
        standard deviation, Elo points): each season adds a move, each summer shrinks the sum by
        ``carry``, so the variance is spread^2 * (1 - carry^2n) / (1 - carry^2)."""
        sd = self.season_spread()
        if sd is None or summers <= 0:
            return None
        c2 = self.params.carry**2
        factor = summers if c2 >= 1.0 else (1.0 - c2**summers) / (1.0 - c2)
        return sd * math.sqrt(factor)

    def diff(self, home: str, away: str, season: int, *, neutral: bool, date: str = "") -> float:
        """Home rating minus away rating, plus home court unless neutral."""
        hca = 0.0 if neutral else self.home_adv(season)
        return self.rating(home, season, date) - self.rating(away, season, date) + hca

    def prob(self, home: str, away: str, season: int, *, neutral: bool, date: str = "") -> float:
        return win_prob(self.diff(home, away, season, neutral=neutral, date=date))

    def update(self, game: GameRow) -> tuple[float, float, float, float]:
        """Feed one result; return (home_before, away_before, home_after, away_after)."""
        hb = self.rating(game.home, game.season, game.date)
        ab = self.rating(game.away, game.season, game.date)
        d = hb - ab + (0.0 if game.neutral else self.home_adv(game.season))
        margin = game.home_pts - game.away_pts
        won = 1.0 if margin > 0 else 0.0
        winner_diff = d if margin > 0 else -d
        shift = self.params.k * mov_multiplier(margin, winner_diff) * (won - win_prob(d))
        for team, before in ((game.home, hb), (game.away, ab)):
            if self._season.get(team, -1) < game.season:  # its first game of the season
                last = self._rating.get(team)
                start = self._start.get(team)
                if last is not None and start is not None:
                    self._moves.append(last - start)
                    self._spread_memo = None
                self._start[team] = before
        self._rating[game.home], self._rating[game.away] = hb + shift, ab - shift
        self._season[game.home] = self._season[game.away] = game.season
        self._max_season = max(self._max_season, game.season)
        if not game.neutral:
            rec = self._home_record.setdefault(game.season, [0, 0])
            rec[0] += margin > 0
            rec[1] += 1
        return hb, ab, hb + shift, ab - shift


# How ``rating_series`` is described next to the ratings it computes (team_rating_history).
RATING_METHOD = "Elo with margin of victory, learnt home court and season carry-over (nbamcp.ml.ratings)"


def rating_series(games: Iterable[GameRow], params: EloParams = DEFAULT_ELO) -> list[RatingPoint]:
    """Two points per game (home, then away) in game order: each team's rating before and after."""
    elo = Elo(params)
    out: list[RatingPoint] = []
    for g in games:
        hb, ab, ha, aa = elo.update(g)
        out.append(RatingPoint(g.game_id, g.date, g.season, g.home, round(hb, 2), round(ha, 2)))
        out.append(RatingPoint(g.game_id, g.date, g.season, g.away, round(ab, 2), round(aa, 2)))
    return out


def walk_forward_log_loss(
    games: Sequence[GameRow],
    params: EloParams,
    *,
    score_from: int,
    score_to: int,
    prior: SeasonPrior | None = None,
    prior_share: float = 0.0,
) -> tuple[float, int]:
    """Log loss of Elo's own pre-game probability on seasons [score_from, score_to].

    Every earlier game only warms the ratings up. Returns (log loss, n games).
    """
    elo = Elo(params, prior=prior, prior_share=prior_share)
    total, n = 0.0, 0
    for g in games:
        if g.season > score_to:
            break
        if g.season >= score_from:
            p = elo.prob(g.home, g.away, g.season, neutral=g.neutral, date=g.date)
            p = min(max(p, 1e-12), 1 - 1e-12)
            total -= math.log(p if g.home_win else 1.0 - p)
            n += 1
        elo.update(g)
    if n == 0:
        raise InvalidInput(f"no games to score in seasons {score_from}-{score_to}")
    return total / n, n


class EloTuning(msgspec.Struct, frozen=True):
    params: EloParams
    log_loss: float
    n: int


def tune_elo(
    games: Sequence[GameRow],
    *,
    score_from: int = 1980,
    score_to: int = 2000,
    ks: Sequence[float] = (15.0, 20.0, 25.0),
    carries: Sequence[float] = (0.65, 0.75, 0.85),
    hca_windows: Sequence[int] = (0, 1, 3),
    hca_scales: Sequence[float] = (1.0, 1.1, 1.2),
    home_advs: Sequence[float] = (80.0, 100.0),
) -> list[EloTuning]:
    """Grid search by walk-forward log loss; best first.

    ``home_advs`` only varies for the fixed home court (``hca_window`` 0) and
    ``hca_scales`` only for the learnt one, so the grid has no duplicates.
    """
    grid: list[EloParams] = []
    for k, carry, window in itertools.product(ks, carries, hca_windows):
        if window == 0:
            grid += [EloParams(k=k, carry=carry, hca_window=0, home_adv=h) for h in home_advs]
        else:
            grid += [EloParams(k=k, carry=carry, hca_window=window, hca_scale=sc) for sc in hca_scales]
    results = []
    for params in grid:
        ll, n = walk_forward_log_loss(games, params, score_from=score_from, score_to=score_to)
        results.append(EloTuning(params, ll, n))
    results.sort(key=lambda r: r.log_loss)
    return results
