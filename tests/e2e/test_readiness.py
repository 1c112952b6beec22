"""Ready per tool, not per system: a real `nbamcp serve` over the SDK's stdio client.

- A fresh home: ``health`` answers while the stats worker is still ingesting the data
  (it says so), a tool of a worker that is up (``alerts``) answers meanwhile, and the first
  stats answer comes once the ingestion is done.
- A worker that cannot start (its file is a folder) leaves the others serving: stats tools
  answer, ``health`` says which worker failed and why, and its own tool names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.e2e.procs import server_env, stdio_params

TIMEOUT = 300  # a first start ingests the whole data folder on a loaded machine


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def _workers(health: Any) -> dict[str, dict[str, Any]]:
    assert not health.is_error, _text(health)
    return {w["name"]: w for w in health.structured_content["workers"]}


@pytest.mark.slow
async def test_fresh_home_health_answers_while_the_data_is_ingested(tmp_path: Path, data_dir: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "e2e.toml").write_text("[trainer]\nauto_train = false\n")
    with anyio.fail_after(TIMEOUT):
        async with (
            stdio_client(stdio_params(server_env(home, data_dir), "serve")) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            first = await s.call_tool("health", {})
            workers = _workers(first)
            # Every embedded worker is listed at once, the stats worker still at its first ingestion.
            assert set(workers) >= {"stats", "trainer", "inference", "cache", "alerts"}, workers
            assert first.structured_content["status"] == "starting", _text(first)
            assert first.structured_content["missing"] == []
            stats = workers["stats"]
            assert stats["status"] == "starting", stats
            assert workers["trainer"]["detail"].get("phase") == "waiting for stats", workers["trainer"]
            # The alerts worker needs nobody: its tool answers while the stats worker ingests.
            alerts = await s.call_tool("alerts", {})
            assert not alerts.is_error, _text(alerts)
            # What it is doing, once its first progress report is in (between its start and that
            # report it says "starting" alone): each look is a real round trip, until it says so.
            while True:
                during = await s.call_tool("health", {})
                stats = _workers(during)["stats"]
                assert stats["status"] == "starting", f"the ingestion ended unseen: {stats}"
                if "ingesting" in stats["detail"].get("progress", ""):
                    break
            assert "ingesting" in _text(during)
            # A stats tool waits for the stats worker alone, and answers once the data is in.
            standings = await s.call_tool("standings", {"season": 2023})
            assert not standings.is_error, _text(standings)
            groups = standings.structured_content["groups"]
            assert sum(len(g["rows"]) for g in groups) == 30, groups
            after = _workers(await s.call_tool("health", {}))
            assert after["stats"]["status"] == "ok", after["stats"]


async def test_a_worker_that_cannot_start_leaves_the_others_serving(home: Path, data_dir: Path) -> None:
    (home / "alerts.sqlite").mkdir()  # the alerts worker's file is a folder: it cannot open it
    with anyio.fail_after(TIMEOUT):
        async with (
            stdio_client(stdio_params(server_env(home, data_dir), "serve")) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            standings = await s.call_tool("standings", {"season": 2023})
            assert not standings.is_error, _text(standings)
            health = await s.call_tool("health", {"wait_s": TIMEOUT})
            workers = _workers(health)
            assert workers["alerts"]["status"] == "failed", workers["alerts"]
            assert workers["alerts"]["detail"]["why"], workers["alerts"]
            assert workers["stats"]["status"] == "ok" and workers["inference"]["status"] == "ok"
            assert health.structured_content["status"] == "degraded"
            assert any(x.startswith("alerts: ") for x in health.structured_content["reasons"])
            alerts = await s.call_tool("alerts", {})
            assert alerts.is_error
            assert _text(alerts).startswith("unavailable: the alerts worker failed to start: "), _text(alerts)
