"""Datasets that travel between workers: the games, one partition (a season) per message.

The stats worker owns the store; other workers get the games as ``GamesPartition``
values in the data bucket (``nbamcp.endpoints.GAMES``: key ``games.<season>``,
the latest value of each key kept forever, replayed on start, followed after)
and as ``GamesIngested`` events carrying the new results. A second dataset (player
seasons, roster priors) travels the same way: its row Struct, its partition
message, its ``Dataset`` entry in the endpoint table.
"""

from __future__ import annotations

import msgspec

from nbamcp.messages.base import Message


class GameRow(msgspec.Struct, frozen=True, array_like=True):
    """One played game; ``home`` is the home franchise id (even when ``neutral``).

    Encoded as an array (a season is ~1,300 rows): new fields go at the end, with defaults.
    """

    game_id: str
    date: str  # 'YYYY-MM-DD'
    season: int  # calendar year in which the season ends
    season_type: str  # 'regular' | 'playoffs'
    home: str
    away: str
    home_pts: int
    away_pts: int
    neutral: bool = False
    playin: bool = False
    elo538_home_prob: float | None = None
    raptor538_home_prob: float | None = None

    @property
    def playoff(self) -> bool:
        return self.season_type == "playoffs"

    @property
    def home_win(self) -> bool:
        return self.home_pts > self.away_pts


class GamesPartition(Message, frozen=True):
    """Every played game of one season, whole: what the data bucket holds under ``games.<key>``."""

    key: str  # the season, e.g. "2023"
    version: str  # sha256 of the rows as encoded: equal versions, equal rows
    rows: list[GameRow]


class ScheduledGame(msgspec.Struct, frozen=True, array_like=True):
    """One game on the schedule, not played yet (stats.nba.com's ScheduleLeagueV2).

    Encoded as an array like ``GameRow``: new fields go at the end, with defaults.
    """

    game_id: str  # stats.nba.com's gameId, e.g. "0022600301"
    date: str  # 'YYYY-MM-DD', the day in US Eastern time (the league's own date)
    season: int  # calendar year in which the season ends
    season_type: str  # 'regular' | 'playoffs'
    home: str  # franchise ids
    away: str
    neutral: bool = False
    playin: bool = False
    tip_utc: str = ""  # 'YYYY-MM-DDTHH:MM:SSZ' when the schedule has a time, else ''


class SchedulePartition(Message, frozen=True):
    """One season's games not played yet, whole: what the data bucket holds under ``schedule.<key>``."""

    key: str  # the season, e.g. "2027"
    version: str  # sha256 of the rows as encoded
    rows: list[ScheduledGame]
