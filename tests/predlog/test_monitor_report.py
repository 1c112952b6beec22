"""The monitor's report (the dashboard's charts): realized scores per game date and calibration bins,
checked against values computed here from FiveThirtyEight's own forecasts of real games."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from nbamcp.messages import GameRow
from nbamcp.predlog.outcomes import OutcomeBook
from tests.predlog.realgames import event_for, on_dates, to_games

DATES = ("2023-01-15", "2023-01-16", "2023-01-17")


async def test_by_date_and_calibration(tmp_path: Path, data_dir: Path) -> None:
    _, rows = on_dates(data_dir, *DATES)
    games = to_games(rows)
    book = await OutcomeBook.open(tmp_path / "monitor.sqlite")
    try:
        # v1 forecasts with 538's Elo probability; each game predicted twice (the later one counts).
        await book.add_predictions([event_for(g, f"early-{i}", prob=0.5) for i, g in enumerate(games)])
        await book.add_predictions([event_for(g, f"late-{i}", prob=g.elo_prob) for i, g in enumerate(games)])
        results = [
            GameRow(game_id=f"g{i}", date=g.date, season=g.season, season_type="regular", home=g.home,
                    away=g.away, home_pts=g.home_pts, away_pts=g.away_pts, neutral=g.neutral)
            for i, g in enumerate(games)
        ]  # fmt: skip
        await book.resolve(results, date_from=DATES[0], date_to=DATES[-1])
        days = await book.by_date("game", 365)
        bins = await book.calibration("game", 365)
        assert await book.by_date("nobody", 365) == []
    finally:
        await book.close()

    by_date = defaultdict(list)
    for g in games:
        by_date[g.date].append((g.elo_prob - g.home_won) ** 2)
    assert [d.date for d in days] == sorted(by_date)
    for d in days:
        assert d.n_games == len(by_date[d.date])
        assert d.brier == pytest.approx(sum(by_date[d.date]) / d.n_games, abs=1e-5)
    expected: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for g in games:
        expected[min(int(g.elo_prob * 10), 9)].append((g.elo_prob, g.home_won))
    assert [round(b.lo * 10) for b in bins] == sorted(expected)
    for b in bins:
        pts = expected[round(b.lo * 10)]
        assert b.n_games == len(pts)
        assert b.mean_predicted == pytest.approx(sum(p for p, _ in pts) / len(pts), abs=1e-5)
        assert b.observed == pytest.approx(sum(w for _, w in pts) / len(pts), abs=1e-5)
    assert sum(b.n_games for b in bins) == len(games)
