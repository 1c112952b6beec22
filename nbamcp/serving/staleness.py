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
from typing import NamedTuple

# The data must reach the day before a game for its schedule facts to be known.
FRESH_DAYS = 1


class Staleness(NamedTuple):
    data_through: str | None
    days: int | None  # days from data_through to the game; None: on or before data_through
    seasons: int  # season boundaries between the data's last season and the game's
    stale: bool

    @property
    def schedule_known(self) -> bool:
        return not self.stale


KNOWN = Staleness(None, None, 0, False)


def staleness(date: str, season: int, data_through: str | None, data_season: int | None) -> Staleness:
    """Where ``date`` (of ``season``) lies against the data's end."""
    if data_through is None or date <= data_through:
        return Staleness(data_through, None, 0, False)
    days = (dt.date.fromisoformat(date) - dt.date.fromisoformat(data_through)).days
    seasons = max(0, season - data_season) if data_season is not None else 0
    return Staleness(data_through, days, seasons, days > FRESH_DAYS)


def caveat(s: Staleness, unknown: list[str]) -> str:
    """The note a reader needs ("" when the ratings are current)."""
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
    else:
        parts.append("results since then are not in the data")
    if unknown:
        parts.append("unknown (counted as a typical game): " + ", ".join(unknown))
    return "; ".join(parts)
