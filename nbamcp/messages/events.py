"""Events shared by several actors: predictions served, results ingested, models changed."""

from __future__ import annotations

from nbamcp.messages.base import Message
from nbamcp.messages.data import GameRow

# ---------------------------------------------------------------------------
# Events shared by several actors (contract between producers and consumers).


class PredictionEvent(Message, frozen=True):
    """One prediction served; published on ``nba.events.prediction`` (durable)."""

    request_id: str
    ts: float  # unix seconds
    model_name: str
    model_version: int  # 0 for the rating baseline used when no model answers
    source: str  # "model" | "baseline"
    home: str  # franchise ids
    away: str
    date: str  # YYYY-MM-DD of the game
    neutral: bool
    home_win_prob: float
    feature_set: str
    features: list[float]
    latency_ms: float
    game_id: str | None = None
    cached: bool = False
    client: str = ""
    tenant: str = ""  # the API key's tenant on HTTP/SSE; "" for stdio and the server's own work
    shadow: bool = False  # scored beside the served answer (challenger in shadow, champion in canary)

    def dedup_id(self) -> str:
        """The same served prediction (request, model version, game) is one event, however often sent."""
        return (
            f"prediction:{self.request_id}:{self.model_name}:{self.model_version}:"
            f"{self.date}:{self.home}:{self.away}"
        )


class GamesIngested(Message, frozen=True):
    """New (or corrected) results reached the store; published on ``nba.events.games`` (durable),
    after the games dataset has them, at most 2,000 games per event."""

    game_ids: list[str]
    teams: list[str]  # franchise ids with new results
    date_from: str
    date_to: str
    rows: list[GameRow] = []  # the results themselves: nobody reads the stats store


class ModelsChanged(Message, frozen=True):
    """An alias moved; published on ``nba.models.changed``."""

    name: str
    alias: str
    version: int
    previous_version: int | None = None
