"""Read the shared Basketball-Reference and RAPTOR player CSVs straight into PlayerSeason rows.

The twin of ``csv_games.py`` for the ML tests and dev scripts: the store's
``nbamcp.ml.players.load_player_seasons`` gives the same rows from an ingested
store (a test checks that). Team codes go through the project's franchise table.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbamcp.data.franchises import code_to_franchise
from nbamcp.data.players import PlayerSeason
from tests.ml.csv_games import data_dir


def _opt(v: str) -> float | None:
    return float(v) if v else None


def load_csv_players(root: Path | None = None, *, raptor: bool = True) -> list[PlayerSeason]:
    """Regular-season player rows 1990-2024 (RAPTOR joined by player and season when asked)."""
    root = root or data_dir()
    codes = code_to_franchise()
    rap: dict[tuple[str, int], float] = {}
    if raptor:
        with (root / "players" / "raptor_by_player_1977_2022.csv").open(newline="") as f:
            for r in csv.DictReader(f):
                if r["raptor_total"]:
                    rap[(r["player_id"], int(r["season"]))] = float(r["raptor_total"])
    out: list[PlayerSeason] = []
    stints: dict[tuple[str, int], int] = {}
    with (root / "players" / "player_advanced_regular_1990_2024.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            pid, season, tm = r["Pk"], int(r["Year"]), r["Tm"]
            if tm == "TOT":
                team, stint = None, 0
            else:
                team = codes[tm]
                stint = stints[(pid, season)] = stints.get((pid, season), 0) + 1
            out.append(
                PlayerSeason(
                    player_id=pid,
                    season=season,
                    team=team,
                    stint=stint,
                    age=int(r["Age"]) if r["Age"] else None,
                    games=int(r["G"]),
                    minutes=float(r["MP"] or 0),
                    bpm=_opt(r["BPM"]),
                    raptor=rap.get((pid, season)),
                )
            )
    out.sort(key=lambda p: (p.season, p.player_id, p.stint))
    return out
