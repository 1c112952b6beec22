"""Predictions: ``nba.predict`` and the cache's lookup/baseline subjects."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message

# The most games one request may carry; ``inference.max_slate`` (500 by default) may only lower it.
MAX_SLATE = 1000

# ---------------------------------------------------------------------------
# Predictions
#
# ``nba.predict`` (inference worker) and ``nba.predict.baseline`` (cache worker)
# take a PredictRequest and answer a PredictReply; ``nba.predict.lookup``
# (cache worker) answers a CacheLookupReply; ``nba.predict.served`` carries
# fresh model predictions from inference to the cache. PredictionEvent.source
# is "model" for the champion's answer and for the challenger scored beside it
# (shadow traffic: same request id, the challenger's name and version),
# "baseline" for the Elo fallback (model_version 0).


class GameQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One game as the user named it; the worker resolves the teams."""

    home: Annotated[
        str, f.text("the home team: name, nickname, city or code, e.g. 'Celtics', 'BOS'", ["Celtics"])
    ]
    away: Annotated[str, f.text("the visiting team, e.g. 'Lakers', 'LAL'", ["Lakers"])]
    date: Annotated[
        f.Date | None,
        msgspec.Meta(
            description="the game's date YYYY-MM-DD (1946-11-01 to a year ahead); omit for today",
            examples=["2023-04-05"],
        ),
    ] = None
    neutral: Annotated[
        bool,
        msgspec.Meta(
            description="true when neither team plays at home (default false), e.g. true for a game in "
            "Mexico City or Paris",
            examples=[False, True],
        ),
    ] = False


class PredictRequest(Message, frozen=True):
    """A whole slate in one request."""

    games: Annotated[
        list[GameQuery],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_SLATE,
            description="the games, in any order: each {home, away, date (optional), neutral (optional)}",
            examples=[[{"home": "Celtics", "away": "Knicks", "date": "2023-03-05"}]],
        ),
    ]
    client: Annotated[str, msgspec.Meta(max_length=64)] = ""


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """How one feature moved the prediction; ``effect`` > 0 favours the home team."""

    feature: str
    label: str  # what a fan reads: "Celtics' point margin, last 10 games"
    value: float | None  # the feature's value (None when unknown, e.g. no game yet this season)
    effect: float  # in the prediction's ``unit``, signed toward the home team
    # The same factor in a fan's terms, against a neutral reference: the percentage points of win
    # probability it is worth (the text says "+|points| percentage points for <favours>") and one
    # sentence a fan can read.
    points: float = 0.0  # signed toward the home team, in percentage points
    favours: str = ""  # the franchise id the factor helps
    sentence: str = ""


class GameResult(msgspec.Struct, frozen=True, kw_only=True):
    """The actual result of a game already played."""

    game_id: str
    home_pts: int
    away_pts: int
    winner: str  # franchise id
    season_type: str


class ShadowScore(msgspec.Struct, frozen=True, kw_only=True):
    """The challenger's probability for the same game (traffic mode "shadow")."""

    model_name: str
    model_version: int
    home_win_prob: float


class GamePrediction(msgspec.Struct, frozen=True, kw_only=True):
    home: str  # franchise ids
    away: str
    home_name: str  # the team names of that season
    away_name: str
    date: str
    season: int
    neutral: bool
    playoff: bool
    home_win_prob: float
    away_win_prob: float
    winner: str  # the predicted winner's franchise id
    winner_name: str
    source: str  # "model" | "baseline"
    model_name: str
    model_version: int  # 0 for the baseline
    unit: str  # unit of the contributions' effect: "log-odds" | "probability" | "elo"
    explanation: str  # how the contributions were computed
    contributions: list[Contribution]
    features: dict[str, float | None]
    cached: bool = False
    result: GameResult | None = None
    challenger: ShadowScore | None = None
    # How old the ratings are: the latest result the features saw; for a game after it, the days
    # between, how many season boundaries lie between, and ``stale`` when the data does not reach
    # the day before the game (results since, and the schedule facts, are then unknown).
    data_through: str | None = None
    days_since_data: int | None = None  # None: the game is on or before data_through
    seasons_since_data: int = 0
    stale: bool = False
    unknown: list[str] = []  # features the data cannot know for this game (imputed, shown unknown)
    caveat: str = ""  # what a reader must know about the above, in words ("" when nothing)
    # The roster effect in a fan's terms (feature set fs2): each team's roster for this game against
    # its roster of last season, projected alike ("" when the features know no rosters).
    roster_note: str = ""
    # No date was given and the schedule knows the teams' next meeting: its stats.nba.com game id
    # (the prediction is for that game's date).
    scheduled_game_id: str | None = None


class PredictReply(Message, frozen=True):
    request_id: str
    predictions: list[GamePrediction]
    traffic: str = "shadow"
    # True when the registry's champion is not what answered (its artifact was refused, say):
    # the reason says what serves instead.
    degraded: bool = False
    degraded_reason: str = ""


class CacheLookupReply(Message, frozen=True):
    """One entry per requested game, in order: the cached prediction or None."""

    hits: list[GamePrediction | None]


class CachedPrediction(msgspec.Struct, frozen=True):
    key: str
    prediction: GamePrediction


class PredictionsServed(Message, frozen=True):
    entries: list[CachedPrediction]
