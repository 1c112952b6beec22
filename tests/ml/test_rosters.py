"""Rosters as of a date and the strength they project: the proxy, trades, the Elo prior."""

from __future__ import annotations

import copy

import msgspec
import pytest

from nbamcp.data.players import PlayerSeason
from nbamcp.errors import InvalidInput
from nbamcp.messages import RosterPriors, TeamPrior
from nbamcp.ml.players import season_lines
from nbamcp.ml.projections import Projection, ProjectionParams, SeasonProjections
from nbamcp.ml.rosters import (
    SEASON_START,
    RosterBook,
    RosterParams,
    RosterSnapshot,
    build_roster_book,
    previous_season_rosters,
    season_table_rosters,
    team_strength,
)


def projections(season: int, ratings: dict[str, tuple[float, float]]) -> SeasonProjections:
    players = {pid: Projection(rating=r, minutes=m, seasons=1) for pid, (r, m) in ratings.items()}
    return SeasonProjections(season, players, Projection(-2.0, 700.0, 0), (), ProjectionParams())


def test_strength_is_five_times_the_minutes_weighted_rating() -> None:
    full = ProjectionParams().team_minutes
    proj = projections(2020, {"star": (8.0, 3000.0), "bench": (-1.0, 2000.0)})
    # 5000 projected minutes of 19,680: the rest is played at replacement level (-2).
    expected = 5 * (8.0 * 3000 - 1.0 * 2000 - 2.0 * (full - 5000)) / full
    assert team_strength(["star", "bench"], proj) == pytest.approx(expected)
    assert team_strength(["star", "bench", "star"], proj) == pytest.approx(expected)  # no double count
    # More projected minutes than a season has: a weighted mean, scaled to the floor.
    deep = projections(2020, {f"p{i}": (1.0 + i, 3000.0) for i in range(8)})
    assert team_strength(list(deep.players), deep) == pytest.approx(5 * 4.5)
    # An unknown player is the no-history prior.
    assert team_strength(["nobody"], proj) == pytest.approx(5 * (-2.0 * 700 - 2.0 * (full - 700)) / full)


def test_season_table_proxy_puts_a_traded_player_on_his_first_team(all_players: list[PlayerSeason]) -> None:
    lines = season_lines(all_players)
    snaps = {(s.team, s.season): s for s in season_table_rosters({2021: lines[2021]})}
    # James Harden, 2020-21: 8 games for Houston, then Brooklyn. The proxy has him in Houston.
    assert "hardeja01" in snaps[("HOU", 2021)].players
    assert "hardeja01" not in snaps[("BKN", 2021)].players
    assert all(s.as_of == SEASON_START and s.source == "season-table" for s in snaps.values())
    assert len(snaps) == 30
    # The previous-season rosters for 2022 have him where 2021 ended: Brooklyn.
    prev = {s.team: s for s in previous_season_rosters(lines, 2022)}
    assert "hardeja01" in prev["BKN"].players and prev["BKN"].source == "previous-season"


def test_a_trade_moves_strength_from_its_date_on_never_before() -> None:
    proj = {2020: projections(2020, {"star": (8.0, 3000.0), "a": (0.0, 2000.0), "b": (0.0, 2000.0)})}
    book = RosterBook(
        proj,
        [
            RosterSnapshot("AAA", 2020, SEASON_START, ("star", "a")),
            RosterSnapshot("BBB", 2020, SEASON_START, ("b",)),
        ],
    )
    before = {t: book.strength(t, 2020, "2020-02-01") for t in ("AAA", "BBB")}
    book.add(RosterSnapshot("AAA", 2020, "2020-02-06", ("a",), source="nba_api"))
    book.add(RosterSnapshot("BBB", 2020, "2020-02-06", ("b", "star"), source="nba_api"))
    for day in ("2019-10-22", "2020-02-01", "2020-02-05"):
        assert {t: book.strength(t, 2020, day) for t in ("AAA", "BBB")} == before
    assert book.strength("AAA", 2020, "2020-02-06") < before["AAA"]
    assert book.strength("BBB", 2020, "2020-03-01") > before["BBB"]
    assert book.snapshot("AAA", 2020, "2020-02-06").players == ("a",)
    # The same date again replaces that snapshot; nothing known for other seasons or teams.
    book.add(RosterSnapshot("AAA", 2020, "2020-02-06", ("a", "star"), source="nba_api"))
    assert book.strength("AAA", 2020, "2020-02-06") == pytest.approx(before["AAA"])
    assert book.strength("AAA", 2021, "2021-01-01") is None
    assert book.strength("CCC", 2020, "2020-01-01") is None


def test_elo_prior_is_relative_to_the_league(roster_book: RosterBook) -> None:
    mean = roster_book.league_mean(2017)
    assert mean is not None and -5.0 < mean < 0.0  # projections regress toward replacement
    gsw = roster_book.elo_prior("GSW", 2017, "2016-10-25")
    assert gsw == pytest.approx(30.0 * (roster_book.strength("GSW", 2017, "") - mean))
    assert gsw > 150  # Durant arrived
    teams = {t.team for t in roster_book.season_priors(2017).teams}
    assert len(teams) == 30
    priors = [roster_book.elo_prior(t, 2017, "") for t in teams]
    assert abs(sum(p for p in priors if p is not None) / len(priors)) < 30


def test_build_roster_book(all_players: list[PlayerSeason]) -> None:
    book = build_roster_book(all_players, through=2019)
    lines = season_lines(all_players)
    # Rosters from the table's first season, projections from the one after, through the season after.
    assert book.seasons() == list(range(min(lines), max(lines) + 2))
    assert sorted(book.projections) == list(range(min(lines) + 1, max(lines) + 2))
    # Seasons after ``through`` and the season after the data: last season's rosters.
    assert book.snapshot("BOS", 2020, "").source == "previous-season"
    assert book.snapshot("BOS", max(lines) + 1, "").source == "previous-season"
    assert book.snapshot("BOS", 2019, "").source == "season-table"
    # The first season of the table has a roster but nothing to project it from.
    assert book.strength("BOS", min(lines), "") is None
    a, b = build_roster_book(all_players).data_hash("x"), book.data_hash("x")
    assert a != b and a == build_roster_book(all_players).data_hash("x")
    with pytest.raises(InvalidInput, match="roster proxy"):
        build_roster_book(all_players, proxy="gossip")


def test_published_priors_rebuild_the_same_book(roster_book: RosterBook) -> None:
    traded = copy.deepcopy(roster_book)
    traded.add(RosterSnapshot("NYK", 2011, "2011-02-22", ("anthoca01",), source="nba_api"))
    wire = [msgspec.msgpack.decode(msgspec.msgpack.encode(p), type=RosterPriors) for p in traded.priors()]
    copy_ = RosterBook.from_priors(wire)
    assert copy_.seasons() == traded.seasons()
    for team, season, day in (("NYK", 2011, "2011-02-21"), ("NYK", 2011, "2011-02-22"), ("GSW", 2017, ""),
                              ("BOS", 1990, ""), ("SAC", 2024, "2024-01-01")):  # fmt: skip
        assert copy_.strength(team, season, day) == traded.strength(team, season, day)
        assert copy_.elo_prior(team, season, day) == traded.elo_prior(team, season, day)
        assert copy_.previous_roster_strength(team, season) == traded.previous_roster_strength(team, season)
        assert copy_.source(team, season, day) == traded.source(team, season, day)
    assert copy_.snapshot("NYK", 2011, "2011-03-01") is None  # strengths travel, not players
    assert copy_.data_hash("g") == traded.data_hash("g") != roster_book.data_hash("g")
    # A season published again replaces that season only.
    later = msgspec.structs.replace(wire[-1], teams=[TeamPrior("BOS", "", 9.0, "nba_api")])
    copy_.replace_season(later)
    assert copy_.strength("BOS", later.season, "") == 9.0 and copy_.strength("LAL", later.season, "") is None
    assert copy_.strength("LAL", 2017, "") == traded.strength("LAL", 2017, "")
    with pytest.raises(InvalidInput, match="published priors"):
        copy_.add(RosterSnapshot("AAA", 2020, "", ("a",)))
    with pytest.raises(InvalidInput, match="takes rosters, not priors"):
        traded.replace_season(later)


def test_bad_snapshots_and_params() -> None:
    book = RosterBook({})
    with pytest.raises(InvalidInput, match="as_of"):
        book.add(RosterSnapshot("AAA", 2020, "yesterday", ("a",)))
    with pytest.raises(InvalidInput, match="source"):
        book.add(RosterSnapshot("AAA", 2020, "2020-01-01", ("a",), source="rumour"))
    with pytest.raises(InvalidInput, match="elo_share"):
        RosterBook({}, params=RosterParams(elo_share=1.5))
