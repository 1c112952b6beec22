"""A team's rating over time, computed from every game up to the end of the range.

The answer's ``points`` are thinned to what a chart shows (``nbamcp.data.charts.thin``);
its season summaries cover every game.

The caller passes the rating method (the stats worker passes the project's Elo,
``nbamcp.ml.ratings``): the data layer knows no ML code. A method is a function
from games in date order to points with ``team``, ``date``, ``season``,
``game_id`` and ``rating_after``, plus the sentence that describes it.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbamcp.data.charts import thin
from nbamcp.data.games import load_games
from nbamcp.data.queries.common import require_season
from nbamcp.data.queries.common import team as _team
from nbamcp.data.queries.coverage import coverage
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.messages import RatingHistory, RatingPoint, SeasonRating

RatingFn = Callable[[Sequence[Any]], Sequence[Any]]


@dataclass(frozen=True, slots=True)
class RatingMethod:
    fn: RatingFn
    description: str  # reported with every history ("method")


_TeamSeries = tuple[list[int], list[Any], bool]  # seasons, points (game order), seasons ascending


async def _series(store: Store, fn: RatingFn) -> dict[str, _TeamSeries]:
    """Ratings over every game, by team (seasons, points; in game order), computed once per
    store generation and rating function.

    Point in time: a rating after a game depends only on earlier games, so the
    whole-history series serves any season range.
    """
    key = f"ratings:{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
    by_team = store.cache.get(key)
    if by_team is None:
        games = await load_games(store.conn)
        series = await asyncio.to_thread(lambda: list(fn(games)))
        grouped: dict[str, tuple[list[int], list[Any]]] = {}
        for p in series:
            seasons, points = grouped.setdefault(p.team, ([], []))
            seasons.append(p.season)
            points.append(p)
        by_team = {t: (ss, ps, ss == sorted(ss)) for t, (ss, ps) in grouped.items()}
        store.cache[key] = by_team
    return by_team


def _in_range(seasons: list[int], points: list[Any], ascending: bool, lo: int, hi: int) -> list[Any]:
    if ascending:
        return points[bisect.bisect_left(seasons, lo) : bisect.bisect_right(seasons, hi)]
    return [p for p in points if lo <= p.season <= hi]  # a rating function out of season order


async def team_rating_history(
    store: Store,
    team: str,
    season_from: int | str,
    season_to: int | str,
    *,
    rating: RatingMethod,
) -> RatingHistory:
    """The franchise's rating after each of its games in [season_from, season_to]."""
    lo, hi = await require_season(store, season_from), await require_season(store, season_to)
    if lo > hi:
        raise InvalidInput(f"season_from {lo} is after season_to {hi}")
    f = _team(team, hi)
    points = [
        RatingPoint(p.date, p.season, p.game_id, round(float(p.rating_after), 1))
        for p in _in_range(*(await _series(store, rating.fn)).get(f.id, ([], [], True)), lo, hi)
    ]
    if not points:
        raise NotFound(f"{f.name} ({f.id}) has no games in {lo}-{hi}")
    by_season: dict[int, list[float]] = {}
    for p in points:
        by_season.setdefault(p.season, []).append(p.rating)
    seasons = [SeasonRating(s, len(v), v[0], v[-1], max(v), min(v)) for s, v in sorted(by_season.items())]
    through = (await coverage(store)).data_through
    # A client validates and an LLM reads every point: send what a chart shows, not 80 a season.
    keep = thin([dt.date.fromisoformat(p.date[:10]).toordinal() for p in points], [p.rating for p in points])
    shown = [points[i] for i in keep]
    return RatingHistory(
        f.id, f.name, lo, hi, rating.description, shown, seasons, data_through=through, games=len(points)
    )
