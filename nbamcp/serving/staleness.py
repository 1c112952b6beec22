"""How old a prediction's ratings are, and what that leaves unknown.

A game after the latest result the features saw (``data_through``) is predicted
from the state of that day. When the data does not reach the day before the game,
results in between may exist that the store does not know: the prediction is
``stale``, rest days and back-to-backs are unknown (``schedule_known`` False for
``FeatureState.features_for``), and for a game seasons later the ratings are
those the training code gives a team at a new season's start (one summer's
regression per boundary), so it is predicted as an opener would be, with wider
uncertainty than its probability shows.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

from nbamcp.ml.ratings import Elo, win_prob

# The data must reach the day before a game for its schedule facts to be known.
FRESH_DAYS = 1


class Staleness(NamedTuple):
    data_through: str | None
    days: int | None  # days from data_through to the game; None: on or before data_through
    seasons: int  # season boundaries between the data's last season and the game's
    stale: bool
    # Elo points: how far each team's true rating may lie from the carried-over one (one standard
    # deviation, from how far recent seasons moved teams: Elo.spread_after); None when not known.
    spread: float | None = None
    season_move: float | None = None  # one season's move (the standard deviation it starts from)

    @property
    def schedule_known(self) -> bool:
        return not self.stale


KNOWN = Staleness(None, None, 0, False)


def staleness(
    date: str, season: int, data_through: str | None, data_season: int | None, elo: Elo | None = None
) -> Staleness:
    """Where ``date`` (of ``season``) lies against the data's end; ``elo``: the ratings of that end
    (for how uncertain they are seasons later)."""
    if data_through is None or date <= data_through:
        return Staleness(data_through, None, 0, False)
    days = (dt.date.fromisoformat(date) - dt.date.fromisoformat(data_through)).days
    seasons = max(0, season - data_season) if data_season is not None else 0
    if elo is None or not seasons:
        return Staleness(data_through, days, seasons, days > FRESH_DAYS)
    return Staleness(
        data_through, days, seasons, days > FRESH_DAYS, elo.spread_after(seasons), elo.season_spread()
    )


def _pct(p: float) -> str:
    return f"{p:.0%}"


def caveat(s: Staleness, unknown: list[str], *, elo_diff: float | None = None, home: str = "") -> str:
    """The note a reader needs ("" when the ratings are current); ``elo_diff`` (home court
    included) and the home team's name let it say the range the spread leaves."""
    if not s.stale or s.days is None:
        return ""
    parts = [f"ratings as of {s.data_through}, {s.days:,} days before this game"]
    if s.seasons:
        summers = "one summer" if s.seasons == 1 else f"{s.seasons} summers"
        parts.append(
            f"the game is {s.seasons} season{'s' if s.seasons != 1 else ''} past the data: each "
            f"rating was pulled toward the league average for {summers}, as training does at every "
            "new season, so it is predicted as a season opener would be; trades, injuries and "
            "form since then are unknown, so the real uncertainty is much wider than this "
            "probability says"
        )
        spread, move = s.spread, s.season_move
        gap_known = elo_diff is not None and math.isfinite(elo_diff)
        if spread is not None and move is not None and elo_diff is not None and gap_known and home:
            # Both teams' ratings are uncertain: the gap's deviation is sqrt(2) times one team's.
            gap = math.sqrt(2.0) * spread
            low, high = win_prob(elo_diff - gap), win_prob(elo_diff + gap)
            parts.append(
                f"a team's rating moves about {move:.0f} Elo points in a season (one "
                f"standard deviation over recent seasons); {summers} on, the {home} could as well "
                f"be anywhere from about {_pct(low)} to {_pct(high)} to win (one standard deviation "
                "either way, on the Elo scale)"
            )
    else:
        parts.append("results since then are not in the data")
    if unknown:
        parts.append("unknown (counted as a typical game): " + ", ".join(unknown))
    return "; ".join(parts)
