"""The anomaly screen between an ingest and its announcement (the stats worker's side).

``screen_ingest`` judges what an ingest brought against the accepted games: the new games by
``nbamcp.monitoring.anomalies.screen`` (the ratings' pre-game probabilities from the project's
Elo, walked over the accepted history; the candidates never move it), and every known game told
with another score (``FileReport.rescored``). What is flagged is held (``nbamcp.data.held``) in
the same store before the announcement runs, so the other workers never see it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from nbamcp.config import AnomaliesConfig
from nbamcp.data.games import load_games
from nbamcp.data.held import Hold, hold, open_new_holds
from nbamcp.data.store import Store
from nbamcp.messages import GameRow, IngestReport
from nbamcp.ml.ratings import Elo
from nbamcp.monitoring.anomalies import AnomalyRules, Finding, rescore_reason, screen


def rules_from(config: AnomaliesConfig) -> AnomalyRules:
    return AnomalyRules(
        score_k=config.score_k, min_reference=config.min_reference, upset_prob=config.upset_prob,
        upset_window_days=config.upset_window_days, upset_alpha=config.upset_alpha,
        min_upsets=config.min_upsets, team_day=config.team_day, date_burst=config.date_burst,
    )  # fmt: skip


def pregame_home_probs(
    history: Sequence[GameRow], candidates: Sequence[GameRow], *, since: str = ""
) -> dict[str, float]:
    """Home win probability before each game (from ``since`` on): Elo over ``history`` only."""
    elo = Elo()
    cand_ids = {g.game_id for g in candidates}
    games = sorted((*history, *candidates), key=lambda g: (g.date, g.game_id))
    probs: dict[str, float] = {}
    day, pending = "", list[GameRow]()
    for g in games:
        if g.date != day:
            # A day's games are judged on the ratings before the day: same as the feature state.
            for p in pending:
                elo.update(p)
            day, pending = g.date, []
        if g.date >= since:
            probs[g.game_id] = elo.prob(g.home, g.away, g.season, neutral=g.neutral, date=g.date)
        if g.game_id not in cand_ids:
            pending.append(g)
    return probs


@dataclass(frozen=True, slots=True)
class Screened:
    holds: list[Hold]
    findings: list[Finding]


def _judge(all_games: list[GameRow], held: set[str], new_ids: set[str], rules: AnomalyRules) -> list[Finding]:
    candidates = [g for g in all_games if g.game_id in new_ids]
    if not candidates:
        return []
    history = [g for g in all_games if g.game_id not in new_ids and g.game_id not in held]
    first = min(g.date for g in candidates)
    probs = pregame_home_probs(history, candidates, since=_days_before(first, rules.upset_window_days))
    return [f for found in screen(candidates, history, probs, rules).values() for f in found]


def _days_before(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=days)).isoformat()


async def screen_ingest(store: Store, report: IngestReport, config: AnomaliesConfig) -> Screened:
    """Judge the ingest's news and hold what is flagged; returns the holds and every finding."""
    new_ids = set(report.new_game_ids)
    rescored = [r for f in report.files for r in f.rescored]
    if not config.enabled or not (new_ids or rescored):
        return Screened([], [])
    all_games = await load_games(store.conn)
    held = await open_new_holds(store)
    # ~73k games through the Elo: a fraction of a second, off the event loop.
    findings = await asyncio.to_thread(_judge, all_games, held, new_ids, rules_from(config))
    by_id = {g.game_id: g for g in all_games}
    rules: dict[str, list[Finding]] = {}
    for f in findings:
        rules.setdefault(f.game_id, []).append(f)
    holds = [
        Hold(gid, "new", by_id[gid].home_pts, by_id[gid].away_pts, [f.rule for f in fs],
             "; ".join(f.reason for f in fs))
        for gid, fs in rules.items()
    ]  # fmt: skip
    for r in rescored:
        g = by_id.get(r.game_id)
        if g is None or r.game_id in held or r.game_id in rules:
            continue  # held already: one hold per game
        f = rescore_reason(g, r.home_pts, r.away_pts, r.source)
        findings.append(f)
        holds.append(
            Hold(g.game_id, "rescored", r.home_pts, r.away_pts, [f.rule], f.reason, g.home_pts, g.away_pts)
        )
    if holds:
        await hold(store, holds)
    return Screened(holds, findings)
