"""The ``schedule`` tool: the games not played yet, each with its prediction.

The stats worker lists the scheduled games (``nba.stats.schedule``, from what
``nbamcp ingest --live`` fetched); their predictions come as one slate through the
same path as ``predict_games`` (cache, inference, the Elo baseline when inference is
down). With no prediction path at all the games are still listed, and the note says
why they have no prediction.
"""

from __future__ import annotations

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp import endpoints as ep
from nbamcp.errors import NbaError
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.texts import count
from nbamcp.frontend.tooling import ToolSpec, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import GamePrediction, GameQuery, ScheduledGameOut, ScheduleRequest
from nbamcp.serving.client import PredictClient

CLIENT = "mcp"


class ScheduledPrediction(ScheduledGameOut, frozen=True, kw_only=True):
    prediction: GamePrediction | None = None  # None: no prediction path answered (the note says why)


class ScheduleOutput(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    total: int  # games matching (``games`` holds at most the limit), earliest first
    date_from: str
    date_to: str
    schedule_through: str | None  # the last scheduled date the store knows (None: no schedule)
    fetched_at: str | None  # when the schedule was last fetched from stats.nba.com
    degraded: bool  # the predictions came from the Elo baseline (inference down)
    note: str  # why the list is empty, why predictions are missing or stale ("" when nothing)
    games: list[ScheduledPrediction]


def _line(g: ScheduledPrediction) -> str:
    tip = f" {g.tip_utc[11:16]} UTC" if g.tip_utc else ""
    where = " (neutral court)" if g.neutral else ""
    line = f"- {g.date}{tip} {g.away_name} @ {g.home_name}{where}"
    p = g.prediction
    if p is None:
        return line
    win = max(p.home_win_prob, p.away_win_prob)
    src = f"v{p.model_version}" if p.source == "model" else "baseline"
    line += f": {p.winner_name} {win:.0%} ({src})"
    if p.stale:
        line += f"; stale: ratings as of {p.data_through}, {p.days_since_data or 0:,} days before"
    return line


def schedule_text(out: ScheduleOutput) -> str:
    span = f"on {out.date_from}" if out.date_from == out.date_to else f"from {out.date_from} to {out.date_to}"
    head = f"{count(out.total, 'scheduled game')} {span}"
    if out.fetched_at:
        head += f" (schedule fetched {out.fetched_at})"
    lines = [head + f", request id {out.request_id}."]
    if out.note:
        lines.append(f"NOTE: {out.note}.")
    lines += [_line(g) for g in out.games]
    if out.total > len(out.games):
        lines.append(f"... {out.total - len(out.games)} more: raise limit or narrow the days.")
    return "\n".join(lines)


def schedule_tool(gw: Gateway, client: PredictClient) -> ToolSpec:
    async def schedule(req: ScheduleRequest, ctx: Context) -> CallToolResult:
        listed = await gw.call(ep.SCHEDULE, req)
        rid = current_request_id() or ""
        notes = [listed.note] if listed.note else []
        preds: list[GamePrediction | None] = [None] * len(listed.games)
        degraded = False
        if listed.games:
            queries = [
                GameQuery(home=g.home, away=g.away, date=g.date, neutral=g.neutral) for g in listed.games
            ]
            try:
                outcome = await client.predict(queries, client=CLIENT)
            except NbaError as exc:  # the schedule is still worth listing
                notes.append(f"no predictions: {exc.code}: {exc.message}")
            else:
                preds = list(outcome.predictions)
                degraded = outcome.degraded
                notes += outcome.notes
                stale = [p for p in outcome.predictions if p.stale]
                if stale:
                    notes.append(
                        f"{count(len(stale), 'prediction')} from ratings as of {stale[0].data_through} "
                        "(the results since are not in the store: `nbamcp ingest --live` fetches them)"
                    )
        out = ScheduleOutput(
            request_id=rid,
            total=listed.total,
            date_from=listed.date_from,
            date_to=listed.date_to,
            schedule_through=listed.schedule_through,
            fetched_at=listed.fetched_at,
            degraded=degraded,
            note="; ".join(notes),
            games=[
                ScheduledPrediction(**msgspec.structs.asdict(g), prediction=p)
                for g, p in zip(listed.games, preds, strict=True)
            ],
        )
        return tool_result(out, schedule_text(out))

    return ToolSpec(
        name="schedule",
        title="Scheduled games with predictions",
        description="The NBA games not played yet (the current season's schedule, fetched from "
        "stats.nba.com by `nbamcp ingest --live`), each with its prediction: from date (default today) "
        "for days days (default 1), for one team or every team. Each game: date, tip-off time (UTC), "
        "teams, neutral court, and the prediction (win probabilities, winner, model; stale when the "
        "results since are not in the store). An empty list says why (no schedule fetched, or where it "
        "ends).",
        input=ScheduleRequest,
        output=ScheduleOutput,
        run=schedule,
    )
