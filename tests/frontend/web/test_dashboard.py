"""The dashboard in a real headless Chromium (Debian's, driven by playwright): log in with a key, load
the page, every panel shows real numbers, a screenshot is saved. Behind it, a real server: real workers
train a champion and a challenger, predict games whose results are then ingested, and the monitor scores
them (realized Brier by date, calibration)."""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
from pathlib import Path

import anyio
import pytest
from playwright.async_api import async_playwright

from nbamcp.actor import Actor
from tests.frontend.web.harness import Harness, call, mcp_session, serving

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CUTOFF, LAST = "2023-03-31", "2023-04-09"  # the store stops at CUTOFF; the games up to LAST come later
WORKERS = ("stats", "trainer", "inference", "cache", "predlog", "monitor", "usage", "alerts")
WAIT = 600.0  # the whole test, on two loaded cores: generous; each wait inside is on an event
PANELS = ("workers", "traffic", "errors", "cache", "models", "brier", "calibration", "drift", "alerts")


def later_games(data_dir: Path, home: Path) -> tuple[Path, list[dict[str, str]]]:
    """The 538 rows after CUTOFF (up to LAST) as their own CSV, and the store without those games."""
    src = data_dir / "games" / "games_538_1947_2023.csv"
    with src.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = [r for r in reader if CUTOFF < r["date"] <= LAST]
    path = home / "later_538.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    with sqlite3.connect(home / "store.sqlite") as db:
        db.execute("DELETE FROM games WHERE date > ?", (CUTOFF,))
    return path, rows


def actor(h: Harness, name: str) -> Actor:
    return next(a for a in h.actors if a.name == name)


async def until_serving(h: Harness, champion: int, challenger: int) -> None:
    inference = actor(h, "inference")
    while True:
        changed = inference.models_changed  # type: ignore[attr-defined]  # first: no reload is missed
        models = inference.models  # type: ignore[attr-defined]
        now = (getattr(models.champion, "version", None), getattr(models.challenger, "version", None))
        if now == (champion, challenger):
            return
        await changed.wait()


async def until_monitor(h: Harness, *, predictions: int = 0, resolved: int = 0) -> None:
    monitor = actor(h, "monitor")
    consumer = monitor.consumers["monitor"]
    while True:
        seen = consumer.batches  # before the awaited count: a batch handled meanwhile is not waited for
        if await monitor.book.predictions() >= predictions and monitor.resolved >= resolved:  # type: ignore[attr-defined]
            return
        await consumer.wait_progress(30, after=seen)


async def until_drift_checked(h: Harness) -> None:
    monitor = actor(h, "monitor")
    while monitor.drift.latest is None:  # type: ignore[attr-defined]
        await monitor.wait_checked(monitor.scheduled_checks)  # type: ignore[attr-defined]


def numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", text)


async def test_dashboard_in_chromium(home: Path, data_dir: Path, tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (.ci/run installs it)")
    later, rows = later_games(data_dir, home)
    overrides = {
        "trainer": {"budget": "tiny", "train_from": 2015},
        "predlog": {"max_delay_s": 0.01},
        "monitor": {"max_delay_s": 0.01},
        "stats": {"ingest_roots": [str(home)]},
    }
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, workers=WORKERS, **overrides) as h:
            # Two trainings cost 40 units: more than the default burst.
            admin = h.key("ops", "read,predict,admin", burst=500, rate_per_minute=6000)
            viewer, reader = h.key("screen", "metrics"), h.key("r", "read")
            async with mcp_session(h, admin) as s:
                err, text, first = await call(s, "train_model", promote=True)
                assert not err, text
                err, text, second = await call(s, "train_model", seed=1, train_from=2016, promote=False)
                assert not err, text
                v1, v2 = first["version"], second["version"]
                err, text, _ = await call(s, "promote_model", version=v2, alias="challenger")
                assert not err, text
                await until_serving(h, v1, v2)
                games = [{"home": r["team1"], "away": r["team2"], "date": r["date"]} for r in rows]
                err, text, out = await call(s, "predict_games", games=games)
                assert not err and out["count"] == len(rows), text
                assert {p["model_version"] for p in out["predictions"]} == {v1}
                await until_monitor(h, predictions=2 * len(rows))  # champion and shadow challenger
                err, text, _ = await call(s, "ingest_games", paths=[str(later)])
                assert not err, text
                await until_monitor(h, resolved=2 * len(rows))
                await until_drift_checked(h)  # the monitor's check after those results
                for _ in range(3):  # errors for the errors panel
                    assert (await call(s, "predict_game", home="Nowhere Nobodies", away="BOS"))[0]

            shots = tmp_path / "screenshots"
            async with async_playwright() as pw:
                browser = await pw.chromium.launch_persistent_context(
                    str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
                    viewport={"width": 1400, "height": 2200},
                )  # fmt: skip
                try:
                    page = await browser.new_page()
                    await page.goto(h.url + "/dashboard")
                    assert page.url.endswith("/dashboard/login")  # no key yet: the login form
                    await page.fill("input[name=key]", reader)
                    await page.click("button[type=submit]")
                    assert "needs scope metrics or admin" in await page.inner_text("body")
                    await page.fill("input[name=key]", viewer)
                    await page.click("button[type=submit]")
                    assert page.url == h.url + "/dashboard"
                    panels = {name: await page.inner_text(f"section[data-panel={name}]") for name in PANELS}
                    shots.mkdir()
                    await page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
                    assert "8 of 8 workers ok" in panels["workers"]
                    assert re.search(r"\d+\.\d+ calls/min", panels["traffic"]) and "p95" in panels["traffic"]
                    assert "not_found" in panels["errors"] and "3 errors" in panels["errors"]
                    assert re.search(r"\d+\.\d% hit ratio", panels["cache"])
                    assert f"v{v1}" in panels["models"] and f"v{v2}" in panels["models"]
                    realized = re.search(rf"champion\s+v{v1}.*?\n", panels["models"] + "\n")
                    assert realized and len(numbers(realized.group(0))) >= 7, panels["models"]
                    assert f"v{v1} champion" in panels["brier"] and f"v{v2} challenger" in panels["brier"]
                    assert await page.locator("section[data-panel=brier] svg polyline").count() == 2
                    assert await page.locator("section[data-panel=calibration] svg circle").count() >= 3
                    assert len(numbers(panels["calibration"])) > 10
                    assert "drift share" in panels["drift"] and f"v{v1}, {len(rows)} games" in panels["drift"]
                    assert re.search(r"\d+ alerts? stored \(webhook off; one per condition", panels["alerts"])
                    # The cookie dies with its key.
                    h.keys.revoke(viewer.split("_")[1])
                    await page.goto(h.url + "/dashboard")
                    assert page.url.endswith("/dashboard/login")
                finally:
                    await browser.close()
    png = shots / "dashboard.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
