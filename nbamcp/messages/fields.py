"""Field types with their bounds: where every request field's constraints are written once.

A request Struct built from these rejects, on decode, what no handler should see: strings
longer than a name can be or holding control characters (NUL included), integers out of
range (``True`` is not an integer to msgspec), lists longer than a tool can use. The
stats, predict and training requests use them, so a raw NATS client meets the same
validation as an MCP client; the MCP front end publishes the same bounds (with each
field's ``description`` and ``examples``) as the tools' input schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Printable text: no ASCII control characters (NUL, newlines, escapes) and no DEL.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
NAME_MAX = 64  # team and player names: the longest real one is under 40 characters
TEXT_MAX = 500  # free text (reasons, audit notes)
PATH_MAX = 1024  # a file-system path
INT32_MAX = 2**31 - 1


def text(
    description: str,
    examples: list[Any],
    *,
    max_length: int = NAME_MAX,
    min_length: int = 1,
    pattern: str = PRINTABLE,
) -> msgspec.Meta:
    """The bounds of a string field: ``Annotated[str, text(...)]``."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
        description=description,
        examples=examples,
    )


def limit(hi: int, default: int) -> msgspec.Meta:
    """The bounds of a ``limit`` field: ``Annotated[int, limit(50, 10)]``."""
    return msgspec.Meta(ge=1, le=hi, description=f"how many to return, 1 to {hi} (default {default})",
                        examples=[default])  # fmt: skip


TeamName = Annotated[
    str,
    text(
        "a team: name, nickname, city or code of any era, e.g. 'Celtics', 'BOS', 'Brooklyn', "
        "'Seattle SuperSonics'",
        ["Celtics", "BOS", "Brooklyn"],
    ),
]
PlayerName = Annotated[
    str,
    text(
        "a player's name (case- and accent-insensitive, misspellings welcome) or Basketball-Reference id, "
        "e.g. 'LeBron James', 'jokic', 'jamesle01'",
        ["LeBron James", "jokic"],
    ),
]

# A season is named by the year it ends: 2023 = 2022-23.
SeasonYear = Annotated[int, msgspec.Meta(ge=1900, le=2100)]
SeasonText = Annotated[
    str, msgspec.Meta(min_length=4, max_length=12, pattern=r"^\s*\d{4}\s*(?:[-/]\s*(?:\d{2}|\d{4}))?\s*$")
]
SEASON_DOC = "a season by the year it ends (2023 = 2022-23), or as text '2022-23'"
Season = Annotated[SeasonYear | SeasonText, msgspec.Meta(description=SEASON_DOC, examples=[2023, "2022-23"])]
OptionalSeason = Annotated[
    SeasonYear | SeasonText | None,
    msgspec.Meta(description=SEASON_DOC + "; omit for the default", examples=[2016, "1995-96"]),
]

Date = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", min_length=10, max_length=10)]
OptionalDate = Annotated[
    Date | None, msgspec.Meta(description="a date YYYY-MM-DD; omit for no bound", examples=["2023-01-31"])
]

SeasonType = Annotated[
    Literal["regular", "playoffs"],
    msgspec.Meta(description="'regular' season or 'playoffs'", examples=["regular"]),
]
Per = Annotated[
    Literal["game", "total", "per36"],
    msgspec.Meta(
        description="'game' (per game), 'total' (season totals) or 'per36' (per 36 minutes)",
        examples=["game"],
    ),
]
GameType = Annotated[
    Literal["all", "regular", "playoffs", "playin"],
    msgspec.Meta(description="'all', 'regular', 'playoffs' or 'playin' games", examples=["playoffs"]),
]
Conference = Annotated[
    str, text("'East' or 'West' ('east', 'Eastern', 'E' work too)", ["West"], max_length=24)
]


# Stat names, in NBA abbreviations ("per" is the PER rating).
STAT_NAMES = (
    "gp", "gs", "min", "pts", "reb", "oreb", "dreb", "ast", "stl", "blk", "tov", "pf",
    "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "fg_pct", "fg3_pct", "ft_pct", "efg_pct", "ts_pct",
    "per", "usg_pct", "ws", "ws_per48", "bpm", "vorp",
)  # fmt: skip
StatName = Literal[
    "gp", "gs", "min", "pts", "reb", "oreb", "dreb", "ast", "stl", "blk", "tov", "pf",
    "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "fg_pct", "fg3_pct", "ft_pct", "efg_pct", "ts_pct",
    "per", "usg_pct", "ws", "ws_per48", "bpm", "vorp",
]  # fmt: skip
# What people type for a stat, case-insensitive: the front end maps these to the names above.
STAT_ALIASES = {
    "points": "pts", "ppg": "pts", "point": "pts",
    "rebounds": "reb", "rpg": "reb", "rebound": "reb", "trb": "reb", "total rebounds": "reb",
    "offensive rebounds": "oreb", "orb": "oreb", "defensive rebounds": "dreb", "drb": "dreb",
    "assists": "ast", "apg": "ast", "assist": "ast",
    "steals": "stl", "spg": "stl", "steal": "stl",
    "blocks": "blk", "bpg": "blk", "block": "blk",
    "turnovers": "tov", "to": "tov", "turnover": "tov",
    "fouls": "pf", "personal fouls": "pf",
    "games": "gp", "games played": "gp", "g": "gp", "games started": "gs",
    "minutes": "min", "mpg": "min", "mp": "min",
    "field goals": "fgm", "fg": "fgm", "field goal attempts": "fga",
    "threes": "fg3m", "3pm": "fg3m", "3p": "fg3m", "3pa": "fg3a", "three point attempts": "fg3a",
    "free throws": "ftm", "ft": "ftm", "free throw attempts": "fta",
    "fg%": "fg_pct", "field goal percentage": "fg_pct", "3p%": "fg3_pct", "three point percentage": "fg3_pct",
    "ft%": "ft_pct", "free throw percentage": "ft_pct", "efg%": "efg_pct", "ts%": "ts_pct",
    "true shooting": "ts_pct", "true shooting percentage": "ts_pct",
    "usage": "usg_pct", "usg%": "usg_pct", "win shares": "ws", "ws/48": "ws_per48",
    "box plus minus": "bpm", "player efficiency rating": "per",
}  # fmt: skip
STAT_DOC = (
    "a stat in NBA abbreviations: pts, reb, ast, stl, blk, tov, fg_pct, fg3_pct, ft_pct, ts_pct, per, ws, "
    "bpm, vorp, ... (every name in the enum); common words work too, case-insensitive: 'points', "
    "'assists', 'apg', 'rebounds'"
)
Stat = Annotated[StatName, msgspec.Meta(description=STAT_DOC, examples=["pts", "ast"])]


def canonical_stat(value: Any) -> Any:
    """'Assists', 'apg', ' AST ' -> 'ast'; anything else is returned as is (validation says why)."""
    if not isinstance(value, str) or len(value) > 32:
        return value
    key = " ".join(value.strip().lower().replace("_", " ").split())
    if key.replace(" ", "_") in STAT_NAMES:
        return key.replace(" ", "_")
    return STAT_ALIASES.get(key, value)


ModelName = Annotated[
    str, text("a registry model name, e.g. 'game'", ["game"], pattern=r"^[a-z0-9][a-z0-9_.-]*$")
]
ModelVersion = Annotated[
    int,
    msgspec.Meta(ge=1, le=INT32_MAX, description="a registry version number (see list_models)", examples=[1]),
]
Reason = Annotated[
    str, text("why, for the audit trail", ["better Brier on 2022-2023"], max_length=TEXT_MAX, min_length=0)
]
