"""The prediction tools: ``predict_game`` and ``predict_games`` (a slate, one bus request).

Their inputs are the inference worker's own Structs (``GameQuery``; ``PredictRequest``
for the slate, at most ``inference.max_slate`` games); teams and dates are resolved by
the workers, which answer unknown or identical teams and absurd dates with clear errors.
The path (cache, inference with retries and a circuit breaker, the Elo baseline when
inference is down) is ``nbamcp.serving.client.PredictClient``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp.config import CacheConfig, InferenceConfig
from nbamcp.errors import InvalidInput
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.schedule import schedule_tool
from nbamcp.frontend.texts import count
from nbamcp.frontend.tooling import ToolSpec, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import Contribution, GamePrediction, GameQuery, PredictRequest
from nbamcp.serving.client import PredictClient, PredictOutcome

CLIENT = "mcp"
MAX_TEXT_LINES = 60


class PredictGameOutput(GamePrediction, frozen=True, kw_only=True):
    request_id: str
    # True: the registry's champion did not answer (inference down, or its artifact refused):
    # the note says what did (the Elo baseline, or the model still loaded)
    degraded: bool = False
    note: str = ""


class PredictGamesOutput(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    count: int
    cache_hits: int
    degraded: bool
    note: str
    predictions: list[GamePrediction]


def _async(fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        fn()

    return run


def _value(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _factor(c: Contribution) -> str:
    if not c.favours:  # a prediction made before factors were said in a fan's terms
        return f"  {c.label} = {_value(c.value)}"
    return f"  {abs(c.points):+.1f} percentage points for {c.favours}: {c.sentence}"


def prediction_note(p: GamePrediction, notes: list[str]) -> str:
    """The path's notes (degraded, ...) and the prediction's own caveat, in one line."""
    return "; ".join([*notes, p.caveat] if p.caveat else notes)


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
        lines.append("Main factors (percentage points of win probability, against evenly matched teams):")
        lines += [_factor(c) for c in p.contributions]
    if p.roster_note:
        lines.append(f"Rosters: {p.roster_note}")
    if p.challenger is not None:
        c = p.challenger
        lines.append(f"Challenger {c.model_name} v{c.model_version}: {p.home_name} {c.home_win_prob:.1%}.")
    result = _result_line(p)
    if result:
        lines.append(result)
    return "\n".join(lines)


def slate_notes(preds: list[GamePrediction], notes: list[str]) -> list[str]:
    stale = [p for p in preds if p.stale]
    if not stale:
        return notes
    first = stale[0]
    return [
        *notes,
        f"{count(len(stale), 'game')} after the data's end ({first.data_through}): predicted from the "
        "ratings of that day, with results since and rest days unknown (each game's caveat says more)",
    ]


def slate_text(preds: list[GamePrediction], outcome: PredictOutcome, request_id: str) -> str:
    lines = [f"{count(len(preds), 'game')}, {outcome.cache_hits} from the cache (request id {request_id})."]
    lines += [f"NOTE: {n}." for n in slate_notes(preds, outcome.notes)]
    for p in preds[:MAX_TEXT_LINES]:
        src = f"v{p.model_version}" if p.source == "model" else "baseline"
        win = max(p.home_win_prob, p.away_win_prob)
        line = f"- {p.date} {p.away} @ {p.home}: {p.winner_name} {win:.0%} ({src})"
        if p.result is not None:
            right = "right" if p.result.winner == p.winner else "wrong"
            line += f"; actual {p.result.home_pts}-{p.result.away_pts}, {right}"
        elif p.stale:
            line += f"; stale: ratings as of {p.data_through}, {p.days_since_data or 0:,} days before"
        lines.append(line)
    if len(preds) > MAX_TEXT_LINES:
        lines.append(f"... {len(preds) - MAX_TEXT_LINES} more in the structured result.")
    return "\n".join(lines)


def predict_tools(
    gw: Gateway, settings: InferenceConfig | None = None, cache: CacheConfig | None = None
) -> list[ToolSpec]:
    settings = settings or InferenceConfig()
    client = PredictClient(gw.call, settings, cache)
    # The bus is back (and its streams and buckets): the workers may answer again right now.
    gw.bus.link.on_recovery("predict breakers", _async(client.reset_breakers))
    max_slate = settings.max_slate

    async def predict_game(query: GameQuery, ctx: Context) -> CallToolResult:
        outcome = await client.predict([query], client=CLIENT)
        (pred,) = outcome.predictions
        rid = current_request_id() or ""
        notes = list(outcome.notes)
        if query.date is None:
            notes.insert(
                0,
                f"no date given: the teams' next scheduled meeting, {pred.date}"
                if pred.scheduled_game_id
                else f"no date given: predicted for today ({pred.date}), as no scheduled game of "
                f"{pred.away_name} at {pred.home_name} is known (`nbamcp ingest --live` fetches the "
                "schedule)",
            )
        note = prediction_note(pred, notes)
        out = PredictGameOutput(
            **msgspec.structs.asdict(pred), request_id=rid, degraded=outcome.degraded, note=note
        )
        return tool_result(out, game_text(pred, note=note) + f"\n(request id {rid})")

    async def predict_games(req: PredictRequest, ctx: Context) -> CallToolResult:
        if len(req.games) > max_slate:
            raise InvalidInput(
                f"games: {len(req.games)} games in one call (accepted: 1 to {max_slate} games; "
                "split larger slates)",
                details={"param": "games"},
            )
        rid = current_request_id() or ""
        outcome = await client.predict(list(req.games), client=CLIENT)
        out = PredictGamesOutput(
            request_id=rid,
            count=len(outcome.predictions),
            cache_hits=outcome.cache_hits,
            degraded=outcome.degraded,
            note="; ".join(slate_notes(outcome.predictions, outcome.notes)),
            predictions=outcome.predictions,
        )
        return tool_result(out, slate_text(outcome.predictions, outcome, rid))

    def slate_size(node: dict[str, Any]) -> dict[str, Any]:
        return {**node, "maxItems": max_slate}

    return [
        schedule_tool(gw, client),
        ToolSpec(
            name="predict_game",
            title="Predict a game",
            description="Predict an NBA game: each team's win probability, the predicted winner, the "
            "model and version, the factors that weighed most (readable), the features used, whether "
            "it came from the cache, and for a game already played the actual result. With the model "
            "down it answers from the Elo rating baseline, flagged degraded.",
            input=GameQuery,
            output=PredictGameOutput,
            run=predict_game,
        ),
        ToolSpec(
            name="predict_games",
            title="Predict a slate of games",
            description=f"Predict a slate of NBA games in one call (at most {max_slate} games; split "
            "larger slates). Each game: {home, away, date (YYYY-MM-DD, optional: today), neutral "
            "(optional)}. Returns each game's win probabilities, predicted winner, model, main factors "
            "and, for games already played, the actual result.",
            input=PredictRequest,
            output=PredictGamesOutput,
            run=predict_games,
            hidden=frozenset({"client"}),
            schema_overrides={"games": slate_size},
        ),
    ]
