"""Team and game queries, computed from games and checked against the raw 538 file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbamcp.data.charts import CHART_POINTS
from nbamcp.data.queries import (
    RatingMethod,
    games,
    head_to_head,
    latest_quality_report,
    standings,
    team_rating_history,
    team_season,
)
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.ml.ratings import RATING_METHOD, rating_series
from tests.data import raw

LAKERS = {"LAL", "MNL"}
ELO = RatingMethod(rating_series, RATING_METHOD)


async def test_2016_warriors_73_9_and_the_finals(store: Store, data_dir: Path) -> None:
    gsw = await team_season(store, "Warriors", 2016)
    assert (gsw.wins, gsw.losses) == raw.team_record(data_dir, {"GSW"}, 2016) == (73, 9)
    assert (gsw.home.wins, gsw.home.losses, gsw.away.wins, gsw.away.losses) == (39, 2, 34, 7)
    assert (gsw.conference, gsw.division, gsw.name) == ("West", "Pacific", "Golden State Warriors")
    run = gsw.playoffs
    assert [s.opponent for s in run.series] == ["HOU", "POR", "OKC", "CLE"]
    assert run.series[-1].round_name == "Finals" and (run.series[-1].wins, run.series[-1].losses) == (3, 4)
    assert not run.champion and run.series_won == 3 and "lost in the Finals" in run.result
    cle = await team_season(store, "CLE", 2016)
    assert cle.playoffs.champion and "champion" in cle.playoffs.result
    bulls = await team_season(store, "Chicago Bulls", 1996)
    assert (bulls.wins, bulls.losses, bulls.playoffs.champion) == (72, 10, True)
    assert (bulls.playoffs.wins, bulls.playoffs.losses) == (15, 3)


async def test_team_season_follows_the_franchise_and_states_gaps(store: Store, data_dir: Path) -> None:
    nola = await team_season(store, "Hornets", 2004)  # the New Orleans Hornets, franchise NOP
    assert nola.franchise == "NOP" and nola.name == "New Orleans Hornets"
    assert (nola.wins, nola.losses) == raw.team_record(data_dir, {"NOP"}, 2004)
    sonics = await team_season(store, "OKC", 1996)
    assert sonics.name == "Seattle SuperSonics" and (sonics.wins, sonics.losses) == (64, 18)
    den = await team_season(store, "Nuggets", 2023)
    assert not den.playoffs.champion and "Finals are not in the data" in den.playoffs.result
    assert any("Finals are not in the data" in n for n in den.notes)
    mia = await team_season(store, "Heat", 2023)
    assert [g.winner for g in mia.playin] == ["ATL", "MIA"]  # lost to ATL, then beat CHI
    covid = await team_season(store, "Bucks", 2020)
    assert covid.wins + covid.losses == 65 and "2020-03-11" in covid.notes[0]
    with pytest.raises(NotFound, match="1996-2023"):
        await team_season(store, "Raptors", 1990)
    with pytest.raises(InvalidInput, match="1947-2023"):
        await team_season(store, "Raptors", 2030)


async def test_standings_by_conference_and_league(store: Store) -> None:
    west = await standings(store, 2016, "west")
    rows = west.groups[0].rows
    assert west.conference == "West" and len(west.groups) == 1 and len(rows) == 15
    assert (rows[0].team, rows[0].wins, rows[1].team, rows[1].games_behind) == ("GSW", 73, "SAS", 6.0)
    both = await standings(store, "2015-16")
    assert [g.name for g in both.groups] == ["East", "West"] and sum(len(g.rows) for g in both.groups) == 30
    old = await standings(store, 1972)
    assert [g.name for g in old.groups] == ["NBA", "ABA"]
    with pytest.raises(InvalidInput, match="from 1990"):
        await standings(store, 1985, "East")
    with pytest.raises(InvalidInput, match="'East' or 'West'"):
        await standings(store, 2016, "North")


async def test_wins_from_games_match_basketball_reference(store: Store) -> None:
    """Every team season 1990-2023 (2020: the 538 file stops in March) has BR's W-L."""
    bref = {
        (r[0], r[1]): (r[2], r[3])
        for r in await store.fetchall("SELECT franchise_id, season, w, l FROM team_seasons_bref")
    }
    checked = 0
    for season in range(1990, 2024):
        if season == 2020:
            continue
        for group in (await standings(store, season)).groups:
            for row in group.rows:
                assert (row.wins, row.losses) == bref[(row.team, season)], (season, row.team)
                checked += 1
    assert checked > 950


async def test_games_filters_and_limits(store: Store, data_dir: Path) -> None:
    finals = await games(store, "Lakers", "Celtics", season_type="playoffs", limit=100)
    expected = [
        r for r in raw.games538(data_dir)
        if r["playoff"] == "1" and {r["team1"], r["team2"]} & LAKERS and "BOS" in (r["team1"], r["team2"])
    ]  # fmt: skip
    assert finals.total == len(expected) == len(finals.games)
    assert finals.games[0].date > finals.games[-1].date  # newest first
    gsw = await games(store, team="GSW", season=2016, season_type="regular", limit=100)
    assert gsw.total == 82 and len(gsw.games) == 82
    playin = await games(store, season=2023, season_type="playin")
    assert playin.total == 6 and all(g.playin for g in playin.games)
    window = await games(store, date_from="2016-06-01", date_to="2016-06-30")
    assert window.total == 7 and {g.home for g in window.games} == {"GSW", "CLE"}
    with pytest.raises(InvalidInput, match="after date_to"):
        await games(store, date_from="2016-07-01", date_to="2016-06-01")
    with pytest.raises(InvalidInput, match="opponent needs team"):
        await games(store, opponent="BOS")
    with pytest.raises(InvalidInput, match="1 to 100"):
        await games(store, limit=0)
    with pytest.raises(InvalidInput, match="season_type"):
        await games(store, season_type="preseason")
    with pytest.raises(InvalidInput, match="date like"):
        await games(store, date_from="June 1")


async def test_head_to_head_lakers_celtics(store: Store, data_dir: Path) -> None:
    h2h = await head_to_head(store, "Lakers", "Celtics")
    meetings = [
        r
        for r in raw.games538(data_dir)
        if {r["team1"], r["team2"]} & LAKERS and "BOS" in (r["team1"], r["team2"])
    ]
    lal_wins = sum(1 for r in meetings if (r["team1"] in LAKERS) == (int(r["score1"]) > int(r["score2"])))
    assert (h2h.games, h2h.a_wins, h2h.b_wins) == (len(meetings), lal_wins, len(meetings) - lal_wins)
    assert h2h.regular.wins + h2h.playoffs.wins == h2h.a_wins
    finals = {s.season: s.winner for s in h2h.playoff_series}
    assert finals[2008] == "BOS" and finals[2010] == "LAL" and finals[1959] == "BOS"
    assert len(h2h.recent) == 10 and h2h.recent[0].date == h2h.last_meeting
    span = await head_to_head(store, "LAL", "BOS", 2008, 2010)
    assert span.season_from == 2008 and all(2008 <= g.season <= 2010 for g in span.recent)
    with pytest.raises(InvalidInput, match="same franchise"):
        await head_to_head(store, "Nets", "BKN")
    with pytest.raises(InvalidInput, match="after season_to"):
        await head_to_head(store, "LAL", "BOS", 2010, 2008)


def _margin_elo(games_rows):
    """Simple margin Elo (test stand-in)."""

    class P:
        def __init__(self, g, team, after):
            self.team, self.date, self.season, self.game_id, self.rating_after = (
                team,
                g.date,
                g.season,
                g.game_id,
                after,
            )

    ratings: dict[str, float] = {}
    out = []
    for g in games_rows:
        h, a = ratings.get(g.home, 1500.0), ratings.get(g.away, 1500.0)
        shift = 0.5 * (g.home_pts - g.away_pts)
        ratings[g.home], ratings[g.away] = h + shift, a - shift
        out += [P(g, g.home, h + shift), P(g, g.away, a - shift)]
    return out


async def test_team_rating_history_and_chart(store: Store, data_dir: Path) -> None:
    n_games = sum(
        1
        for r in raw.games538(data_dir)
        if r["season"] in ("2015", "2016") and "GSW" in (r["team1"], r["team2"])
    )
    hist = await team_rating_history(store, "Warriors", 2015, 2016, rating=ELO)
    assert hist.games == n_games == sum(s.games for s in hist.seasons)
    assert [s.season for s in hist.seasons] == [2015, 2016]
    assert hist.seasons[1].high > 1700 and "Elo" in hist.method
    # The points are a chart's share of the games: real ones, in order, first and last kept.
    assert len(hist.points) == CHART_POINTS < n_games
    dates = [p.date for p in hist.points]
    assert dates == sorted(dates) and len({p.game_id for p in hist.points}) == CHART_POINTS
    assert hist.points[-1].rating == hist.seasons[-1].end
    assert max(p.rating for p in hist.points) == hist.seasons[1].high
    simple = await team_rating_history(
        store, "GSW", 2016, 2016, rating=RatingMethod(_margin_elo, "Simple margin Elo (test stand-in).")
    )
    assert simple.method == "Simple margin Elo (test stand-in)." and simple.games == hist.seasons[1].games
    with pytest.raises(InvalidInput, match="after season_to"):
        await team_rating_history(store, "GSW", 2016, 2015, rating=ELO)


async def test_latest_quality_report(store: Store, empty_store: Store, full_ingest) -> None:
    q = await latest_quality_report(store)
    assert q.by_rule["zero_score"] >= 1
    with pytest.raises(NotFound, match="no ingest run"):
        await latest_quality_report(empty_store)
