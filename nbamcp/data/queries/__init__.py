"""Stats queries over the store: plain async functions returning frozen msgspec Structs."""

from nbamcp.data.queries.completion import complete_player, complete_team
from nbamcp.data.queries.coverage import coverage
from nbamcp.data.queries.games import GameList, GameOut, HeadToHead, games, head_to_head
from nbamcp.data.queries.leaders import Leaders, league_leaders
from nbamcp.data.queries.meta import FranchiseList, latest_quality_report, list_franchises
from nbamcp.data.queries.player_lookup import PlayerMatch, PlayerSearch, find_player, resolve_player
from nbamcp.data.queries.players import (
    PlayerCareer,
    PlayerComparison,
    PlayerSeasonStats,
    compare_players,
    player_career,
    player_season_stats,
)
from nbamcp.data.queries.ratings import RatingHistory, RatingMethod, team_rating_history
from nbamcp.data.queries.schedule import schedule
from nbamcp.data.queries.teams import Standings, TeamSeason, standings, team_season

__all__ = [
    "FranchiseList",
    "GameList",
    "GameOut",
    "HeadToHead",
    "Leaders",
    "PlayerCareer",
    "PlayerComparison",
    "PlayerMatch",
    "PlayerSearch",
    "PlayerSeasonStats",
    "RatingHistory",
    "RatingMethod",
    "Standings",
    "TeamSeason",
    "compare_players",
    "complete_player",
    "complete_team",
    "coverage",
    "find_player",
    "games",
    "head_to_head",
    "latest_quality_report",
    "league_leaders",
    "list_franchises",
    "player_career",
    "player_season_stats",
    "resolve_player",
    "schedule",
    "standings",
    "team_rating_history",
    "team_season",
]
