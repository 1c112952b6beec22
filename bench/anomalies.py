"""The anomaly screen's false positives on the real history: every real game, screened as if it
were ingested on its day, against the games before it.

The shared 538 file is walked day by day (the project's Elo updated after each day, as the
screen sees it); each day's games are the candidates, the earlier games the accepted history.
Every game held is a false positive (the file is the real record), so the count per rule is the
rules' false-positive rate on real data; the held games are listed to explain them.

    .venv/bin/python bench/anomalies.py [--from-season 1947] [--show 40] [--json]

Defaults: ``[anomalies]`` of the configuration (``configs/default.toml``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.train import store_games
from nbamcp.config import load_config
from nbamcp.data.games import GameRow
from nbamcp.dataplane.screen import _judge, rules_from
from nbamcp.ml.ratings import Elo
from nbamcp.monitoring.anomalies import EraScales, Finding, screen


def walk(
    games: list[GameRow], from_season: int, score_k: float | None = None
) -> tuple[list[Finding], int, float]:
    rules = rules_from(load_config().anomalies)
    if score_k is not None:
        rules = dataclasses.replace(rules, score_k=score_k)
    by_day: dict[str, list[GameRow]] = defaultdict(list)
    for g in games:
        by_day[g.date].append(g)
    elo = Elo()
    probs: dict[str, float] = {}
    by_season: dict[int, list[GameRow]] = defaultdict(list)
    recent: list[GameRow] = []  # the last upset_window_days days
    found: list[Finding] = []
    screened = 0
    t0 = time.perf_counter()
    scales: EraScales | None = None
    scales_key: tuple[int, int] = (0, 0)
    for day in sorted(by_day):
        cands = by_day[day]
        for g in cands:
            probs[g.game_id] = elo.prob(g.home, g.away, g.season, neutral=g.neutral, date=g.date)
        season = cands[0].season
        if season >= from_season:
            # What the rules read of the history: the season so far (and earlier ones for the
            # scales), the last days (upsets), the same day (bursts; none before it).
            ref = [*by_season.get(season - 2, []), *by_season.get(season - 1, []), *by_season.get(season, [])]
            # Scales move slowly: rebuilt every 25 games of the season (exactly what a daily
            # screen computes up to that lag; a bench shortcut, not the worker's code path).
            key = (season, len(by_season.get(season, [])) // 25)
            if scales is None or key != scales_key:
                scales, scales_key = EraScales(ref, rules.min_reference), key
            history = [*(g for g in recent if g.season != season), *by_season.get(season, [])]
            out = screen(cands, history, probs, rules, scales=scales)
            found.extend(f for fs in out.values() for f in fs)
            screened += len(cands)
        for g in cands:
            elo.update(g)
            by_season[g.season].append(g)
        recent = [g for g in (*recent, *cands) if _days(day, g.date) < rules.upset_window_days]
    return found, screened, time.perf_counter() - t0


def one_ingest_ms(games: list[GameRow], repeats: int = 5) -> float:
    """What the stats worker spends screening one day of results against the whole history
    (Elo walk included): the median of ``repeats`` runs, in ms."""
    rules = rules_from(load_config().anomalies)
    last = games[-1].date
    new = {g.game_id for g in games if g.date == last}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _judge(games, set(), new, rules)
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(a) - date.fromisoformat(b)).days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from-season", type=int, default=1947)
    ap.add_argument("--show", type=int, default=40, help="held games to list")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--score-k", type=float, help="override [anomalies] score_k (to see its trade-off)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        games, store, _ = store_games(None, Path(tmp))
    found, screened, seconds = walk(games, args.from_season, args.score_k)
    per_ingest = one_ingest_ms(games)
    held = {f.game_id for f in found}
    rules = Counter(f.rule for f in found)
    by_era = Counter(f"{(int(f.game_id[:4]) // 10) * 10}s" for f in found)
    result = {
        "store": store, "games_screened": screened, "games_held": len(held),
        "false_positive_rate": round(len(held) / max(screened, 1), 6), "by_rule": dict(rules),
        "by_decade": dict(sorted(by_era.items())), "seconds": round(seconds, 1),
        "one_day_ingest_ms": round(per_ingest, 1),
        "held": [{"game_id": f.game_id, "rule": f.rule, "reason": f.reason} for f in found[: args.show]],
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{screened} real games screened day by day in {seconds:.1f} s ({store})")
    print(f"held: {len(held)} ({100 * result['false_positive_rate']:.3f}%); by rule: {dict(rules)}")
    print(f"by decade: {result['by_decade']}")
    print(
        f"screening one day's results against all {len(games)} games (the worker's path): {per_ingest:.0f} ms"
    )
    for h in result["held"]:
        print(f"  {h['rule']:14s} {h['reason']}")


if __name__ == "__main__":
    main()
