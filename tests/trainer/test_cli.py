"""``nbamcp train`` and ``nbamcp backtest`` as a user runs them: real processes on a real store."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nbamcp.ml.registry import ModelRegistry
from tests.trainer.conftest import Home

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {"NBAMCP_HOME": str(home), "NBAMCP_LOG_LEVEL": "warning"}
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbamcp.cli", *args]


def nbamcp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(*args), cwd=REPO, env=_env(home), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


async def test_train_registers_then_promotes_on_request(home: Home) -> None:
    first = nbamcp(home.root, "train", "--train-from", "2016", "--budget", "tiny", "--json")
    assert first.returncode == 0, first.stderr
    r = json.loads(first.stdout)  # ONE JSON object on stdout
    assert (r["name"], r["version"], r["promoted"], r["aliases"]) == ("game", 1, True, ["champion"])
    assert r["train_seasons"] == list(range(2016, 2022)) and r["valid_seasons"] == [2022, 2023]
    assert r["valid"]["n"] == 2625 and r["onnx_parity_max_abs_diff"] < 1e-5

    args = ["train", "--train-from", "2018", "--seed", "1", "--budget", "tiny", "--promote"]
    second = nbamcp(home.root, *args)
    assert second.returncode == 0, second.stderr
    assert "Registered game v2 (logreg), trained on seasons 2018-2021" in second.stdout
    assert "Now champion (was v1)." in second.stdout

    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        audit = await reg.audit("game")
        versions = await reg.list_versions("game")
    assert [(a.from_version, a.to_version, a.actor) for a in audit] == [
        (None, 1, "cli nbamcp train"),
        (1, 2, "cli nbamcp train"),
    ]
    assert [v.params["seed"] for v in versions] == [0, 1]


def _csv_rows(games_csv: Path, seasons: set[int]) -> list[dict[str, str]]:
    with games_csv.open(newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["season"]) in seasons]


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "n": len(p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
    }


def _check(reported: dict[str, float], expected: dict[str, float]) -> None:
    assert reported["n"] == expected["n"]
    for k in ("brier", "log_loss", "accuracy"):
        assert reported[k] == pytest.approx(expected[k], abs=2e-6), k


def test_backtest_json_matches_numbers_computed_here(home: Home, games_csv: Path) -> None:
    args = ["backtest", "--from-season", "2022", "--to-season", "2023", "--train-from", "2016"]
    args += ["--valid-seasons", "1", "--budget", "tiny", "--replicates", "200"]
    out = nbamcp(home.root, *args, "--json", "--predictions")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)

    # Each model: its overall scores re-derived from its own per-game predictions.
    rows = _csv_rows(games_csv, {2022, 2023})
    outcome = np.array([float(int(r["score1"]) > int(r["score2"])) for r in rows])
    probs = {}
    for name, fs in (("roster", "fs2"), ("team", "fs1")):
        model = result["models"][name]
        assert model["feature_set_version"] == fs
        preds = model["predictions"]  # [game_id, season, p_home, home_win, elo538, raptor538, date]
        p = np.array([row[2] for row in preds])
        y = np.array([row[3] for row in preds], dtype=float)
        _check(model["overall"], _scores(p, y))
        assert len(preds) == len(rows) == 2625
        assert sorted(y.tolist()) == sorted(outcome.tolist())
        probs[name] = p
    assert not np.array_equal(probs["roster"], probs["team"])

    # The baselines: straight from the raw 538 file, the same games, in the one window (RAPTOR
    # covers every game of 2022-2023).
    (window,) = result["windows"]
    assert window["n"] == 2625 and set(window["scores"]) == {"roster", "team", "elo538", "raptor538"}
    for key, column in (("elo538", "elo_prob1"), ("raptor538", "raptor_prob1")):
        base = np.array([float(r[column]) for r in rows])
        _check(window["scores"][key], _scores(base, outcome))
    diff = next(
        d for d in window["differences"] if (d["a"], d["b"], d["metric"]) == ("roster", "team", "brier")
    )
    assert diff["lo"] <= diff["diff"] <= diff["hi"] and diff["unit"] == "game date"
    assert diff["diff"] == pytest.approx(diff["a_score"] - diff["b_score"], abs=2e-6)
    assert [s["season"] for s in result["seasons"]] == [2022, 2023]

    text = nbamcp(home.root, *args)
    assert text.returncode == 0, text.stderr
    assert "| 2022 | 1310 | " in text.stdout and "**2022-2023**, 2625 games" in text.stdout
    assert "roster model (fs2) - team-only model (fs1) |" in text.stdout
    assert "FiveThirtyEight" in text.stdout and not text.stdout.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["backtest", "--from-season", "2023", "--to-season", "2022"],
            "invalid_input: --from-season 2023 is after --to-season 2022",
        ),
        (
            ["backtest", "--from-season", "2040", "--to-season", "2041"],
            "invalid_input: backtest seasons: no games for season(s) 2040; seasons with games: 2014-2023",
        ),
        (
            ["backtest", "--from-season", "2015", "--to-season", "2016", "--train-from", "2014"],
            "invalid_input: season 2015: only 1 season(s) with games from train_from=2014",
        ),
        (["backtest", "--models", "roster,elo"], "invalid_input: --models 'roster,elo': give distinct names"),
        (["train", "--train-from", "2030"], "invalid_input: train_from 2030 is after the last season"),
        (["train", "--valid-seasons", "0"], "invalid_input: valid_seasons must be between 1 and 10, got 0"),
        (["train", "--name", "Bad Name"], "invalid_input: model name 'Bad Name' is not valid"),
    ],
)
def test_bad_arguments_are_one_clear_line(home: Home, args: list[str], message: str) -> None:
    out = nbamcp(home.root, *args)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith(f"nbamcp: {message}"), out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_no_store_says_what_to_do(tmp_path: Path) -> None:
    out = nbamcp(tmp_path / "empty-home", "train")
    assert out.returncode == 1
    assert out.stderr.startswith("nbamcp: unavailable: there is no store at "), out.stderr
    assert "nbamcp serve" in out.stderr and "Traceback" not in out.stderr


def test_roster_backtest_without_player_tables_says_what_to_do(home: Home) -> None:
    with sqlite3.connect(home.store) as conn:
        conn.execute("DELETE FROM player_seasons")
    out = nbamcp(
        home.root, "backtest", "--from-season", "2022", "--train-from", "2016", "--valid-seasons", "1"
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("nbamcp: unavailable: the store at "), out.stderr
    assert "no player seasons for the roster model" in out.stderr and "--models team" in out.stderr


async def test_train_follows_the_served_feature_set(home: Home) -> None:
    """With ``[features] served = "fs2"`` the CLI trains the roster model the workers would serve,
    from the store's player tables; without them it says what is missing."""
    config = home.root / "fs2.toml"
    config.write_text('[features]\nserved = "fs2"\n')
    args = ["--config", str(config), "train", "--train-from", "2016", "--budget", "tiny"]
    done = nbamcp(home.root, *args, "--json")
    assert done.returncode == 0, done.stderr
    async with await ModelRegistry.open(home.registry, home.artifacts) as reg:
        (mv,) = await reg.list_versions("game")
    assert mv.feature_set_version == "fs2" and mv.feature_names[-1] == "roster_diff_playoff"
    assert mv.params["rosters"]["elo_share"] == 0.7

    with sqlite3.connect(home.root / "store.sqlite") as conn:
        conn.execute("DELETE FROM player_seasons")
    refused = nbamcp(home.root, *args)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "no player seasons for feature set fs2" in refused.stderr + refused.stdout
