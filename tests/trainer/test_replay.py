"""The season replay: a few real days of 2023 through the real loop on the in-memory bus."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
import pytest

from nbamcp.config import Config
from nbamcp.errors import InvalidInput
from nbamcp.replay import format_report, replay
from tests.trainer.test_cli import nbamcp


def config_for(home: Path, data_dir: Path) -> Config:
    return msgspec.convert(
        {
            "paths": {"home": str(home), "data_dir": str(data_dir)},
            "trainer": {"budget": "tiny", "train_from": 2016},
            "retrain": {"min_new_results": 25, "budget": "tiny"},
        },
        Config,
    )


async def test_a_replay_of_a_few_days_predicts_ingests_retrains_and_reports(
    tmp_path: Path, games_csv: Path, data_dir: Path
) -> None:
    config = config_for(tmp_path / "home", data_dir)
    with anyio.fail_after(300):
        r = await replay(config, [games_csv], date_from="2023-03-01", date_to="2023-03-05")
    assert "ingested" in r.seeded and "trained champion v1" in r.seeded  # a fresh home, seeded
    assert r.days == 5 and r.games >= 30  # 39 games: enough for the drift tests (30 a column)
    assert [m.month for m in r.months] == ["2023-03"]
    assert r.months[0].games == r.games and 0.0 < r.months[0].brier < 0.35
    assert len(r.jobs) == 1 and r.jobs[-1]["kind"] == "new_results" and r.jobs[-1]["state"] == "done"
    assert any(t["kind"] == "new_results" and t["outcome"] == "queued" for t in r.triggers)
    assert r.aliases.get("challenger") == 2
    # 200 paired games are needed; a few days hold far fewer: the gate is waiting, with its count.
    assert r.decisions or (r.waiting and r.waiting["needed"] == 200 and r.waiting["n_games"] < 200)
    # The tools' answers, checked inside the run: drift statistics per window, retraining consistent.
    assert r.tool_checks and not [c for c in r.tool_checks if not c.startswith("ok:")], r.tool_checks
    assert [d["window"] for d in r.drift] == ["monitor window", "last 30 days"]
    assert all(0 < d["n_current"] <= r.games and d["n_tested"] > 0 for d in r.drift)
    assert all(f["statistic"] is not None for d in r.drift for f in d["features"])
    text = format_report(r)
    assert "drift_report at the end:" in text and "  ok: every job over" in text

    # The same home again: its store now holds those days, the replay refuses.
    with pytest.raises(InvalidInput, match="already holds games"):
        await replay(config, [games_csv], date_from="2023-03-01", date_to="2023-03-05")


def test_the_command_meets_bad_input_with_one_line(tmp_path: Path) -> None:
    bad_date = nbamcp(tmp_path, "replay", str(tmp_path / "none.csv"), "--from", "2023-13-01")
    assert bad_date.returncode == 1 and bad_date.stdout == ""
    assert bad_date.stderr.strip().splitlines()[-1] == (
        "nbamcp: invalid_input: dates are YYYY-MM-DD, got '2023-13-01'"
    )
    missing = nbamcp(tmp_path, "replay", str(tmp_path / "none.csv"))
    assert missing.returncode == 1 and "no such file" in missing.stderr.strip().splitlines()[-1]
