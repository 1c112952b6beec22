"""The store's schema, as an ordered list of migrations (``PRAGMA user_version`` = how many ran).

Never edit a released migration: append a new one. Each runs in its own
transaction together with the ``user_version`` bump, so a crash leaves the file at
the previous version, never half way.
"""

from __future__ import annotations

import aiosqlite

from nbamcp.sqlite import Migration

_V1 = (
    """
    CREATE TABLE franchises (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        first_season INTEGER NOT NULL,
        last_season INTEGER
    )
    """,
    # One row per (code, era): a code can come back (PTP, NOH) and an era has several codes.
    """
    CREATE TABLE team_codes (
        code TEXT NOT NULL,
        franchise_id TEXT NOT NULL REFERENCES franchises(id),
        city TEXT NOT NULL,
        nickname TEXT NOT NULL,
        league TEXT NOT NULL,
        first_season INTEGER NOT NULL,
        last_season INTEGER,
        PRIMARY KEY (code, first_season)
    )
    """,
    """
    CREATE TABLE games (
        game_id TEXT PRIMARY KEY,
        date TEXT NOT NULL,
        season INTEGER NOT NULL,
        season_type TEXT NOT NULL CHECK (season_type IN ('regular', 'playoffs')),
        home TEXT NOT NULL REFERENCES franchises(id),
        away TEXT NOT NULL REFERENCES franchises(id),
        home_code TEXT NOT NULL,
        away_code TEXT NOT NULL,
        home_pts INTEGER NOT NULL,
        away_pts INTEGER NOT NULL,
        neutral INTEGER NOT NULL DEFAULT 0 CHECK (neutral IN (0, 1)),
        elo538_home_prob REAL,
        raptor538_home_prob REAL,
        sources TEXT NOT NULL,
        nba_game_id TEXT
    )
    """,
    "CREATE INDEX games_season ON games (season, season_type)",
    "CREATE INDEX games_home ON games (home, season)",
    "CREATE INDEX games_away ON games (away, season)",
    """
    CREATE TABLE players (
        player_id TEXT PRIMARY KEY,
        name TEXT,
        hall_of_fame INTEGER NOT NULL DEFAULT 0,
        pos TEXT,
        height_in INTEGER,
        weight_lb INTEGER
    )
    """,
    """
    CREATE TABLE player_seasons (
        player_id TEXT NOT NULL REFERENCES players(player_id),
        season INTEGER NOT NULL,
        season_type TEXT NOT NULL CHECK (season_type IN ('regular', 'playoffs')),
        team_code TEXT NOT NULL,
        franchise_id TEXT REFERENCES franchises(id),
        is_total INTEGER NOT NULL CHECK (is_total IN (0, 1)),
        stint INTEGER NOT NULL DEFAULT 0,  -- 0 = TOT, else 1, 2... in the order he played for them
        pos TEXT, age INTEGER,
        gp INTEGER, gs INTEGER, min REAL,
        fgm INTEGER, fga INTEGER, fg_pct REAL, fg3m INTEGER, fg3a INTEGER, fg3_pct REAL,
        fg2m INTEGER, fg2a INTEGER, fg2_pct REAL, efg_pct REAL,
        ftm INTEGER, fta INTEGER, ft_pct REAL,
        oreb INTEGER, dreb INTEGER, reb INTEGER, ast INTEGER, stl INTEGER, blk INTEGER,
        tov INTEGER, pf INTEGER, pts INTEGER,
        per REAL, ts_pct REAL, fg3a_rate REAL, fta_rate REAL, oreb_pct REAL, dreb_pct REAL,
        reb_pct REAL, ast_pct REAL, stl_pct REAL, blk_pct REAL, tov_pct REAL, usg_pct REAL,
        ows REAL, dws REAL, ws REAL, ws_per48 REAL, obpm REAL, dbpm REAL, bpm REAL, vorp REAL,
        sources TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (player_id, season, season_type, team_code)
    )
    """,
    "CREATE INDEX player_seasons_season ON player_seasons (season, season_type)",
    """
    CREATE TABLE ingest_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        report TEXT,
        quality TEXT
    )
    """,
    """
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER REFERENCES ingest_runs(run_id),
        source TEXT NOT NULL,
        row_no INTEGER NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL,
        UNIQUE (source, rule, raw)
    )
    """,
)

# v2: play-in games got their own flag. The 538 file marks them playoff=1 from 2021
# on; these are the play-in windows, so rows stored by v1 are back-filled.
PLAYIN_WINDOWS: dict[int, tuple[str, str]] = {
    2021: ("2021-05-18", "2021-05-21"),
    2022: ("2022-04-12", "2022-04-15"),
    2023: ("2023-04-11", "2023-04-14"),
}


async def _backfill_playin(conn: aiosqlite.Connection) -> None:
    for season, (first, last) in PLAYIN_WINDOWS.items():
        await conn.execute(
            "UPDATE games SET playin = 1 WHERE season = ? AND season_type = 'playoffs' "
            "AND date BETWEEN ? AND ?",
            (season, first, last),
        )


_V2 = (
    "ALTER TABLE games ADD COLUMN playin INTEGER NOT NULL DEFAULT 0 CHECK (playin IN (0, 1))",
    _backfill_playin,
)

_V3 = (
    """
    CREATE TABLE raptor (
        player_id TEXT NOT NULL REFERENCES players(player_id),
        season INTEGER NOT NULL,
        poss INTEGER, mp INTEGER,
        raptor_offense REAL, raptor_defense REAL, raptor_total REAL,
        war_total REAL, war_reg_season REAL, war_playoffs REAL,
        predator_offense REAL, predator_defense REAL, predator_total REAL, pace_impact REAL,
        PRIMARY KEY (player_id, season)
    )
    """,
    # Basketball-Reference's team seasons, kept to cross-check what the games say.
    """
    CREATE TABLE team_seasons_bref (
        franchise_id TEXT NOT NULL REFERENCES franchises(id),
        season INTEGER NOT NULL,
        nickname TEXT NOT NULL,
        w INTEGER, l INTEGER, finish TEXT, srs REAL, pace REAL,
        ortg REAL, drtg REAL, nrtg REAL, playoffs TEXT, sw INTEGER, sl INTEGER,
        PRIMARY KEY (franchise_id, season)
    )
    """,
    "CREATE INDEX games_nba_id ON games (nba_game_id) WHERE nba_game_id IS NOT NULL",
    "CREATE INDEX player_seasons_player ON player_seasons (player_id, season_type, season)",
)

# v4: fingerprints of ingested files, so that re-ingesting an unchanged file is a look-up.
_V4 = (
    """
    CREATE TABLE ingest_files (
        sha256 TEXT NOT NULL,
        layout TEXT NOT NULL,
        season_type TEXT NOT NULL,
        loader_version INTEGER NOT NULL,
        source TEXT NOT NULL,
        run_id INTEGER REFERENCES ingest_runs(run_id),
        future_rows INTEGER NOT NULL,
        report TEXT NOT NULL,
        PRIMARY KEY (sha256, layout, season_type, loader_version)
    )
    """,
)

# v5: the meetings of two teams (head_to_head, games with an opponent) by index, not by
# scanning one team's whole history.
_V5 = ("CREATE INDEX games_matchup ON games (home, away, season)",)

# v6: team rosters as of a date (nba_api's CommonTeamRoster, fetched live): what the roster
# model's strength uses from that date on. ``player_id`` is the Basketball-Reference id when the
# name matches exactly one known player, else ``nba:<PLAYER_ID>`` (no FK: rookies are unknown).
_V6 = (
    """
    CREATE TABLE rosters (
        season INTEGER NOT NULL,
        franchise_id TEXT NOT NULL REFERENCES franchises(id),
        as_of TEXT NOT NULL,
        player_id TEXT NOT NULL,
        nba_player_id INTEGER,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (season, franchise_id, as_of, player_id)
    )
    """,
)

# v7: what the stats worker has announced to the other workers (the games dataset and its
# GamesIngested events), one hash per game: a new or corrected row differs from it.
_V7 = (
    """
    CREATE TABLE announced_games (
        game_id TEXT PRIMARY KEY,
        row_hash TEXT NOT NULL
    )
    """,
)

# v8: the version of each season the stats worker announced: an unchanged season needs no look
# at its games (a start without news reads the games once, hashes nothing).
_V8 = (
    """
    CREATE TABLE announced_partitions (
        key TEXT PRIMARY KEY,
        version TEXT NOT NULL
    )
    """,
)

# v9: results held back by the anomaly screen (nbamcp.monitoring.anomalies) until an admin accepts
# them. "new": a game in ``games`` that is not announced while held; "rescored": another score
# for an announced game (``games`` keeps the announced one until the new one is accepted).
_V9 = (
    """
    CREATE TABLE held_games (
        game_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('new', 'rescored')),
        home_pts INTEGER NOT NULL,
        away_pts INTEGER NOT NULL,
        was_home_pts INTEGER,
        was_away_pts INTEGER,
        rules TEXT NOT NULL,
        reason TEXT NOT NULL,
        held_at TEXT NOT NULL,
        accepted_at TEXT,
        accepted_by TEXT
    )
    """,
    "CREATE INDEX held_games_open ON held_games (accepted_at)",
)

# v10: the current season's schedule (stats.nba.com's ScheduleLeagueV2, fetched live): games not
# played yet, with no score, so not in ``games`` (whose scores are NOT NULL). A game leaves this
# table when its result is ingested (``games.nba_game_id`` holds the same id).
_V10 = (
    """
    CREATE TABLE scheduled_games (
        game_id TEXT PRIMARY KEY,
        date TEXT NOT NULL,
        tip_utc TEXT NOT NULL DEFAULT '',
        season INTEGER NOT NULL,
        season_type TEXT NOT NULL CHECK (season_type IN ('regular', 'playoffs')),
        playin INTEGER NOT NULL DEFAULT 0 CHECK (playin IN (0, 1)),
        home TEXT NOT NULL REFERENCES franchises(id),
        away TEXT NOT NULL REFERENCES franchises(id),
        neutral INTEGER NOT NULL DEFAULT 0 CHECK (neutral IN (0, 1)),
        source TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX scheduled_games_date ON scheduled_games (date)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _V1),
    Migration(2, "play-in flag on games", _V2),
    Migration(3, "RAPTOR, Basketball-Reference team seasons, lookup indexes", _V3),
    Migration(4, "ingested file fingerprints", _V4),
    Migration(5, "matchup index on games", _V5),
    Migration(6, "team rosters as of a date", _V6),
    Migration(7, "games announced to the other workers", _V7),
    Migration(8, "seasons announced to the other workers", _V8),
    Migration(9, "results held by the anomaly screen", _V9),
    Migration(10, "the schedule: games not played yet", _V10),
)
LATEST_VERSION = MIGRATIONS[-1].version
