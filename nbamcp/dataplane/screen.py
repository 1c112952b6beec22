"""The anomaly screen between an ingest and its announcement (the stats worker's side).

``screen_ingest`` judges what an ingest brought against the accepted games: the new games by
``nbamcp.monitoring.anomalies.screen`` (the ratings' pre-game probabilities from the project's
Elo, walked over the accepted history; the candidates never move it), and every known game told
with another score (``FileReport.rescored``). What is flagged is held (``nbamcp.data.held``) in
the same store before the announcement runs, so the other workers never see it.

Every way games enter a store goes through it: the stats worker's ingest endpoint, its
first-start auto-ingest of the data folder and the offline ``nbamcp ingest`` (``first``: the
latest days of a store's first ingest, against the history before them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
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


def latest_days(games: Sequence[GameRow], ids: set[str], days: int) -> set[str]:
    """Of ``ids``, the games within ``days`` of the latest game date among them."""
    dates = [g.date for g in games if g.game_id in ids]
    if not dates or days <= 0:
        return set()
    since = _days_before(max(dates), days - 1)
    return {g.game_id for g in games if g.game_id in ids and g.date >= since}


async def screen_ingest(
    store: Store, report: IngestReport, config: AnomaliesConfig, *, first: bool = False
) -> Screened:
    """Judge the ingest's news and hold what is flagged; returns the holds and every finding.

    ``first``: the store's first ingest (it was empty). Its games are the history itself, so
    only the latest ``first_ingest_days`` of them are judged, against the games before them: as
    if those days had arrived as an ingest of results (the ratings before them, the eras'
    statistics without them). A whole history judged at once would have no reference."""
    new_ids = set(report.new_game_ids)
    rescored = [r for f in report.files for r in f.rescored]
    if not config.enabled or not (new_ids or rescored):
        return Screened([], [])
    all_games = await load_games(store.conn)
    if first:
        new_ids, rescored = latest_days(all_games, new_ids, config.first_ingest_days), []
        if not new_ids:
            return Screened([], [])
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


def offline_screen(config: AnomaliesConfig) -> Callable[[Store, IngestReport, bool], Awaitable[str]]:
    """The screen as ``nbamcp ingest`` runs it (``nbamcp.data.ingest.offline.Screen``): no bus, so
    no alert; the holds are in the store (``held_games`` on the next start) and in its output."""

    async def run(store: Store, report: IngestReport, first: bool) -> str:
        return describe(await screen_ingest(store, report, config, first=first))

    return run


def describe(screened: Screened) -> str:
    """One line for a command's output: what the screen held, per rule."""
    if not screened.holds:
        return "anomaly screen: nothing held"
    rules: dict[str, int] = {}
    for f in screened.findings:
        rules[f.rule] = rules.get(f.rule, 0) + 1
    per_rule = ", ".join(f"{r} {n}" for r, n in sorted(rules.items()))
    return (
        f"anomaly screen: {len(screened.holds)} game(s) held ({per_rule}), out of features and "
        f"training until accept_games (held_games lists them); first: {screened.findings[0].reason}"
    )
