"""The roster effect of a prediction in a fan's terms: how each team's roster moved since last season.

A team's strength for a game (``RosterBook.strength``: its roster in effect that day) minus the
strength of its last roster of the season before, projected for the same season
(``RosterBook.previous_roster_strength``): the same player projections on both sides, so the
difference is who came and went, not how the projections moved. Said as "The Boston Celtics'
roster projects +4.1 points per 100 possessions better than last season's." (or "2.3 ... worse")
for each team whose
two strengths the book knows ("" when neither: fs1, or a season with no rosters).
"""

from __future__ import annotations

from nbamcp.ml.rosters import RosterBook
from nbamcp.serving.fan_terms import possessive

SAME = 0.05  # a change smaller than this is said as "about the same"


def roster_change(book: RosterBook, team: str, season: int, date: str) -> float | None:
    """Points per 100 possessions the team's roster on ``date`` projects above last season's."""
    now, before = book.strength(team, season, date), book.previous_roster_strength(team, season)
    if now is None or before is None:
        return None
    return now - before


def _sentence(name: str, change: float) -> str:
    who = possessive(name)
    who = who[0].upper() + who[1:]
    if abs(change) < SAME:
        return f"{who} roster projects about the same as last season's."
    if change > 0:
        return f"{who} roster projects {change:+.1f} points per 100 possessions better than last season's."
    return f"{who} roster projects {-change:.1f} points per 100 possessions worse than last season's."


def roster_note(
    book: RosterBook | None, home: tuple[str, str], away: tuple[str, str], season: int, date: str
) -> str:
    """One sentence per team ((id, name) each) whose roster change is known; '' for none."""
    if book is None:
        return ""
    out = []
    for team, name in (home, away):
        change = roster_change(book, team, season, date)
        if change is not None:
            out.append(_sentence(name, change))
    return " ".join(out)
