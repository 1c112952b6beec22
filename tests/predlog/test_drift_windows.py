"""The monitor's drift windows over its own file: one row per game (its latest prediction), the
served feature vectors bounded by ``add_predictions(keep_features=)``, outcomes joined when results
arrived."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np

from nbamcp.messages import GameRow, PredictionEvent
from nbamcp.predlog import windows
from nbamcp.predlog.outcomes import OutcomeBook


def event(
    i: int, *, rid: str = "r", prob: float = 0.6, features: list[float] | None = None
) -> PredictionEvent:
    return PredictionEvent(
        request_id=f"{rid}{i}", ts=1000.0 + i, model_name="game", model_version=1, source="model",
        home="BOS", away="NYK", date=f"2023-01-{1 + i % 28:02d}", neutral=False, home_win_prob=prob,
        feature_set="fs1", features=[float(i), math.nan] if features is None else features, latency_ms=1.0,
    )  # fmt: skip


async def test_latest_prediction_per_game_and_bounded_rows(tmp_path: Path) -> None:
    book = await OutcomeBook.open(tmp_path / "monitor.sqlite")
    try:
        await book.add_predictions([event(i) for i in range(20)])
        await book.add_predictions([event(3, rid="again", prob=0.9)])  # a game asked about twice
        await book.add_predictions([event(4, rid="wide", features=[1.0, 2.0, 3.0])])  # another width
        w = await windows.window(book.conn, model_name="game", version=1, feature_set="fs1", width=2,
                                 n=100, days=None)  # fmt: skip
        assert w.n == 19 and w.dates == sorted(w.dates)
        probs = dict(zip(w.dates, w.probs, strict=True))
        assert probs["2023-01-04"] == 0.9  # the later prediction of the game counts
        assert "2023-01-05" not in probs  # its latest vector has another width: left out
        assert np.isnan(w.X[:, 1]).all() and np.isnan(w.outcome).all()
        latest = await windows.window(book.conn, model_name="game", version=1, feature_set="fs1",
                                      width=2, n=5, days=None)  # fmt: skip
        assert latest.dates == w.dates[-5:]
        days = await windows.window(book.conn, model_name="game", version=1, feature_set="fs1",
                                    width=2, n=100, days=3)  # fmt: skip
        assert days.dates == [d for d in w.dates if d >= "2023-01-17"]

        assert await book.add_predictions([event(25, rid="more")], keep_features=8) == 1
        kept = await windows.window(book.conn, model_name="game", version=1, feature_set="fs1", width=2,
                                    n=100, days=None)  # fmt: skip
        assert kept.n <= 8

        game = GameRow(game_id="g1", date="2023-01-20", season=2023, season_type="regular", home="BOS",
                       away="NYK", home_pts=100, away_pts=90)  # fmt: skip
        await book.resolve([game], date_from=game.date, date_to=game.date)
        after = await windows.window(book.conn, model_name="game", version=1, feature_set="fs1", width=2,
                                     n=100, days=None)  # fmt: skip
        assert after.outcome[after.dates.index("2023-01-20")] == 1.0
        [(date, brier, _)] = await windows.losses_after(book.conn, model_name="game", version=1, after=0.0,
                                                        limit=10)  # fmt: skip
        assert (date == "2023-01-20" and brier == round((1 - 0.6) ** 2, 6)) or math.isclose(brier, 0.16)
        assert await windows.latest_version(book.conn, "game") == 1
        assert await windows.latest_version(book.conn, "other") is None
    finally:
        await book.close()


def test_a_vector_too_long_is_not_kept() -> None:
    from nbamcp.predlog.outcomes import MAX_FEATURES, _features

    assert _features([1.0] * (MAX_FEATURES + 1)) is None and _features([]) is None
    assert msgspec.msgpack.decode(_features([1.5, math.nan]) or b"")[0] == 1.5


async def test_the_batch_insert_bounds_the_vectors_in_its_own_transaction(tmp_path: Path) -> None:
    """add_predictions(keep_features=) bounds the vectors in the insert's transaction: the latest rows keep
    their vectors, with redelivered events (not inserted) and a reopened file (the highest id read
    again) counted right."""

    async def with_vectors(book: OutcomeBook) -> list[int]:
        sql = "SELECT id FROM predictions WHERE features IS NOT NULL ORDER BY id"
        return [int(r[0]) for r in await book.conn.execute_fetchall(sql)]

    book = await OutcomeBook.open(tmp_path / "monitor.sqlite")
    try:
        assert await book.add_predictions([event(i) for i in range(10)], keep_features=4) == 10
        assert await with_vectors(book) == [7, 8, 9, 10]
        # Redelivered: nothing new, nothing more dropped.
        assert await book.add_predictions([event(i) for i in range(8, 10)], keep_features=4) == 0
        assert await with_vectors(book) == [7, 8, 9, 10]
        assert await book.add_predictions([event(i, rid="b") for i in range(3)], keep_features=4) == 3
        assert await with_vectors(book) == [10, 11, 12, 13]
    finally:
        await book.close()
    book = await OutcomeBook.open(tmp_path / "monitor.sqlite")
    try:
        assert await book.add_predictions([event(i, rid="c") for i in range(2)], keep_features=3) == 2
        assert await with_vectors(book) == [13, 14, 15]
    finally:
        await book.close()
