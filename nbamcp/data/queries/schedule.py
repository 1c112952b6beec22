"""The schedule look-up: games not played yet, from a day on, for one team or all.

Answered from ``scheduled_games`` (``nbamcp.data.schedule``): what ``nbamcp ingest --live``
fetched last. An empty answer says why: no schedule fetched at all, or where it ends.
"""

from __future__ import annotations

import datetime as dt

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.queries.common import check_limit
from nbamcp.data.queries.common import team as _team
from nbamcp.data.schedule import load_schedule
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput
from nbamcp.messages import ScheduledGame, ScheduledGameOut, ScheduleList

MAX_DAYS = 366


def scheduled_out(g: ScheduledGame) -> ScheduledGameOut:
    return ScheduledGameOut(
        game_id=g.game_id, date=g.date, tip_utc=g.tip_utc, season=g.season, season_type=g.season_type,
        playin=g.playin, home=g.home, home_name=FRANCHISES[g.home].name_in(g.season), away=g.away,
        away_name=FRANCHISES[g.away].name_in(g.season), neutral=g.neutral,
    )  # fmt: skip


def _day(value: str | None, today: dt.date) -> dt.date:
    if value is None:
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"date: {value!r} is not a date (accepted: YYYY-MM-DD, e.g. 2026-12-03)") from None


async def schedule(
    store: Store,
    date: str | None = None,
    team: str | None = None,
    days: int = 1,
    limit: int = 50,
    *,
    today: dt.date | None = None,
) -> ScheduleList:
    """Scheduled games from ``date`` (default today) for ``days`` days, earliest first."""
    check_limit(limit)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days: {days} is out of range (accepted: 1 to {MAX_DAYS})")
    first = _day(date, today or dt.date.today())
    try:
        last = first + dt.timedelta(days=days - 1)
    except OverflowError:
        raise InvalidInput(f"date: {date!r} plus {days} days is past the calendar's end") from None
    fid = None if team is None else _team(team).id
    every = await load_schedule(store.conn)
    meta = await store.fetchone("SELECT max(date), max(fetched_at) FROM scheduled_games")
    through, fetched = (meta[0], meta[1]) if meta else (None, None)
    hits = [
        g
        for g in every
        if first.isoformat() <= g.date <= last.isoformat() and (fid is None or fid in (g.home, g.away))
    ]
    note = ""
    if not hits:
        span = f"on {first}" if days == 1 else f"from {first} to {last}"
        who = f" for {FRANCHISES[fid].name} ({fid})" if fid else ""
        if through is None:
            note = (
                "no schedule in the store: fetch the current season's with `nbamcp ingest --live` "
                "(needs stats.nba.com)"
            )
        elif last.isoformat() < (every[0].date if every else through) or first.isoformat() > through:
            left = f"{every[0].date} to {through}" if every else f"up to {through}, all played"
            note = f"no scheduled games{who} {span}: the schedule (fetched {fetched}) covers {left}"
        else:
            note = f"no scheduled games{who} {span}"
    return ScheduleList(
        total=len(hits),
        date_from=first.isoformat(),
        date_to=last.isoformat(),
        games=[scheduled_out(g) for g in hits[:limit]],
        schedule_through=through,
        fetched_at=fetched,
        note=note,
    )
