"""Which loader reads a file: decided by its header (and, for Basketball-Reference, its name).

The season type of a Basketball-Reference player file is not in its header: a
file name containing "playoff" is playoffs, anything else regular season; force
it with ``fmt="bref_totals:playoffs"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from nbamcp.data.ingest import gamelog, games538, player_gamelog, player_info, player_seasons, team_seasons
from nbamcp.errors import InvalidInput


class Layout(NamedTuple):
    name: str
    required: frozenset[str]
    # Matched case-insensitively (nba_api's CSV exports are lower case, its JSON upper case).
    lower: bool
    description: str
    expected: tuple[str, ...] = ()  # the full header the source publishes


def _cols(spec: str) -> tuple[str, ...]:
    return tuple(spec.split(","))


_NBA_BOX = (
    "wl,min,fgm,fga,fg_pct,fg3m,fg3a,fg3_pct,ftm,fta,ft_pct,oreb,dreb,reb,ast,stl,blk,tov,pf,pts,plus_minus"
)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(
            "games_538",
            games538.REQUIRED,
            False,
            "FiveThirtyEight nba-elo games",
            _cols(
                "date,season,neutral,playoff,team1,team2,score1,score2,elo1_pre,elo2_pre,elo_prob1,elo_prob2,"
                "elo1_post,elo2_post,raptor1_pre,raptor2_pre,raptor_prob1,raptor_prob2"
            ),
        ),
        Layout(
            "nba_team_gamelog",
            gamelog.REQUIRED,
            True,
            "nba_api LeagueGameLog, team rows",
            _cols(
                "season_id,team_id,team_abbreviation,team_name,game_id,game_date,matchup,"
                f"{_NBA_BOX},video_available"
            ),
        ),
        Layout(
            "nba_player_gamelog",
            player_gamelog.REQUIRED,
            True,
            "nba_api LeagueGameLog, player rows",
            _cols(
                "season_id,player_id,player_name,team_id,team_abbreviation,team_name,game_id,game_date,matchup,"
                f"{_NBA_BOX},fantasy_pts,video_available"
            ),
        ),
        Layout(
            "bref_totals",
            player_seasons.TOTALS_REQUIRED,
            False,
            "Basketball-Reference player totals",
            _cols(
                "Pk,Year,Rk,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,2P,2PA,2P%,eFG%,FT,FTA,FT%,ORB,DRB,"
                "TRB,AST,STL,BLK,TOV,PF,PTS"
            ),
        ),
        Layout(
            "bref_advanced",
            player_seasons.ADVANCED_REQUIRED,
            False,
            "Basketball-Reference advanced",
            _cols(
                "Pk,Year,Rk,Player,Pos,Age,Tm,G,MP,PER,TS%,3PAr,FTr,ORB%,DRB%,TRB%,AST%,STL%,BLK%,TOV%,USG%,OWS,"
                "DWS,WS,WS/48,OBPM,DBPM,BPM,VORP"
            ),
        ),
        Layout(
            "raptor",
            player_info.RAPTOR_REQUIRED,
            False,
            "FiveThirtyEight RAPTOR by player",
            _cols(
                "player_name,player_id,season,poss,mp,raptor_offense,raptor_defense,raptor_total,war_total,"
                "war_reg_season,war_playoffs,predator_offense,predator_defense,predator_total,pace_impact"
            ),
        ),
        Layout(
            "bref_player_info",
            player_info.INFO_REQUIRED,
            False,
            "Basketball-Reference player info",
            _cols("Pk,Pos,Ht,Wt"),
        ),
        Layout(
            "bref_team_seasons",
            team_seasons.REQUIRED,
            False,
            "Basketball-Reference team seasons",
            _cols(
                "Year,Tm,W,L,W/L%,Finish,SRS,Pace,Rel Pace,ORtg,Rel ORtg,DRtg,Rel DRtg,NRtg,Rel NRtg,"
                "Playoffs,SW,SL,Rtg"
            ),
        ),
    )
}
# Files are loaded in this order: games first, then the player files that name
# players, then the files that only add facts about them.
ORDER = tuple(LAYOUTS)
WITH_SEASON_TYPE = ("bref_totals", "bref_advanced")


def _matches(layout: Layout, header: list[str]) -> bool:
    cols = {h.strip().lower() for h in header} if layout.lower else {h.strip() for h in header}
    return layout.required <= cols


def detect(header: list[str], path: Path) -> tuple[str | None, str | None]:
    """(layout, season type) for a header, or (None, None) when nothing matches."""
    hits = [name for name, layout in LAYOUTS.items() if _matches(layout, header)]
    # A player game log also has every team game log column.
    if "nba_player_gamelog" in hits:
        hits = ["nba_player_gamelog"]
    if len(hits) != 1:
        return None, None
    name = hits[0]
    return name, (season_type_from_name(path) if name in WITH_SEASON_TYPE else None)


def season_type_from_name(path: Path) -> str:
    return "playoffs" if "playoff" in path.name.lower() else "regular"


def parse_fmt(fmt: str) -> tuple[str | None, str | None]:
    """'auto' -> (None, None); 'bref_totals:playoffs' -> ('bref_totals', 'playoffs')."""
    if fmt == "auto":
        return None, None
    name, _, stype = fmt.partition(":")
    if name not in LAYOUTS:
        raise InvalidInput(f"unknown format {fmt!r}; accepted: auto, {', '.join(LAYOUTS)}")
    if stype and (name not in WITH_SEASON_TYPE or stype not in ("regular", "playoffs")):
        raise InvalidInput(
            f"format {fmt!r}: only {', '.join(WITH_SEASON_TYPE)} take ':regular' or ':playoffs'"
        )
    return name, stype or None


def header_issues(name: str, header: list[str]) -> tuple[list[str], list[str]]:
    """(expected columns missing, columns not expected) for a header already matched to ``name``."""
    layout = LAYOUTS[name]
    have = [h.strip().lower() if layout.lower else h.strip() for h in header]
    return [c for c in layout.expected if c not in have], [c for c in have if c not in layout.expected]


def check_forced(name: str, header: list[str], path: Path) -> None:
    layout = LAYOUTS[name]
    if not _matches(layout, header):
        have = {h.strip().lower() for h in header} if layout.lower else {h.strip() for h in header}
        missing = sorted(layout.required - have)
        raise InvalidInput(f"{path} is not in layout {name}: missing columns {', '.join(missing)}")
