"""The backup drill, on a real server (in-process HTTP front end, every real worker, a real MCP client):
serve -> train a champion -> a fixed set of tool calls -> ``nbamcp backup`` while it runs -> stop ->
wipe the home -> ``nbamcp restore`` -> serve again: the same answers, the same prediction-log rows.
And a backup with one byte changed is refused before anything is written."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from nbamcp.ops.backup import list_backups, read_manifest
from tests.frontend.web.harness import Harness, call, mcp_session, serving
from tests.ops.conftest import nbamcp

pytestmark = pytest.mark.slow

WORKERS = ("stats", "trainer", "inference", "cache", "predlog", "monitor", "usage")
WAIT = 240.0
OVERRIDES: dict[str, dict[str, Any]] = {
    "trainer": {"budget": "tiny", "train_from": 2015},
    "predlog": {"max_delay_s": 0.01},
}
SLATE = [
    {"home": "BOS", "away": "LAL", "date": "2023-04-05"},
    {"home": "Nuggets", "away": "Suns", "date": "2023-04-06"},
    {"home": "MIA", "away": "NYK", "date": "2023-04-07"},
]
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("find_player", {"query": "Jokic"}),
    ("standings", {"season": 2016}),
    ("player_career", {"player": "Tim Duncan"}),
    ("list_models", {}),
    ("predict_game", SLATE[0]),
    ("predict_games", {"games": SLATE}),
]
# What differs between two answers to the same call by design: who asked, when, how fast, from where.
VOLATILE = {"request_id", "latency_ms", "served_at", "cached", "elapsed_ms", "logged_at", "uptime_s"}


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def actor(h: Harness, name: str) -> Any:
    return next(a for a in h.actors if a.name == name)


async def until_champion(h: Harness, version: int) -> None:
    inference = actor(h, "inference")
    while getattr(inference.models.champion, "version", None) != version:
        changed = inference.models_changed
        if getattr(inference.models.champion, "version", None) == version:
            return
        await changed.wait()


async def until_logged(h: Harness, n: int) -> None:
    predlog = actor(h, "predlog")
    while predlog.inserted < n:
        await predlog.consumers["predlog"].wait_progress(30)


def predlog_rows(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "predlog.sqlite") as db:
        return db.execute("SELECT * FROM predictions ORDER BY rowid").fetchall()


async def answers(h: Harness, token: str) -> list[Any]:
    out = []
    async with mcp_session(h, token) as s:
        for tool, args in CALLS:
            err, text, structured = await call(s, tool, **args)
            assert not err, f"{tool}: {text}"
            out.append(stable(structured))
    return out


async def test_backup_wipe_restore_gives_the_same_answers_and_log(
    home: Path, data_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, workers=WORKERS, **OVERRIDES) as h:
            admin = h.key("ops", "read,predict,admin", burst=500, rate_per_minute=6000)
            async with mcp_session(h, admin) as s:
                err, text, trained = await call(s, "train_model", promote=True)
                assert not err, text
            await until_champion(h, trained["version"])
            before = await answers(h, admin)
            game = before[4]  # a real model's answer, not the Elo baseline's
            assert (game["source"], game["model_version"]) == ("model", trained["version"])
            assert 0 < game["home_win_prob"] < 1
            await until_logged(h, 1 + len(SLATE))
            logged = predlog_rows(home)
            assert len(logged) == 1 + len(SLATE)
            # The CLI, as an operator runs it (another process), while every worker is up.
            done = await anyio.to_thread.run_sync(nbamcp, home, "backup", str(dest))
            assert done.returncode == 0, done.stderr

    (backup,) = list_backups(dest)
    kinds = {e.path.split("/")[0] for e in read_manifest(backup).files}
    assert {"store.sqlite", "registry.sqlite", "predlog.sqlite", "events.sqlite", "keys.json"} <= kinds
    assert "artifacts" in kinds

    shutil.rmtree(home)
    done = nbamcp(home, "restore", str(dest))
    assert done.returncode == 0, done.stderr
    assert "Restored" in done.stdout
    assert predlog_rows(home) == logged

    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, workers=WORKERS, **OVERRIDES) as h:
            # The keys came back too: the key made before the backup still works.
            await until_champion(h, trained["version"])
            after = await answers(h, admin)
            await until_logged(h, 1 + len(SLATE))
    assert after == before
    again = predlog_rows(home)
    assert again[: len(logged)] == logged  # the restored rows, untouched
    assert len(again) == 2 * len(logged)


def test_a_damaged_backup_is_refused_before_anything_is_written(home: Path, tmp_path: Path) -> None:
    done = nbamcp(home, "backup", str(tmp_path / "backups"))
    assert done.returncode == 0, done.stderr
    (backup,) = list_backups(tmp_path / "backups")
    store = backup / "store.sqlite"
    with store.open("r+b") as f:  # one byte, in the middle of the games
        f.seek(store.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x01]))
    target = tmp_path / "new-home"
    done = nbamcp(target, "restore", str(backup))
    assert done.returncode == 1
    err = done.stderr.strip().splitlines()[-1]
    assert "integrity: the backup at" in err and "store.sqlite" in err and "damaged" in err
    assert not target.exists()
