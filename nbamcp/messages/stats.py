"""Stats: requests on ``nba.stats.<query>`` and the result Structs they answer with."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message

# ---------------------------------------------------------------------------
# Stats: requests on ``nba.stats.<query>`` (queue "stats"). The replies are the
# result Structs in the "Stats results" section below.


class FindPlayerRequest(Message, frozen=True):
    query: f.PlayerName
    limit: Annotated[int, f.limit(50, 10)] = 10


class PlayerSeasonStatsRequest(Message, frozen=True):
    player: f.PlayerName
    season: f.OptionalSeason = None  # None: his latest season
    season_type: f.SeasonType = "regular"
    per: f.Per = "game"


class PlayerCareerRequest(Message, frozen=True):
    player: f.PlayerName
    season_type: f.SeasonType = "regular"


class ComparePlayersRequest(Message, frozen=True):
    players: Annotated[
        list[f.PlayerName],
        msgspec.Meta(
            min_length=2,
            max_length=5,
            description="2 to 5 players, each a name or Basketball-Reference id",
            examples=[["LeBron James", "Michael Jordan"]],
        ),
    ]
    season: f.OptionalSeason = None  # None: career regular-season averages
    stats: (
        Annotated[
            list[f.StatName],
            msgspec.Meta(
                min_length=1,
                max_length=len(f.STAT_NAMES),
                description="the stats to compare (default: gp, min, pts, reb, ast, stl, blk, fg_pct, "
                "fg3_pct, ft_pct, ts_pct, per); " + f.STAT_DOC,
                examples=[["pts", "ast", "ts_pct"]],
            ),
        ]
        | None
    ) = None


class TeamSeasonRequest(Message, frozen=True):
    team: f.TeamName
    season: f.Season


class StandingsRequest(Message, frozen=True):
    season: f.Season
    conference: f.Conference | None = None  # None: both conferences (the whole league before 1990)


class GamesRequest(Message, frozen=True):
    team: f.TeamName | None = None
    opponent: f.TeamName | None = None  # needs team
    season: f.OptionalSeason = None
    date_from: f.OptionalDate = None
    date_to: f.OptionalDate = None
    season_type: f.GameType = "all"
    limit: Annotated[int, f.limit(100, 50)] = 50


class HeadToHeadRequest(Message, frozen=True):
    team_a: f.TeamName
    team_b: f.TeamName
    season_from: f.OptionalSeason = None  # None: the first season in the data
    season_to: f.OptionalSeason = None  # None: the last


class LeagueLeadersRequest(Message, frozen=True):
    stat: f.Stat
    season: f.Season
    season_type: f.SeasonType = "regular"
    per: f.Per = "game"
    limit: Annotated[int, f.limit(50, 10)] = 10


class TeamRatingHistoryRequest(Message, frozen=True):
    team: f.TeamName
    season_from: f.Season
    season_to: f.Season
    chart: Annotated[
        bool,
        msgspec.Meta(
            description="also draw the history as a PNG chart (default true), e.g. false for the "
            "numbers alone",
            examples=[True, False],
        ),
    ] = True


class TeamsRequest(Message, frozen=True):
    season: Annotated[
        int, msgspec.Meta(ge=1947, le=2100, description="the season whose conferences and divisions to show")
    ] = 2024


class QualityReportRequest(Message, frozen=True):
    pass


class CompleteRequest(Message, frozen=True):
    """Names starting with ``prefix`` (any word of the name), for MCP completions."""

    kind: Literal["team", "player"]
    prefix: Annotated[str, f.text("what was typed so far", ["cel"], min_length=0)] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100


class CoverageRequest(Message, frozen=True):
    pass


IngestPath = Annotated[
    str,
    f.text(
        "a CSV file or a folder of them, inside the data folder, the server's home or stats.ingest_roots",
        ["/data/nba/gamelogs/team_gamelog_2023-24.csv"],
        max_length=f.PATH_MAX,
    ),
]
IngestFormat = Annotated[
    str,
    f.text(
        "'auto' (detect each file's layout from its header) or a layout name: games_538, "
        "nba_team_gamelog, bref_totals, bref_advanced (optionally ':regular' / ':playoffs'), "
        "nba_player_gamelog, raptor, bref_player_info, bref_team_seasons",
        ["auto", "bref_totals:playoffs"],
        max_length=40,
        pattern=r"^[a-z0-9_]+(?::[a-z]+)?$",
    ),
]


class IngestRequest(Message, frozen=True):
    paths: Annotated[
        list[IngestPath],
        msgspec.Meta(
            min_length=1,
            max_length=32,
            description="1 to 32 CSV files or folders (every CSV inside, layout detected) under the data "
            "folder, the server's home or stats.ingest_roots",
            examples=[["gamelogs/team_gamelog_2022-23.csv"]],
        ),
    ]
    format: IngestFormat = "auto"
    # Set by the front end (never by the caller): the stats worker publishes each file's progress
    # on nba.ingest.progress.<progress_token> (a bus subject token: letters, digits, - and _).
    progress_token: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""


class IngestStep(Message, frozen=True):
    """One step of an ingest: the fraction of its files done and what is happening."""

    fraction: float
    message: str


# ---------------------------------------------------------------------------
# Stats results: the replies on ``nba.stats.<query>`` (top-level ones tagged),
# built by nbamcp/data/queries and nbamcp/data/ingest, read by the front end.
# Field names use the NBA's abbreviations (pts, reb, ast, fg_pct, ...).


# from nbamcp/data/queries/statline.py


class StatLine(msgspec.Struct, frozen=True, omit_defaults=False):
    """One row of stats. ``team`` is the source code of the time ("TOT" = all teams)."""

    season: int | None
    team: str
    franchise: str | None
    team_name: str | None
    age: int | None
    per: str
    gp: int | None
    gs: int | None
    min: float | None
    pts: float | None
    reb: float | None
    oreb: float | None
    dreb: float | None
    ast: float | None
    stl: float | None
    blk: float | None
    tov: float | None
    pf: float | None
    fgm: float | None
    fga: float | None
    fg3m: float | None
    fg3a: float | None
    ftm: float | None
    fta: float | None
    fg_pct: float | None
    fg3_pct: float | None
    ft_pct: float | None
    efg_pct: float | None
    ts_pct: float | None
    per_rating: float | None
    usg_pct: float | None
    ws: float | None
    ws_per48: float | None
    bpm: float | None
    vorp: float | None


# from nbamcp/data/queries/player_lookup.py


class PlayerMatch(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    first_season: int | None
    last_season: int | None
    score: float


class PlayerSearch(Message, frozen=True):
    query: str
    matches: list[PlayerMatch]


# from nbamcp/data/queries/players.py


class Raptor(msgspec.Struct, frozen=True):
    """FiveThirtyEight RAPTOR for the season (Data: FiveThirtyEight, CC BY 4.0)."""

    raptor_offense: float | None
    raptor_defense: float | None
    raptor_total: float | None
    war_total: float | None


class PlayerSeasonStats(Message, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    season: int
    season_label: str
    season_type: str
    per: str
    traded: bool
    total: StatLine  # the TOT row for a traded player, else his one team
    teams: list[StatLine]  # each team's part, in the order he played for them (traded only)
    raptor: Raptor | None
    seasons_available: list[int]
    data_through_season: int | None = None  # the latest season of the player tables


class PlayerCareer(Message, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    season_type: str
    seasons: list[StatLine]  # per game, one per season (TOT for traded seasons: no double counting)
    totals: StatLine
    per_game: StatLine
    coverage: str
    # Seasons he played (known from RAPTOR, 1977 on) that the player tables (1990 on) lack:
    # the totals leave them out.
    missing_seasons: list[int] = []
    data_through_season: int | None = None  # the latest season of the player tables


class ComparedPlayer(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    label: str  # "2016 GSW" or "career 2010-2024"
    values: dict[str, float | None]
    missing_seasons: list[int] = []  # career seasons the player tables lack (see PlayerCareer)


class PlayerComparison(Message, frozen=True):
    season: int | None  # None = career regular-season averages
    season_type: str
    per: str
    stats: list[str]
    players: list[ComparedPlayer]
    best: dict[str, str]  # stat -> player_id of the best value (lowest for tov, pf)
    notes: list[str] = []  # what the comparison leaves out (seasons missing from the data)
    data_through_season: int | None = None


# from nbamcp/data/queries/games.py


class GameOut(msgspec.Struct, frozen=True):
    """One game; ``home`` / ``away`` are franchise ids, the names those of the time."""

    game_id: str
    date: str
    season: int
    season_type: str
    playin: bool
    home: str
    home_name: str
    away: str
    away_name: str
    home_pts: int
    away_pts: int
    winner: str
    neutral: bool
    sources: list[str]


class GameList(Message, frozen=True):
    total: int  # games matching the filters
    limit: int
    order: str
    games: list[GameOut]
    data_through: str | None = None  # the date of the last game result in the store
    note: str = ""  # when the question reaches past the data: where the data starts or ends


class Record(msgspec.Struct, frozen=True):
    wins: int
    losses: int


class SeriesResult(msgspec.Struct, frozen=True):
    season: int
    winner: str
    a_wins: int
    b_wins: int


class HeadToHead(Message, frozen=True):
    team_a: str
    team_a_name: str
    team_b: str
    team_b_name: str
    season_from: int
    season_to: int
    games: int
    a_wins: int
    b_wins: int
    regular: Record  # from team_a's side
    playoffs: Record
    a_at_home: Record
    a_avg_margin: float | None
    playoff_series: list[SeriesResult]
    first_meeting: str | None
    last_meeting: str | None
    recent: list[GameOut]  # the last 10 meetings, newest first
    data_through: str | None = None
    note: str = ""  # when the season range reaches past the data


# from nbamcp/data/queries/leaders.py


class Leader(msgspec.Struct, frozen=True):
    rank: int
    player_id: str
    name: str
    team: str  # "TOT" for a player who played for several teams
    teams: list[str]
    gp: int
    value: float


class Leaders(Message, frozen=True):
    stat: str
    season: int
    season_label: str
    season_type: str
    per: str
    qualification: str
    qualified: int  # players who met the minimum
    leaders: list[Leader]


# from nbamcp/data/queries/meta.py


class EraInfo(msgspec.Struct, frozen=True):
    first_season: int
    last_season: int | None
    name: str
    league: str
    codes: list[str]


class FranchiseInfo(msgspec.Struct, frozen=True):
    id: str
    name: str
    active: bool
    first_season: int
    last_season: int | None
    conference: str | None  # current alignment, active franchises only
    division: str | None
    codes: list[str]
    eras: list[EraInfo]


class FranchiseList(Message, frozen=True):
    franchises: list[FranchiseInfo]
    note: str


# from nbamcp/data/queries/ratings.py


class RatingPoint(msgspec.Struct, frozen=True):
    date: str
    season: int
    game_id: str
    rating: float  # after the game


class SeasonRating(msgspec.Struct, frozen=True):
    season: int
    games: int
    start: float  # after the season's first game
    end: float
    high: float
    low: float


class RatingHistory(Message, frozen=True):
    """A rating over time: ``seasons`` sums up every game; ``points`` are at most as many as a
    chart shows (chosen to keep the line's shape: peaks, troughs, first and last game)."""

    team: str
    name: str
    season_from: int
    season_to: int
    method: str
    points: list[RatingPoint]
    seasons: list[SeasonRating]
    data_through: str | None = None  # the ratings are computed from the games up to this date
    games: int = 0  # games in the range (every one rated; ``points`` holds a chart's share of them)


# from nbamcp/data/queries/teams.py


class Split(msgspec.Struct, frozen=True):
    wins: int
    losses: int


class PlayoffSeries(msgspec.Struct, frozen=True):
    round: int
    round_name: str
    opponent: str
    opponent_name: str
    wins: int
    losses: int
    won: bool | None


class PlayoffRun(msgspec.Struct, frozen=True):
    made_playoffs: bool
    wins: int | None  # playoff games (None: the source has no playoff games, only the result)
    losses: int | None
    series: list[PlayoffSeries]
    series_won: int
    champion: bool
    result: str


class TeamRatings(msgspec.Struct, frozen=True, kw_only=True):
    """Basketball-Reference's season ratings (per 100 possessions; SRS in points)."""

    srs: float | None
    pace: float | None
    ortg: float | None
    drtg: float | None
    nrtg: float | None


class TeamSeason(Message, frozen=True):
    franchise: str
    name: str  # the name of that season
    season: int
    season_label: str
    league: str
    conference: str | None
    division: str | None
    games: int
    wins: int
    losses: int
    win_pct: float
    # None where the source has no games (source "team_seasons"): splits and points need them.
    home: Split | None
    away: Split | None
    neutral: Split | None
    pts_for: float | None  # per game
    pts_against: float | None
    avg_margin: float | None
    playin: list[GameOut]
    playoffs: PlayoffRun
    notes: list[str]
    # "games": computed from the game results; "team_seasons": Basketball-Reference's season
    # table, for seasons the game results do not reach.
    source: str = "games"
    ratings: TeamRatings | None = None  # from Basketball-Reference's table (1990 on)
    data_through: str | None = None


class StandingRow(msgspec.Struct, frozen=True):
    rank: int
    team: str
    name: str
    conference: str | None
    division: str | None
    wins: int
    losses: int
    win_pct: float
    games_behind: float
    home: str | None  # "25-16"; None without the games (source "team_seasons")
    away: str | None
    pts_for: float | None
    pts_against: float | None
    avg_margin: float | None


class StandingsGroup(msgspec.Struct, frozen=True):
    name: str  # "East" / "West", or a league before 1990
    rows: list[StandingRow]


class Standings(Message, frozen=True):
    season: int
    season_label: str
    conference: str | None
    through: str  # date of the last regular-season game in the data ("" without games)
    groups: list[StandingsGroup]
    notes: list[str]
    source: str = "games"  # or "team_seasons" (Basketball-Reference's table), as in TeamSeason
    data_through: str | None = None


# from nbamcp/data/ingest/report.py


class QualityIssue(msgspec.Struct, frozen=True):
    """One rule that fired, how often, and a few examples. ``file`` is '' in run totals."""

    category: str
    rule: str
    severity: str
    count: int
    examples: list[str] = []
    file: str = ""


class Rescore(msgspec.Struct, frozen=True):
    """A known game told again with another score (quarantined as ``score_conflict``; the stats
    worker holds it for an admin to accept): the new score, the stored home side's way round."""

    game_id: str
    home_pts: int
    away_pts: int
    source: str


class FileReport(msgspec.Struct, frozen=True):
    """One file (or one live response): what was read and what it changed."""

    path: str
    layout: str
    season_type: str | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    new_game_ids: list[str]
    quality: list[QualityIssue]
    elapsed_s: float
    summary: str
    related: dict[str, int] = {}
    rescored: list[Rescore] = []


class SkippedFile(msgspec.Struct, frozen=True):
    path: str
    reason: str


class QualityReport(Message, frozen=True):
    """The run's data-quality report: counts per rule over every file."""

    run_id: int
    created_at: str
    files_checked: int
    rows_read: int
    rows_quarantined: int
    errors: int
    warnings: int
    by_rule: dict[str, int]
    issues: list[QualityIssue]


class IngestReport(Message, frozen=True):
    """The result of ``ingest_paths``; ``new_game_ids`` feeds the later feedback loop."""

    run_id: int
    started_at: str
    elapsed_s: float
    files: list[FileReport]
    skipped: list[SkippedFile]
    new_game_ids: list[str]
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    quality: QualityReport
    summary: str


# from nbamcp/data/queries/coverage.py


class GameSource(msgspec.Struct, frozen=True, kw_only=True):
    """The games one source contributed (a game two sources agree on counts for both)."""

    source: str  # "538" (FiveThirtyEight), "nba_api" (stats.nba.com game logs), ...
    games: int
    first_date: str
    last_date: str
    first_season: int
    last_season: int


class TableSpan(msgspec.Struct, frozen=True, kw_only=True):
    """The seasons one season-level table holds."""

    table: str  # "player_seasons", "raptor", "team_seasons"
    source: str
    season_type: str | None  # "regular" / "playoffs" for player seasons
    rows: int
    first_season: int
    last_season: int


class Coverage(Message, frozen=True):
    """What the store holds, computed from it after every ingest (``nba://data/coverage``)."""

    data_through: str | None  # the date of the last game result (None: no games yet)
    games: int
    first_game: str | None
    first_season: int | None  # seasons with games
    last_season: int | None
    game_sources: list[GameSource]
    tables: list[TableSpan]
    latest_season: int | None  # the latest season any table knows (team seasons may go past the games)
    run_id: int  # the ingest run this was computed after (0: none yet)
    summary: str  # the same in two or three sentences (the server's instructions quote it)


class Completions(Message, frozen=True):
    values: list[str]  # best first, at most the request's limit
    total: int  # how many names match in all


class TeamRatingHistoryReply(Message, frozen=True):
    history: RatingHistory
    png: bytes | None = None  # the chart, when asked for


class IngestReply(Message, frozen=True):
    """An ingest run's report, its game-id lists cut to the first 100 so the reply fits a bus message."""

    report: IngestReport
    new_games: int


MAX_SCHEDULE_LIMIT = 100  # games one schedule answer predicts at most


class ScheduleRequest(Message, frozen=True):
    """Games on the schedule (not played yet), from ``date`` on (or that day only with ``days=1``)."""

    date: Annotated[
        f.Date | None,
        msgspec.Meta(
            description="the first day YYYY-MM-DD; omit for today (the worker's clock)",
            examples=["2026-12-03"],
        ),
    ] = None
    team: Annotated[
        f.TeamName | None,
        msgspec.Meta(description="only this team's games, e.g. 'Celtics'; omit for every team"),
    ] = None
    days: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=366,
            description="how many days from date on, 1 to 366 (default 1: that day)",
            examples=[7],
        ),
    ] = 1
    limit: Annotated[int, f.limit(MAX_SCHEDULE_LIMIT, 50)] = 50


class ScheduledGameOut(msgspec.Struct, frozen=True, kw_only=True):
    game_id: str
    date: str
    tip_utc: str  # '' when the schedule has no time yet
    season: int
    season_type: str
    playin: bool
    home: str
    home_name: str
    away: str
    away_name: str
    neutral: bool


class ScheduleList(Message, frozen=True):
    total: int  # games matching (the list holds at most ``limit``), earliest first
    date_from: str
    date_to: str
    games: list[ScheduledGameOut]
    schedule_through: str | None = None  # the last scheduled date the store knows (None: no schedule)
    fetched_at: str | None = None  # when the schedule was last fetched from stats.nba.com
    note: str = ""  # why the list is empty, when it is
