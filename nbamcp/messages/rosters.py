"""The roster model's team strengths as they travel between workers, one season per message.

Computed where the player tables live (``nbamcp.ml.rosters.RosterBook``, from player
projections and rosters as of a date) and replayed by every worker that computes
the roster-aware features (feature set fs2): they need the strengths, not the
players. Points per 100 possessions above average; ``as_of`` '' = from the season's
start, else in effect for games on and after that date.
"""

from __future__ import annotations

import msgspec


class TeamPrior(msgspec.Struct, frozen=True):
    """One team's projected roster strength for a season from ``as_of`` on."""

    team: str  # franchise id
    as_of: str  # '' (season start) or 'YYYY-MM-DD'
    strength: float | None  # None: a roster is known but no projections (the table's first season)
    source: str = "season-table"  # 'season-table' | 'previous-season' | 'nba_api'


class RosterPriors(msgspec.Struct, frozen=True):
    """Every team's strength for one season, the league's level and last season's rosters."""

    season: int
    teams: list[TeamPrior]  # ordered by team, then as_of
    league_mean: float | None = None  # mean of last season's rosters projected for this season
    previous: dict[str, float] = msgspec.field(default_factory=dict)  # team -> that roster's strength
