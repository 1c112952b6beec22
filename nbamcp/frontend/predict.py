"""The prediction tools: ``predict_game`` and ``predict_games`` (a slate, one bus request).

Arguments are validated by the SDK from the signatures (types, the date's
shape, the slate's size); teams and dates are resolved by the workers, which
answer unknown or identical teams and absurd dates with clear errors. The path
(cache, inference with retries and a circuit breaker, the Elo baseline when
inference is down) is ``nbamcp.serving.client.PredictClient``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from nbamcp.config import CacheConfig, InferenceConfig
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import make_tool, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import GamePrediction, GameQuery
from nbamcp.serving.client import PredictClient, PredictOutcome

CLIENT = "mcp"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MAX_TEXT_LINES = 60
TeamArg = Annotated[
    StrictStr,
    Field(min_length=1, max_length=64, description="team name, nickname, city or code: 'Celtics', 'BOS'"),
]
DateArg = Annotated[
    StrictStr | None,
    Field(
        pattern=DATE_PATTERN, description="game date YYYY-MM-DD (1946-11-01 to a year ahead); omit for today"
    ),
]
NeutralArg = Annotated[StrictBool, Field(description="true when neither team plays at home")]


class GameInput(BaseModel):
    """One game of a slate."""

    model_config = ConfigDict(extra="forbid")
    home: TeamArg
    away: TeamArg
    date: DateArg = None
    neutral: NeutralArg = False


class PredictGameOutput(GamePrediction, frozen=True, kw_only=True):
    request_id: str
    degraded: bool = False  # True: the model was unavailable and the Elo baseline answered
    note: str = ""


class PredictGamesOutput(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    count: int
    cache_hits: int
    degraded: bool
    note: str
    predictions: list[GamePrediction]


_UNITS = {"log-odds": "log-odds", "probability": "pts", "elo": "Elo"}


def _effect(value: float, unit: str) -> str:
    if unit == "probability":
        return f"{value * 100:+.1f} pts"
    if unit == "elo":
        return f"{value:+.0f} Elo"
    return f"{value:+.2f} {_UNITS.get(unit, unit)}"


def _value(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _result_line(p: GamePrediction) -> str:
    r = p.result
    if r is None:
        return ""
    winner = p.home_name if r.winner == p.home else p.away_name
    right = "right" if r.winner == p.winner else "wrong"
    return (
        f"Result: {winner} won, {p.home_name} {r.home_pts}-{r.away_pts} {p.away_name} (prediction {right})."
    )


def game_text(p: GamePrediction, *, note: str = "") -> str:
    where = "neutral court" if p.neutral else f"at {p.home_name}"
    stage = ", playoffs" if p.playoff else ""
    who = f"model {p.model_name} v{p.model_version}" if p.source == "model" else "Elo rating baseline"
    win = max(p.home_win_prob, p.away_win_prob)
    lines = [
        f"{p.away_name} @ {p.home_name}, {p.date} ({where}{stage}): {p.winner_name} {win:.1%} to win "
        f"({p.home_name} {p.home_win_prob:.1%}, {p.away_name} {p.away_win_prob:.1%}); {who}"
        + (", from the cache" if p.cached else "")
        + "."
    ]
    if note:
        lines.append(f"NOTE: {note}.")
    if p.contributions:
        lines.append("Main factors (+ helps the home team):")
        lines += [f"  {_effect(c.effect, p.unit)}  {c.label} = {_value(c.value)}" for c in p.contributions]
    if p.challenger is not None:
        c = p.challenger
        lines.append(f"Challenger {c.model_name} v{c.model_version}: {p.home_name} {c.home_win_prob:.1%}.")
    result = _result_line(p)
    if result:
        lines.append(result)
    return "\n".join(lines)


def slate_text(preds: list[GamePrediction], outcome: PredictOutcome, request_id: str) -> str:
    lines = [f"{len(preds)} game(s), {outcome.cache_hits} from the cache (request id {request_id})."]
    lines += [f"NOTE: {n}." for n in outcome.notes]
    for p in preds[:MAX_TEXT_LINES]:
        src = f"v{p.model_version}" if p.source == "model" else "baseline"
        win = max(p.home_win_prob, p.away_win_prob)
        line = f"- {p.date} {p.away} @ {p.home}: {p.winner_name} {win:.0%} ({src})"
        if p.result is not None:
            right = "right" if p.result.winner == p.winner else "wrong"
            line += f"; actual {p.result.home_pts}-{p.result.away_pts}, {right}"
        lines.append(line)
    if len(preds) > MAX_TEXT_LINES:
        lines.append(f"... {len(preds) - MAX_TEXT_LINES} more in the structured result.")
    return "\n".join(lines)


def predict_tools(
    gw: Gateway, settings: InferenceConfig | None = None, cache: CacheConfig | None = None
) -> list[Tool]:
    settings = settings or InferenceConfig()
    client = PredictClient(gw.call, settings, cache)
    max_slate = settings.max_slate

    async def predict_game(
        home: TeamArg, away: TeamArg, date: DateArg = None, neutral: NeutralArg = False
    ) -> CallToolResult:
        """Predict an NBA game: each team's win probability, the predicted winner, the model and
        version, the factors that weighed most (readable), the features used, whether it came from
        the cache, and for a game already played the actual result. With the model down it answers
        from the Elo rating baseline, flagged degraded."""
        outcome = await client.predict(
            [GameQuery(home=home, away=away, date=date, neutral=neutral)], client=CLIENT
        )
        (pred,) = outcome.predictions
        rid = current_request_id() or ""
        note = "; ".join(outcome.notes)
        out = PredictGameOutput(
            **msgspec.structs.asdict(pred), request_id=rid, degraded=outcome.degraded, note=note
        )
        return tool_result(out, game_text(pred, note=note) + f"\n(request id {rid})")

    async def predict_games(games: list[GameInput]) -> CallToolResult:
        rid = current_request_id() or ""
        queries = [GameQuery(home=g.home, away=g.away, date=g.date, neutral=g.neutral) for g in games]
        outcome = await client.predict(queries, client=CLIENT)
        out = PredictGamesOutput(
            request_id=rid,
            count=len(outcome.predictions),
            cache_hits=outcome.cache_hits,
            degraded=outcome.degraded,
            note="; ".join(outcome.notes),
            predictions=outcome.predictions,
        )
        return tool_result(out, slate_text(outcome.predictions, outcome, rid))

    # The bound comes from the settings: set as an object, not a string annotation.
    predict_games.__annotations__["games"] = Annotated[
        list[GameInput], Field(min_length=1, max_length=max_slate, description="the games, in any order")
    ]
    predict_games.__doc__ = (
        f"Predict a slate of NBA games in one call (at most {max_slate} games; split larger slates). "
        "Each game: {home, away, date (YYYY-MM-DD, optional: today), neutral (optional)}. Returns each "
        "game's win probabilities, predicted winner, model, main factors and, for games already played, "
        "the actual result."
    )
    return [
        make_tool(predict_game, PredictGameOutput),
        make_tool(predict_games, PredictGamesOutput),
    ]
