"""Share nothing but the bus: every worker its own process with its OWN home, on a real nats-server.

The stats worker ingests its data folder and announces the games; the trainer trains on the games
it received over the bus and promotes the first model; the front end (its own home too) predicts
from that champion over a real MCP stdio client; a new day of results is ingested; the next
predictions see it; ``model_status`` shows the realized metrics of the predictions made before
the results. Then each home is listed: it holds its worker's own files and nothing else.
"""

from __future__ import annotations

import csv
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.conftest import NatsServer
from tests.e2e.procs import Proc, nbamcp_proc, server_env, stdio_params

pytestmark = pytest.mark.slow

WORKERS = ("stats", "trainer", "inference", "cache", "predlog", "monitor", "usage", "alerts")
FIRST, LAST = 2019, 2023
CUTOFF = "2023-03-20"  # the data folder's last day; the next one is "a new day of results"
NEW_DAY = "2023-03-21"
TIMEOUT = 240  # every process imports its libraries on a shared 2-core machine
CONFIG = f"""
[trainer]
auto_train = true
budget = "tiny"
train_from = {FIRST}
valid_seasons = 1

[workers]
stop_deadline_s = 20.0

[server]
health_timeout_s = 15.0  # six processes answer on a loaded machine
"""

# What each home may hold once its process has stopped (names at the top of the home).
OWN_FILES = {
    "stats": {"store.sqlite"},
    "trainer": {"registry.sqlite", "artifacts", "retrain.sqlite"},  # train-queue.sqlite: in process only
    "inference": {"inference-features.snapshot", "model-cache", "inference-journal"},
    "cache": {"cache-features.snapshot", "model-cache", "cache-journal"},
    "predlog": {"predlog.sqlite"},
    "monitor": {"monitor.sqlite"},
    "usage": {"usage.sqlite"},
    "alerts": {"alerts.sqlite"},
    "frontend": {"frontend-coverage.json", "keys.json"},
}


def _cut(src: Path, out: Path, keep: object) -> tuple[int, list[dict[str, str]]]:
    with src.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if keep(r)]  # type: ignore[operator]
        header = list(reader.fieldnames or [])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return len(rows), rows


def text(result: object) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))  # type: ignore[attr-defined]


async def test_every_worker_in_its_own_process_and_home(
    nats_server: NatsServer, tmp_path: Path, data_dir: Path
) -> None:
    games = data_dir / "games" / "games_538_1947_2023.csv"
    data = tmp_path / "data"
    _cut(games, data / "games" / "games.csv", lambda r: int(r["season"]) >= FIRST and r["date"] <= CUTOFF)
    # The new day arrives elsewhere (the data folder is ingested whole on the first start).
    day = tmp_path / "incoming" / "day.csv"
    n_day, day_rows = _cut(games, day, lambda r: r["date"] == NEW_DAY)
    assert n_day > 0
    (tmp_path / "e2e.toml").write_text(CONFIG + f'\n[stats]\ningest_roots = ["{day.parent}"]\n')
    homes = {name: tmp_path / "homes" / name for name in (*WORKERS, "frontend")}

    def env(name: str) -> dict[str, str]:
        return server_env(homes[name], data, NBAMCP_CONFIG=str(tmp_path / "e2e.toml"))

    url = nats_server.url
    procs: dict[str, Proc] = {}
    with anyio.fail_after(TIMEOUT):
        async with AsyncExitStack() as stack:
            for name in WORKERS:
                procs[name] = await stack.enter_async_context(
                    nbamcp_proc(env(name), "worker", name, "--bus", url)
                )
            for name in WORKERS:
                await procs[name].wait_event("actor.started", timeout=TIMEOUT)
            # The trainer trained on the games it got over the bus, and the champion reached inference.
            done = await procs["trainer"].wait_event("trainer.job_done", timeout=TIMEOUT)
            assert done["version"] == 1 and done["promoted"]
            await procs["inference"].wait_event(
                "inference.models", timeout=TIMEOUT, where=lambda e: e["champion"].startswith("game v1")
            )

            params = stdio_params(env("frontend"), "serve", "--bus", url)
            async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
                await session.initialize()
                health = (await session.call_tool("health", {})).structured_content
                assert health is not None and health["missing"] == [], (health["missing"], health["workers"])

                # Predicted before their results exist: the games of the new day, and one after it.
                slate = [{"home": row["team1"], "away": row["team2"], "date": NEW_DAY} for row in day_rows]
                before = await session.call_tool("predict_games", {"games": slate})
                assert not before.is_error, text(before)
                preds = before.structured_content["predictions"]  # type: ignore[index]
                assert {(p["source"], p["model_version"]) for p in preds} == {("model", 1)}
                assert all(p["result"] is None for p in preds)
                later = {"home": day_rows[0]["team1"], "away": day_rows[0]["team2"], "date": "2023-03-25"}
                ahead = await session.call_tool("predict_game", later)
                assert not ahead.is_error, text(ahead)

                # A new day of results, ingested by the stats worker and announced to everyone.
                changed = len(procs["inference"].events())
                ingested = await session.call_tool("ingest_games", {"paths": [str(day)]})
                assert not ingested.is_error, text(ingested)
                assert ingested.structured_content["new_games"] == n_day  # type: ignore[index]
                await procs["inference"].wait_event(
                    "live_games.changed", timeout=TIMEOUT, where=lambda e: e["latest"] == NEW_DAY
                )
                assert len(procs["inference"].events()) > changed

                # The next predictions see it: a played game comes with its result, a later game's
                # features moved (the teams' ratings took the day's results).
                played = await session.call_tool("predict_game", slate[0])
                p = played.structured_content
                assert p is not None and p["result"] is not None, text(played)
                assert (p["result"]["home_pts"], p["result"]["away_pts"]) == (
                    int(day_rows[0]["score1"]), int(day_rows[0]["score2"]),
                )  # fmt: skip
                again = await session.call_tool("predict_game", later)
                assert again.structured_content["features"] != ahead.structured_content["features"]  # type: ignore[index]

                # The monitor joined the day's results with the predictions made before them.
                await procs["monitor"].wait_event(
                    "monitor.results_joined", timeout=TIMEOUT, where=lambda e: e["resolved"] > 0
                )
                status = await session.call_tool("model_status", {})
                st = status.structured_content
                assert st is not None and st["registry"] == "ok", text(status)
                [realized] = [r for r in st["realized"] if r["source"] == "model"]
                assert (realized["model_version"], realized["role"]) == (1, "champion")
                assert realized["n_games"] == n_day and 0 <= realized["brier"] <= 1
                assert st["models"][0]["champion"]["version"] == 1
    for name, proc in procs.items():
        assert proc.proc.returncode == 0, f"{name}:\n" + "\n".join(proc.lines[-20:])

    # Each home holds its own worker's files, and nothing of another's.
    for name, home in homes.items():
        listing = {p.name for p in home.iterdir()}
        assert listing <= OWN_FILES[name] and listing, (name, sorted(listing))
        others = (
            set().union(*(files for other, files in OWN_FILES.items() if other != name)) - OWN_FILES[name]
        )
        assert not listing & others, (name, sorted(listing & others))
    assert {p.name for p in (homes["inference"] / "model-cache").rglob("*") if p.is_file()} >= {
        "inference-serving-game.msgpack"
    }
