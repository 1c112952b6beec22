"""Read the 538 games CSV straight into GameRow, for ML tests and dev scripts.

Stand-in for the project's store while it is being built: the lead switches
callers to ``nbamcp.ml.dataset.load_games`` on the real store. Team codes are
mapped to franchise ids with a small table of relocations; unknown codes keep
themselves.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from nbamcp.data.games import GameRow

FRANCHISE = {
    "NJN": "BKN", "BRK": "BKN", "NYN": "BKN", "NYA": "BKN", "NJA": "BKN",
    "SEA": "OKC", "VAN": "MEM", "NOH": "NOP", "NOK": "NOP",
    "CHO": "CHA", "CHH": "CHA", "PHO": "PHX",
    "KCK": "SAC", "KCO": "SAC", "CIN": "SAC", "ROC": "SAC",
    "SDC": "LAC", "BUF": "LAC", "NOJ": "UTA",
    "WSB": "WAS", "CAP": "WAS", "BAL": "WAS", "CHP": "WAS", "CHZ": "WAS",
    "SFW": "GSW", "PHW": "GSW", "MNL": "LAL", "SYR": "PHI",
    "TRI": "ATL", "MLH": "ATL", "STL": "ATL", "FTW": "DET", "SDR": "HOU",
    "DNA": "DEN", "DNR": "DEN", "INA": "IND", "SAA": "SAS", "TEX": "SAS", "DLC": "SAS",
}  # fmt: skip
# 2021+ the 538 file marks play-in games as playoff=1; these are the play-in windows.
PLAYIN_DATES = {
    2021: ("2021-05-18", "2021-05-21"),
    2022: ("2022-04-12", "2022-04-15"),
    2023: ("2023-04-11", "2023-04-14"),
}


def data_dir() -> Path:
    env = os.environ.get("NBAMCP_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _opt(v: str) -> float | None:
    return float(v) if v else None


def load_csv_games(path: Path | None = None, *, season_from: int | None = None) -> list[GameRow]:
    """All games of the 538 file (from ``season_from`` on), ordered by (date, game_id)."""
    path = path or data_dir() / "games" / "games_538_1947_2023.csv"
    games: list[GameRow] = []
    seen: dict[str, int] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            season = int(r["season"])
            if season_from is not None and season < season_from:
                continue
            home = FRANCHISE.get(r["team1"], r["team1"])
            away = FRANCHISE.get(r["team2"], r["team2"])
            base = f"{r['date']}-{home}-{away}"
            # Doubleheaders repeat (date, home, away): number the second one.
            n = seen.get(base, 0)
            seen[base] = n + 1
            win = PLAYIN_DATES.get(season)
            playin = bool(win and r["playoff"] == "1" and win[0] <= r["date"] <= win[1])
            games.append(
                GameRow(
                    game_id=base if n == 0 else f"{base}-{n + 1}",
                    date=r["date"],
                    season=season,
                    season_type="playoffs" if r["playoff"] == "1" else "regular",
                    home=home,
                    away=away,
                    home_pts=int(r["score1"]),
                    away_pts=int(r["score2"]),
                    neutral=r["neutral"] == "1",
                    playin=playin,
                    elo538_home_prob=_opt(r["elo_prob1"]),
                    raptor538_home_prob=_opt(r["raptor_prob1"]),
                )
            )
    games.sort(key=lambda g: (g.date, g.game_id))
    return games
