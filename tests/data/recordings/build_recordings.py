"""Rebuild the recorded nba_api responses used by tests/data/test_live.py (run by hand, offline).

``leaguegamelog_team_2022-23.json`` holds the first 12 game ids (both team rows each) of
gamelogs/team_gamelog_2022-23.csv in the exact dict ``LeagueGameLog(...).get_dict()``
returns: upper-case headers, numbers as JSON numbers, ids as strings.
``leaguegamelog_player_2022-23.json`` is hand-built in the player layout (a few
rows, one player with two teams); its numbers are illustrative, not real box scores.
``commonteamroster_2022-23_{opening,deadline}.json`` hold Brooklyn's, Phoenix's and
Dallas's rosters in the exact dict ``CommonTeamRoster(team_id, season).get_dict()``
returns (by TeamID), hand-built from the 2022-23 Basketball-Reference table: each
player's first team of the season (opening night) and his last (after the February
2023 trades: Irving to Dallas, Durant to Phoenix, Bridges and Johnson to Brooklyn).
TeamID and PLAYER_ID come from nba_api's bundled team and player lists; jersey
numbers, heights, weights, birth dates and schools are left empty.
``scheduleleaguev2_2026-27.json`` is a hand-built ScheduleLeagueV2 answer for 2026-27 in the
exact dict ``ScheduleLeagueV2(season="2026-27").get_dict()`` returns (``meta``, then
``leagueSchedule`` with ``gameDates[].games[]``, every key of a game in stats.nba.com's order),
cut to a fortnight around 2026-12-02: games already final (``gameStatus`` 3, scores), one in
progress (2), games not played yet (1, no scores), a preseason game, an NBA Cup knockout game
whose teams are not decided (``teamId`` 0), the Cup final and a regular-season game in Paris
(neutral courts), and a late tip whose UTC date is the next day. TeamIDs are nba_api's; the
dates, times and arenas are illustrative.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("NBAMCP_DATA_DIR") or HERE.parents[3] / "shared" / "data")
_STRINGS = {"SEASON_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID", "GAME_DATE", "MATCHUP", "WL"}


def _value(col: str, raw: str) -> object:
    if col in _STRINGS or raw == "":
        return raw or None
    return float(raw) if "." in raw else int(raw)


def team_recording(games: int = 12) -> dict:
    with (DATA / "gamelogs" / "team_gamelog_2022-23.csv").open(newline="") as f:
        reader = csv.reader(f)
        headers = [h.upper() for h in next(reader)]
        every = list(reader)
    gid = headers.index("GAME_ID")
    keep = sorted({r[gid] for r in every})[:games]
    rows = [r for r in every if r[gid] in keep]
    return {
        "resource": "leaguegamelog",
        "parameters": {
            "Counter": 0, "Direction": "ASC", "LeagueID": "00", "PlayerOrTeam": "T", "Season": "2022-23",
            "SeasonType": "Regular Season", "Sorter": "DATE", "DateFrom": None, "DateTo": None,
        },
        "resultSets": [
            {"name": "LeagueGameLog", "headers": headers,
             "rowSet": [[_value(h, v) for h, v in zip(headers, r, strict=True)] for r in rows]}
        ],
    }  # fmt: skip


PLAYER_HEADERS = [
    "SEASON_ID", "PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID",
    "GAME_DATE", "MATCHUP", "WL", "MIN", "FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT", "FTM", "FTA",
    "FT_PCT", "OREB", "DREB", "REB", "AST", "STL", "BLK", "TOV", "PF", "PTS", "PLUS_MINUS", "FANTASY_PTS",
    "VIDEO_AVAILABLE",
]  # fmt: skip


def _p(pid, name, tid, team, tname, gid, date, matchup, wl, mn, fgm, fga, fg3m, fg3a, ftm, fta, oreb, dreb,
       ast, stl, blk, tov, pf) -> list:  # fmt: skip
    pts = 2 * fgm + fg3m + ftm
    return ["22022", pid, name, tid, team, tname, gid, date, matchup, wl, mn, fgm, fga,
            round(fgm / fga, 3) if fga else None, fg3m, fg3a, round(fg3m / fg3a, 3) if fg3a else None,
            ftm, fta, round(ftm / fta, 3) if fta else None, oreb, dreb, oreb + dreb, ast, stl, blk, tov, pf,
            pts, 0, 0.0, 1]  # fmt: skip


def player_recording() -> dict:
    bkn, phx, den = (1610612751, "BKN", "Brooklyn Nets"), (1610612756, "PHX", "Phoenix Suns"), (
        1610612743, "DEN", "Denver Nuggets")  # fmt: skip
    kd, joker = (201142, "Kevin Durant"), (203999, "Nikola Jokić")
    rows = [
        _p(
            *kd,
            *bkn,
            "0022200005",
            "2022-10-19",
            "BKN vs. NOP",
            "L",
            36,
            13,
            25,
            1,
            4,
            5,
            6,
            1,
            6,
            6,
            1,
            1,
            3,
            2,
        ),
        _p(
            *kd,
            *bkn,
            "0022200020",
            "2022-10-21",
            "BKN @ TOR",
            "L",
            38,
            12,
            22,
            2,
            5,
            6,
            7,
            0,
            7,
            5,
            0,
            2,
            2,
            3,
        ),
        _p(
            *kd,
            *phx,
            "0022200900",
            "2023-03-01",
            "PHX @ CHA",
            "W",
            28,
            9,
            15,
            2,
            4,
            3,
            3,
            0,
            6,
            2,
            1,
            1,
            1,
            2,
        ),
        _p(
            *joker,
            *den,
            "0022200001",
            "2022-10-18",
            "DEN @ UTA",
            "L",
            34,
            9,
            12,
            0,
            2,
            9,
            11,
            3,
            7,
            9,
            1,
            0,
            4,
            3,
        ),
        _p(
            *joker,
            *den,
            "0022200030",
            "2022-10-22",
            "DEN vs. OKC",
            "W",
            29,
            6,
            10,
            1,
            2,
            2,
            2,
            2,
            10,
            13,
            2,
            1,
            3,
            2,
        ),
    ]
    return {
        "resource": "leaguegamelog",
        "note": "hand-built sample in the LeagueGameLog player layout; numbers are illustrative",
        "parameters": {
            "LeagueID": "00",
            "PlayerOrTeam": "P",
            "Season": "2022-23",
            "SeasonType": "Regular Season",
        },
        "resultSets": [{"name": "LeagueGameLog", "headers": PLAYER_HEADERS, "rowSet": rows}],
    }


ROSTER_HEADERS = [
    "TeamID", "SEASON", "LeagueID", "PLAYER", "NICKNAME", "PLAYER_SLUG", "NUM", "POSITION", "HEIGHT",
    "WEIGHT", "BIRTH_DATE", "AGE", "EXP", "SCHOOL", "PLAYER_ID", "HOW_ACQUIRED",
]  # fmt: skip
COACH_HEADERS = [
    "TEAM_ID", "SEASON", "COACH_ID", "FIRST_NAME", "LAST_NAME", "COACH_NAME", "IS_ASSISTANT", "COACH_TYPE",
    "SORT_SEQUENCE",
]  # fmt: skip
ROSTER_TEAMS = {"BRK": "BKN", "PHO": "PHX", "DAL": "DAL"}  # Basketball-Reference code -> nba_api code
NBA_NAMES = {"Reggie Bullock": "Reggie Bullock Jr."}  # where stats.nba.com spells a name otherwise


def roster_recordings() -> dict[str, dict[str, dict]]:
    """'opening' / 'deadline' -> TeamID (as text: JSON keys) -> the CommonTeamRoster answer."""
    import unicodedata

    from nba_api.stats.static import players, teams

    def plain(name: str) -> str:
        return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()

    nba_ids = {plain(p["full_name"]): p["id"] for p in players.get_players()}
    with (DATA / "players" / "player_advanced_regular_1990_2024.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Year"] == "2023"]
    stints: dict[str, list[dict]] = {}
    for r in rows:
        if r["Tm"] != "TOT":
            stints.setdefault(r["Pk"], []).append(r)
    out: dict[str, dict[str, dict]] = {}
    for moment, pick in (("opening", 0), ("deadline", -1)):
        out[moment] = {}
        for bref, code in ROSTER_TEAMS.items():
            team_id = teams.find_team_by_abbreviation(code)["id"]
            roster = sorted(
                (s[pick] for s in stints.values() if s[pick]["Tm"] == bref), key=lambda r: r["Player"]
            )
            names = [NBA_NAMES.get(r["Player"], r["Player"]) for r in roster]
            rowset = [
                [team_id, "2022", "00", n, n.split()[0], plain(n).replace(" ", "-").replace(".", ""), None,
                 r["Pos"], None, None, None, float(r["Age"]), None, None, nba_ids[plain(n)], None]
                for n, r in zip(names, roster, strict=True)
            ]  # fmt: skip
            out[moment][str(team_id)] = {
                "resource": "commonteamroster",
                "parameters": {"TeamID": team_id, "LeagueID": "00", "Season": "2022-23"},
                "resultSets": [
                    {"name": "CommonTeamRoster", "headers": ROSTER_HEADERS, "rowSet": rowset},
                    {"name": "Coaches", "headers": COACH_HEADERS, "rowSet": []},
                ],
            }
    return out


SCHEDULE_TEAMS = {  # tricode -> (TeamID, city, name, slug, arena, arena city, state)
    "BOS": (1610612738, "Boston", "Celtics", "celtics", "TD Garden", "Boston", "MA"),
    "NYK": (1610612752, "New York", "Knicks", "knicks", "Madison Square Garden", "New York", "NY"),
    "LAL": (1610612747, "Los Angeles", "Lakers", "lakers", "Crypto.com Arena", "Los Angeles", "CA"),
    "GSW": (1610612744, "Golden State", "Warriors", "warriors", "Chase Center", "San Francisco", "CA"),
    "DEN": (1610612743, "Denver", "Nuggets", "nuggets", "Ball Arena", "Denver", "CO"),
    "MIL": (1610612749, "Milwaukee", "Bucks", "bucks", "Fiserv Forum", "Milwaukee", "WI"),
    "PHI": (1610612755, "Philadelphia", "76ers", "sixers", "Xfinity Mobile Arena", "Philadelphia", "PA"),
    "MIA": (1610612748, "Miami", "Heat", "heat", "Kaseya Center", "Miami", "FL"),
}
_NO_BROADCASTERS = [
    "nationalBroadcasters", "nationalRadioBroadcasters", "nationalOttBroadcasters", "homeTvBroadcasters",
    "homeRadioBroadcasters", "homeOttBroadcasters", "awayTvBroadcasters", "awayRadioBroadcasters",
    "awayOttBroadcasters",
]  # fmt: skip


def _side(code: str | None, score: int | None, wins: int, losses: int) -> dict:
    if code is None:  # a knockout game whose team is not decided yet
        return {"teamId": 0, "teamName": None, "teamCity": None, "teamTricode": None, "teamSlug": None,
                "wins": 0, "losses": 0, "score": 0, "seed": None}  # fmt: skip
    tid, city, name, slug, *_ = SCHEDULE_TEAMS[code]
    return {"teamId": tid, "teamName": name, "teamCity": city, "teamTricode": code, "teamSlug": slug,
            "wins": wins, "losses": losses, "score": score or 0, "seed": None}  # fmt: skip


def _game(gid: str, day: str, et: str, home: str | None, away: str | None, status: int, *,
          score: tuple[int, int] | None = None, label: str = "", sub: str = "", neutral: bool = False,
          arena: tuple[str, str, str] | None = None) -> dict:  # fmt: skip
    import datetime as dt

    tip_et = dt.datetime.fromisoformat(f"{day}T{et}")
    tip_utc = tip_et + dt.timedelta(hours=5)  # December: Eastern Standard Time, UTC-5
    text = {1: f"{tip_et:%-I:%M} pm ET", 2: "Q3 5:12", 3: "Final"}[status]
    name, city, state = arena or (SCHEDULE_TEAMS[home][4:] if home else ("TBD", "", ""))
    return {
        "gameId": gid, "gameCode": f"{day.replace('-', '')}/{away or 'TBD'}{home or 'TBD'}",
        "gameStatus": status, "gameStatusText": text, "gameSequence": 1,
        "gameDateEst": f"{day}T00:00:00Z", "gameTimeEst": f"1900-01-01T{et}Z",
        "gameDateTimeEst": f"{day}T{et}Z", "gameDateUTC": f"{tip_utc:%Y-%m-%d}T05:00:00Z",
        "gameTimeUTC": f"1900-01-01T{tip_utc:%H:%M:%S}Z", "gameDateTimeUTC": f"{tip_utc:%Y-%m-%dT%H:%M:%S}Z",
        "awayTeamTime": f"{day}T{et}Z", "homeTeamTime": f"{day}T{et}Z",
        "day": f"{tip_et:%a}", "monthNum": tip_et.month, "weekNumber": 7, "weekName": "Week 7",
        "ifNecessary": False, "seriesGameNumber": "", "gameLabel": label, "gameSubLabel": sub,
        "seriesText": "", "arenaName": name, "arenaState": state, "arenaCity": city,
        "postponedStatus": "A", "branchLink": "", "gameSubtype": "in-season-knockout" if label else "",
        "isNeutral": neutral,
        "homeTeam": _side(home, score[0] if score else None, 12, 8),
        "awayTeam": _side(away, score[1] if score else None, 11, 9),
        "pointsLeaders": [],
        "broadcasters": {k: [] for k in _NO_BROADCASTERS},
    }  # fmt: skip


def schedule_recording() -> dict:
    cup = "Emirates NBA Cup"
    vegas = ("T-Mobile Arena", "Las Vegas", "NV")
    days = {
        "2026-09-30": [_game("0012600001", "2026-09-30", "19:00:00", "BOS", "PHI", 3, score=(110, 104))],
        "2026-12-01": [
            _game("0022600301", "2026-12-01", "19:30:00", "NYK", "BOS", 3, score=(108, 112)),
            _game("0022600302", "2026-12-01", "22:00:00", "LAL", "GSW", 3, score=(121, 117)),
        ],
        "2026-12-02": [
            _game("0022600310", "2026-12-02", "19:00:00", "MIL", "MIA", 2, score=(71, 66)),
            _game("0022600311", "2026-12-02", "22:30:00", "DEN", "LAL", 1),
        ],
        "2026-12-04": [
            _game("0022600325", "2026-12-04", "19:30:00", "BOS", "NYK", 1),
            _game("0022600326", "2026-12-04", "20:00:00", "MIA", "PHI", 1),
        ],
        "2026-12-09": [
            _game("0062600001", "2026-12-09", "19:30:00", None, None, 1, label=cup, sub="Quarterfinal"),
        ],
        "2026-12-16": [
            _game(
                "0062600005",
                "2026-12-16",
                "20:30:00",
                "GSW",
                "MIL",
                1,
                label=cup,
                sub="Championship",
                neutral=True,
                arena=vegas,
            ),
        ],
        "2026-12-25": [
            _game("0022600400", "2026-12-25", "12:00:00", "NYK", "BOS", 1),
            _game("0022600401", "2026-12-25", "17:00:00", "GSW", "LAL", 1),
        ],
        "2027-01-14": [_game("0022600620", "2027-01-14", "19:30:00", "BOS", "NYK", 1)],
        "2027-01-22": [
            _game(
                "0022600680",
                "2027-01-22",
                "14:00:00",
                "DEN",
                "MIL",
                1,
                neutral=True,
                arena=("Accor Arena", "Paris", ""),
            ),
        ],
    }
    dates = [
        {"gameDate": f"{d[5:7]}/{d[8:10]}/{d[:4]} 00:00:00", "games": games} for d, games in days.items()
    ]
    weeks = [{"weekNumber": 7, "weekName": "Week 7", "startDate": "2026-11-30T00:00:00Z",
              "endDate": "2026-12-06T00:00:00Z"}]  # fmt: skip
    return {
        "meta": {"version": 1, "request": "http://nba.cloud/league/00/2026-27/scheduleleaguev2?Format=json",
                 "time": "2026-12-02T17:00:00.000Z"},
        "leagueSchedule": {"seasonYear": "2026-27", "leagueId": "00", "gameDates": dates, "weeks": weeks},
    }  # fmt: skip


if __name__ == "__main__":
    (HERE / "leaguegamelog_team_2022-23.json").write_text(json.dumps(team_recording(), indent=1) + "\n")
    (HERE / "leaguegamelog_player_2022-23.json").write_text(json.dumps(player_recording(), indent=1) + "\n")
    (HERE / "scheduleleaguev2_2026-27.json").write_text(json.dumps(schedule_recording(), indent=1) + "\n")
    for moment, answers in roster_recordings().items():
        (HERE / f"commonteamroster_2022-23_{moment}.json").write_text(json.dumps(answers, indent=1) + "\n")
