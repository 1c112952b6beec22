"""Alerts and the anomaly hold: what a worker raises when something looks wrong, and the games held back.

``Alert`` travels on the durable ``nba.events.alerts`` (``nbamcp.endpoints.ALERTS``): the alerts worker
stores it (one per condition ``key`` per dedupe window), answers ``alerts`` from its store and
sends it to the webhook. ``HeldGame`` is a result the stats worker kept out of the games dataset
(features, training) until an admin accepts it (``accept_games``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")


class Alert(Message, frozen=True):
    """One condition seen by one worker.

    ``key`` names the condition (``anomaly.score_outlier``, ``ops.latency.stats``,
    ``drift.features``): alerts with the same key inside the dedupe window are one alert.
    ``numbers`` are what the check measured (the value, its limit, counts).
    """

    key: str
    severity: Severity
    source: str  # the worker that raised it
    reason: str  # one sentence a person can act on
    raised_at: str  # ISO 8601 UTC
    numbers: dict[str, float] = {}
    subjects: list[str] = []  # what it is about (game ids, a worker's name), capped by the raiser


class StoredAlert(msgspec.Struct, frozen=True):
    """An alert as the store keeps it: with the checks that repeated it inside its window."""

    alert_id: int
    key: str
    severity: str
    source: str
    reason: str
    raised_at: str
    numbers: dict[str, float]
    subjects: list[str]
    repeats: int  # later alerts with this key folded into this one (the dedupe window)
    last_seen: str
    delivered: bool  # the webhook took it (always False without a webhook)


class AlertsRequest(Message, frozen=True):
    since: Annotated[
        Annotated[
            str,
            msgspec.Meta(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$"),
        ]
        | None,
        msgspec.Meta(
            description="only alerts raised at or after this time (ISO 8601, e.g. 2023-01-31 or "
            "2023-01-31T12:00:00Z); omit for the most recent",
            examples=["2023-01-31"],
        ),
    ] = None
    severity: Annotated[
        Severity | None,
        msgspec.Meta(
            description="the lowest severity to list (info < warning < critical); omit for all",
            examples=["warning"],
        ),
    ] = None
    limit: Annotated[int, f.limit(500, 100)] = 100


class AlertList(Message, frozen=True):
    alerts: list[StoredAlert]  # newest first
    total: int  # stored alerts matching the filter (the list is capped at the limit)
    dedupe_window_s: float
    webhook: str  # "off", or the webhook's host (never its full URL: it may hold a token)
    undelivered: int  # alerts the webhook has not taken yet (retrying)


# ---------------------------------------------------------------------------
# The anomaly hold (stats worker).


class HeldGame(msgspec.Struct, frozen=True):
    game_id: str
    date: str
    season: int
    home: str
    away: str
    home_pts: int  # the held result
    away_pts: int
    kind: str  # "new": a game not announced yet; "rescored": another score for an announced game
    rules: list[str]  # the rules that flagged it (score_outlier, mass_upsets, rescored, ...)
    reason: str
    held_at: str
    was_home_pts: int | None = None  # "rescored": the score the other workers have
    was_away_pts: int | None = None


class HeldGamesRequest(Message, frozen=True):
    limit: Annotated[int, f.limit(1000, 200)] = 200


class HeldGames(Message, frozen=True):
    games: list[HeldGame]  # date order
    total: int


GameId = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["2023-01-05-BOS-NYK-0"]
    ),
]


class AcceptGamesRequest(Message, frozen=True):
    game_ids: Annotated[
        list[GameId],
        msgspec.Meta(
            min_length=1,
            max_length=1000,
            description="the held games to accept (ids as held_games lists them): they then reach "
            "features and training like any ingested result",
            examples=[["2023-04-01-DET-MIL-1"]],
        ),
    ]
    actor: Annotated[str, msgspec.Meta(max_length=f.NAME_MAX, pattern=f.PRINTABLE)] = ""


class AcceptedGames(Message, frozen=True):
    accepted: list[str]
    not_held: list[str]  # ids that were not held (unknown, or accepted before)
    announced: int  # games announced to the other workers by this acceptance
