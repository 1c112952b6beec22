"""Player queries checked against facts computed from the raw Basketball-Reference CSV."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nbamcp.data.queries import (
    compare_players,
    find_player,
    league_leaders,
    player_career,
    player_season_stats,
    resolve_player,
)
from nbamcp.data.store import Store
from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from tests.data import raw


def season_rows(data: Path, season_type: str = "regular") -> list[dict[str, str]]:
    """One row per player-season: TOT when traded, else the single team row (no double counting)."""
    rows = raw.players(data, "totals", season_type)
    traded = {(r["Pk"], r["Year"]) for r in rows if r["Tm"] == "TOT"}
    return [r for r in rows if r["Tm"] == "TOT" or (r["Pk"], r["Year"]) not in traded]


@pytest.mark.parametrize(
    ("query", "pid"),
    [("lebron", "jamesle01"), ("jokic", "jokicni01"), ("jokič", "jokicni01"), ("giannis", "antetgi01"),
     ("LEBRON JAMES", "jamesle01"), ("lebron jmaes", "jamesle01"), ("Michael Jordan*", "jordami01")],
)  # fmt: skip
async def test_find_player_is_case_accent_and_typo_tolerant(store: Store, query: str, pid: str) -> None:
    found = await find_player(store, query)
    assert found.matches[0].player_id == pid
    assert (await resolve_player(store, query)).player_id == pid


async def test_hall_of_fame_star_is_a_flag(store: Store) -> None:
    mj = (await find_player(store, "michael jordan", limit=1)).matches[0]
    assert (mj.name, mj.hall_of_fame) == ("Michael Jordan", True)
    assert (await find_player(store, "lebron", limit=1)).matches[0].hall_of_fame is False


async def test_ambiguous_and_unknown_players(store: Store) -> None:
    with pytest.raises(Ambiguous) as exc:
        await resolve_player(store, "jordan")
    assert "jordami01" in exc.value.details["candidates"] and "Michael Jordan" in str(exc.value)
    with pytest.raises(NotFound, match="closest"):
        await resolve_player(store, "xqzzy wvvk")
    with pytest.raises(NotFound):
        await find_player(store, "xqzzy wvvk")
    for limit in (0, 101):
        with pytest.raises(InvalidInput, match="1 to 100"):
            await find_player(store, "james", limit=limit)
    assert len((await find_player(store, "james", limit=5)).matches) == 5


async def test_jordan_1996_per_game_total_and_per36(store: Store, data_dir: Path) -> None:
    r = next(
        r
        for r in raw.players(data_dir, "totals", "regular")
        if r["Pk"] == "jordami01" and r["Year"] == "1996"
    )
    g, pts, mp = int(r["G"]), int(r["PTS"]), int(r["MP"])
    game = await player_season_stats(store, "Michael Jordan", 1996)
    assert game.total.pts == round(pts / g, 1) == 30.4
    assert (game.total.team, game.traded, game.teams, game.season_label) == ("CHI", False, [], "1995-96")
    assert game.total.fg_pct == float(r["FG%"]) and game.raptor is not None
    total = await player_season_stats(store, "jordami01", "1995-96", per="total")
    assert total.total.pts == pts and total.total.min == mp
    per36 = await player_season_stats(store, "Michael Jordan", 1996, per="per36")
    assert per36.total.pts == round(pts * 36 / mp, 1)


async def test_traded_player_shows_tot_and_each_team(store: Store, data_dir: Path) -> None:
    rows = [
        r
        for r in raw.players(data_dir, "totals", "regular")
        if r["Pk"] == "achiupr01" and r["Year"] == "2024"
    ]
    tot = next(r for r in rows if r["Tm"] == "TOT")
    parts = [r for r in rows if r["Tm"] != "TOT"]
    out = await player_season_stats(store, "Precious Achiuwa", 2024, per="total")
    assert out.traded and out.total.team == "TOT" and out.total.franchise is None
    assert (out.total.gp, out.total.pts) == (int(tot["G"]), int(tot["PTS"]))
    assert [(t.team, t.gp, t.pts) for t in out.teams] == [
        (r["Tm"], int(r["G"]), int(r["PTS"])) for r in parts
    ]
    assert sum(t.pts for t in out.teams) == out.total.pts
    assert out.teams[0].team_name == "Toronto Raptors"


async def test_latest_season_and_bad_arguments(store: Store) -> None:
    latest = await player_season_stats(store, "LeBron James")
    assert latest.season == 2024 and latest.seasons_available[0] == 2004
    with pytest.raises(InvalidInput, match="seasons with stats: 2004-2024"):
        await player_season_stats(store, "LeBron James", 1999)
    with pytest.raises(InvalidInput, match="per must be one of"):
        await player_season_stats(store, "LeBron James", per="minute")
    with pytest.raises(InvalidInput, match="season_type"):
        await player_season_stats(store, "LeBron James", season_type="preseason")
    with pytest.raises(InvalidInput, match="2022-23"):
        await player_season_stats(store, "LeBron James", season="last year")


async def test_career_counts_a_traded_season_once(store: Store, data_dir: Path) -> None:
    mine = [r for r in season_rows(data_dir) if r["Pk"] == "achiupr01"]
    career = await player_career(store, "Precious Achiuwa")
    assert [s.season for s in career.seasons] == [
        int(r["Year"]) for r in sorted(mine, key=lambda r: r["Year"])
    ]
    assert career.totals.pts == sum(int(r["PTS"]) for r in mine)
    assert career.totals.gp == sum(int(r["G"]) for r in mine)
    all_rows = [r for r in raw.players(data_dir, "totals", "regular") if r["Pk"] == "achiupr01"]
    assert career.totals.pts < sum(int(r["PTS"]) for r in all_rows)  # naive sum double counts
    mj = await player_career(store, "Michael Jordan")
    assert len(mj.seasons) == 10 and "1990" in mj.coverage
    assert mj.per_game.pts == round(mj.totals.pts / mj.totals.gp, 1)
    playoffs = await player_career(store, "Michael Jordan", season_type="playoffs")
    assert playoffs.season_type == "playoffs" and len(playoffs.seasons) == 8


async def test_compare_players(store: Store, data_dir: Path) -> None:
    rows = {r["Pk"]: r for r in season_rows(data_dir) if r["Year"] == "2016"}
    out = await compare_players(
        store, ["Stephen Curry", "Kevin Durant"], season=2016, stats=["pts", "ast", "tov"]
    )
    curry, kd = rows["curryst01"], rows["duranke01"]
    assert out.players[0].values["pts"] == round(int(curry["PTS"]) / int(curry["G"]), 1)
    assert out.players[1].values["pts"] == round(int(kd["PTS"]) / int(kd["G"]), 1)
    assert out.best["pts"] == "curryst01" and out.stats == ["pts", "ast", "tov"]
    lower_tov = min(out.players, key=lambda p: p.values["tov"]).player_id
    assert out.best["tov"] == lower_tov
    career = await compare_players(store, ["LeBron James", "Michael Jordan"])
    assert career.season is None and career.players[0].label.startswith("career")
    assert career.players[1].values["per"] is not None
    with pytest.raises(InvalidInput, match="accepted: gp"):
        await compare_players(store, ["LeBron James", "Michael Jordan"], stats=["points"])
    with pytest.raises(InvalidInput, match="2 to 5"):
        await compare_players(store, ["LeBron James"])
    with pytest.raises(InvalidInput, match="already in the comparison"):
        await compare_players(store, ["LeBron James", "jamesle01"])
    with pytest.raises(InvalidInput, match="no regular-season stats for 1996"):
        await compare_players(store, ["LeBron James", "Michael Jordan"], season=1996)


def _leaders_from_raw(data: Path, season: int, stat: str, min_games: int, k: int = 5) -> list[str]:
    rows = [r for r in season_rows(data) if r["Year"] == str(season) and int(r["G"]) >= min_games]
    rows.sort(key=lambda r: -int(r[stat]) / int(r["G"]))
    return [r["Pk"] for r in rows[:k]]


async def test_league_leaders_use_the_qualifying_minimum(store: Store, data_dir: Path) -> None:
    out = await league_leaders(store, "pts", 1996, limit=5)
    assert [x.player_id for x in out.leaders] == _leaders_from_raw(data_dir, 1996, "PTS", 58)
    assert out.leaders[0].value == 30.4 and "58 games" in out.qualification
    short = await league_leaders(store, "ast", 2012, limit=5)
    need = math.ceil(0.7 * 66)
    assert f"{need} games" in short.qualification
    assert [x.player_id for x in short.leaders] == _leaders_from_raw(data_dir, 2012, "AST", need)
    threes = await league_leaders(store, "fg3_pct", 2016, limit=3)
    qualified = [r for r in season_rows(data_dir) if r["Year"] == "2016" and int(r["3P"]) >= 82]
    best = max(qualified, key=lambda r: float(r["3P%"]))
    assert threes.leaders[0].player_id == best["Pk"] and threes.per == "n/a"
    totals = await league_leaders(store, "pts", 2016, per="total", limit=1)
    assert "no minimum" in totals.qualification
    po = await league_leaders(store, "pts", 2016, season_type="playoffs", limit=3)
    assert "at least 12 games" in po.qualification


async def test_league_leaders_bad_arguments(store: Store) -> None:
    with pytest.raises(InvalidInput, match="accepted: gp, gs, min, pts"):
        await league_leaders(store, "points", 2016)
    with pytest.raises(InvalidInput, match="seasons 1990-2024"):
        await league_leaders(store, "pts", 1980)
    with pytest.raises(InvalidInput, match="1 to 100"):
        await league_leaders(store, "pts", 2016, limit=500)


async def test_wrong_types_are_clear_errors(store: Store) -> None:
    from nbamcp.data.queries import games, standings, team_season

    cases = [
        find_player(store, None),  # type: ignore[arg-type]
        resolve_player(store, 42),  # type: ignore[arg-type]
        player_season_stats(store, "LeBron James", season=2016.5),  # type: ignore[arg-type]
        team_season(store, None, 2016),  # type: ignore[arg-type]
        standings(store, 2016, conference=5),  # type: ignore[arg-type]
        games(store, limit=True),
        compare_players(store, "lebron"),  # type: ignore[arg-type]
        league_leaders(store, None, 2016),  # type: ignore[arg-type]
    ]
    for coro in cases:
        with pytest.raises(InvalidInput):
            await coro
