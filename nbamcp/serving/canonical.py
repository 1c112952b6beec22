"""A game query in canonical form: franchise ids, an ISO date, its season; or a clear error.

Team names are resolved with ``nbamcp.data.franchises.resolve_team`` for the
season of the game (so "Hornets" in 2004 is New Orleans), here in the workers:
the front end cannot import the data package. Every error names the game
(``games[3].home``) and what is accepted; a slate is checked whole before
anything is predicted, so a bad game never leaves half a slate logged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from nbamcp.data.franchises import Franchise, resolve_team
from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from nbamcp.messages import GameQuery, ScheduledGame
from nbamcp.ml.features import season_for_date

# The BAA's first game (the league that became the NBA).
FIRST_GAME = dt.date(1946, 11, 1)
# Predictions reach this far ahead: a schedule is known about a season in advance.
MAX_DAYS_AHEAD = 366
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Today = Callable[[], dt.date]
# (home id, away id, first day 'YYYY-MM-DD') -> the first scheduled game of home against away then.
NextMeeting = Callable[[str, str, str], ScheduledGame | None]


class CanonicalGame(NamedTuple):
    home: str
    away: str
    date: str
    season: int
    neutral: bool
    home_name: str
    away_name: str
    scheduled: str = ""  # no date was given: the schedule's game id of the meeting predicted


def parse_game_date(raw: object, today: dt.date, where: str = "") -> dt.date:
    """The game date: None means today; otherwise 'YYYY-MM-DD' between 1946-11-01 and a year ahead."""
    if raw is None:
        return today
    last = today + dt.timedelta(days=MAX_DAYS_AHEAD)
    day = None
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw):
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(
                f"{where}date {raw!r} does not exist: {_accepted(last)}", details={"date": raw}
            ) from None
    if day is None:
        raise InvalidInput(
            f"{where}date {raw!r} is not a date: {_accepted(last)}", details={"date": str(raw)}
        )
    if day < FIRST_GAME:
        raise InvalidInput(
            f"{where}date {raw} is before the first BAA/NBA game ({FIRST_GAME}): {_accepted(last)}",
            details={"date": str(raw)},
        )
    if day > last:
        raise InvalidInput(
            f"{where}date {raw} is too far ahead: predictions go up to {MAX_DAYS_AHEAD} days after "
            f"today ({last})",
            details={"date": str(raw)},
        )
    return day


def _accepted(last: dt.date) -> str:
    return f"expected 'YYYY-MM-DD' between {FIRST_GAME} and {last}, or no date for today"


def _team(query: object, side: str, season: int, where: str) -> Franchise:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(
            f"{where}{side} must be a team name or code, e.g. 'BOS', 'Celtics', 'Boston Celtics'; "
            f"got {query!r}"
        )
    try:
        return resolve_team(query, season)
    except (NotFound, Ambiguous, InvalidInput) as exc:
        details = dict(exc.details) | {"side": side}
        raise type(exc)(f"{where}{side} team: {exc.message}", details=details) from None


def canonicalize(
    q: GameQuery, *, today: dt.date, where: str = "", next_meeting: NextMeeting | None = None
) -> CanonicalGame:
    """The game as named; with no date, the two teams' next scheduled meeting (this home team at
    home) when the schedule knows one within the prediction horizon, else today."""
    day = parse_game_date(q.date, today, where)
    season = season_for_date(day)
    home = _team(q.home, "home", season, where)
    away = _team(q.away, "away", season, where)
    neutral = bool(q.neutral)
    meeting = next_meeting(home.id, away.id, day.isoformat()) if q.date is None and next_meeting else None
    if meeting is not None and meeting.date <= (today + dt.timedelta(days=MAX_DAYS_AHEAD)).isoformat():
        day = dt.date.fromisoformat(meeting.date)
        season = season_for_date(day)
        neutral = neutral or meeting.neutral
    if home.id == away.id:
        raise InvalidInput(
            f"{where}home and away are the same team ({home.name_in(season)}, {home.id}): "
            "a game needs two different teams",
            details={"home": q.home, "away": q.away},
        )
    for side, f in (("home", home), ("away", away)):
        if f.era(season) is None:
            span = f"{f.first_season}-{f.last_season or 'today'}"
            raise InvalidInput(
                f"{where}{side} team {f.name_in(season)} ({f.id}) did not play in the {season - 1}-"
                f"{str(season)[2:]} season (the franchise played seasons {span})",
                details={"team": f.id, "season": str(season)},
            )
    return CanonicalGame(
        home=home.id,
        away=away.id,
        date=day.isoformat(),
        season=season,
        neutral=neutral,
        home_name=home.name_in(season),
        away_name=away.name_in(season),
        scheduled=meeting.game_id if meeting is not None and day.isoformat() == meeting.date else "",
    )


def canonicalize_all(
    games: Sequence[GameQuery], *, today: dt.date, max_slate: int, next_meeting: NextMeeting | None = None
) -> list[CanonicalGame]:
    """Every game of a slate, or the first error (naming the game); nothing partial."""
    if not games:
        raise InvalidInput("no games to predict: give at least one {home, away} pair")
    if len(games) > max_slate:
        raise InvalidInput(
            f"{len(games)} games in one request; the limit is {max_slate} per request "
            "(split the slate into several calls)",
            details={"limit": str(max_slate)},
        )
    out = []
    single = len(games) == 1
    for i, q in enumerate(games):
        where = "" if single else f"games[{i}]: "
        out.append(canonicalize(q, today=today, where=where, next_meeting=next_meeting))
    return out
