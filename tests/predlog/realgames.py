"""Real games from the FiveThirtyEight file, ingested the way ``ingest_games`` does it.

Rows are picked from the shared data file by date or season and written to a
CSV under the test's tmp dir (never into the repository), then ingested by the
real stats worker over the bus (``ingest_via_stats``: it announces them, as in
production), or straight into a store that a fixture builds (``ingest_rows``).
What a test asserts is computed from the same CSV rows, independently of the
code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nbamcp import endpoints as ep
from nbamcp.bus.base import Bus
from nbamcp.calls import call
from nbamcp.data.franchises import code_to_franchise
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.messages import IngestReply, IngestRequest, PredictionEvent

GAMES_FILE = Path("games") / "games_538_1947_2023.csv"


@dataclass(frozen=True)
class Game:
    date: str
    season: int
    home: str  # franchise ids
    away: str
    home_pts: int
    away_pts: int
    neutral: bool
    elo_prob: float  # FiveThirtyEight's pre-game P(home win): a real forecast to "predict" with

    @property
    def home_won(self) -> bool:
        return self.home_pts > self.away_pts


def read_rows(
    data_dir: Path, keep: Callable[[dict[str, str]], bool]
) -> tuple[list[str], list[dict[str, str]]]:
    with (data_dir / GAMES_FILE).open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if keep(r)]
        return list(reader.fieldnames or []), rows


def to_games(rows: Iterable[dict[str, str]]) -> list[Game]:
    codes = code_to_franchise()
    return [
        Game(
            date=r["date"],
            season=int(r["season"]),
            home=codes[r["team1"]],
            away=codes[r["team2"]],
            home_pts=int(r["score1"]),
            away_pts=int(r["score2"]),
            neutral=r["neutral"] == "1",
            elo_prob=float(r["elo_prob1"]),
        )
        for r in rows
    ]


def on_dates(data_dir: Path, *dates: str) -> tuple[list[str], list[dict[str, str]]]:
    wanted = set(dates)
    return read_rows(data_dir, lambda r: r["date"] in wanted)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


async def ingest_rows(
    store_path: Path, header: list[str], rows: list[dict[str, str]], workdir: Path, name: str
) -> list[str]:
    """Write ``rows`` as a 538-layout CSV and ingest it; returns the new game ids."""
    path = write_csv(workdir / f"{name}.csv", header, rows)
    store = await open_store(store_path)
    try:
        report = await ingest_paths(store, [path], today=dt.date(2024, 1, 1))
    finally:
        await store.close()
    assert report.quarantined == 0, report.summary
    return list(report.new_game_ids)


async def ingest_via_stats(
    bus: Bus, workdir: Path, header: list[str], rows: list[dict[str, str]], name: str
) -> IngestReply:
    """What the ``ingest_games`` tool does: the stats worker ingests a 538-layout CSV of ``rows``
    (written under ``workdir``, one of its ingest roots), then announces the new games itself."""
    path = write_csv(workdir / f"{name}.csv", header, rows)
    req = IngestRequest(paths=[str(path)])
    return await call(bus, ep.INGEST, req, timeout_s=60.0, request_id=f"ingest-{name}")


def event_for(
    g: Game, request_id: str, *, prob: float, version: int = 1, source: str = "model"
) -> PredictionEvent:
    return PredictionEvent(
        request_id=request_id,
        ts=time.time(),
        model_name="game" if source == "model" else "baseline",
        model_version=version,
        source=source,
        home=g.home,
        away=g.away,
        date=g.date,
        neutral=g.neutral,
        home_win_prob=prob,
        feature_set="v1",
        features=[0.0],
        latency_ms=1.0,
        client="test",
    )
