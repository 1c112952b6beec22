"""PredictionLog.write keeps what was served: a baseline answer of a (request id, game) withdraws
that request's model rows of the game, in whichever order and batch they arrive; redelivery of a
withdrawn model event does not bring it back. Real SQLite."""

from __future__ import annotations

from pathlib import Path

import msgspec

from nbamcp.messages import PredictionEvent
from nbamcp.predlog.predictions import PredictionLog

MODEL = PredictionEvent(
    request_id="r1", ts=1.7e9, model_name="game", model_version=3, source="model", home="BOS",
    away="MIA", date="2023-04-12", neutral=False, home_win_prob=0.6, feature_set="v1",
    features=[0.1], latency_ms=1.0,
)  # fmt: skip
SHADOW = msgspec.structs.replace(MODEL, model_version=4, home_win_prob=0.55, shadow=True)
BASELINE = msgspec.structs.replace(MODEL, model_name="elo-baseline", model_version=0, source="baseline")
OTHER_GAME = msgspec.structs.replace(MODEL, home="LAL", away="DEN")


async def kept(plog: PredictionLog) -> list[tuple[object, ...]]:
    cur = await plog.conn.execute("SELECT request_id, source, model_version, shadow, home FROM predictions")
    return sorted(await cur.fetchall())


async def test_model_rows_first_then_the_baseline_of_the_same_request(tmp_path: Path) -> None:
    plog = await PredictionLog.open(tmp_path / "p.sqlite")
    other = msgspec.structs.replace(MODEL, request_id="r2")
    assert await plog.write([(MODEL, 1), (SHADOW, 2), (OTHER_GAME, 3), (other, 4)]) == 4
    await plog.write([(BASELINE, 5)])
    # The game answered by the baseline keeps only it; the other game and the other request stay.
    assert await kept(plog) == [
        ("r1", "baseline", 0, 0, "BOS"), ("r1", "model", 3, 0, "LAL"), ("r2", "model", 3, 0, "BOS"),
    ]  # fmt: skip
    assert plog.withdrawn == 2 and plog.rows == 3
    await plog.close()


async def test_baseline_first_then_a_late_or_redelivered_model_event(tmp_path: Path) -> None:
    plog = await PredictionLog.open(tmp_path / "p.sqlite")
    await plog.write([(BASELINE, 1)])
    await plog.write([(MODEL, 2), (SHADOW, 3)])
    await plog.write([(MODEL, 2)])  # redelivered
    assert await kept(plog) == [("r1", "baseline", 0, 0, "BOS")]
    assert plog.rows == 1
    await plog.close()
    # The count survives a reopen (it is the table's).
    plog = await PredictionLog.open(tmp_path / "p.sqlite")
    assert plog.rows == 1
    await plog.close()


async def test_the_shadow_mark_is_stored(tmp_path: Path) -> None:
    plog = await PredictionLog.open(tmp_path / "p.sqlite")
    await plog.write([(MODEL, 1), (SHADOW, 2)])
    assert await kept(plog) == [("r1", "model", 3, 0, "BOS"), ("r1", "model", 4, 1, "BOS")]
    await plog.close()
