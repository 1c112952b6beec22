"""What the queries keep per version of the data (``Store.kept``): bounded, and gone after an ingest."""

from __future__ import annotations

import csv
import importlib
import shutil
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from nbamcp import endpoints as ep
from nbamcp.actor import open_context
from nbamcp.bus import InMemoryBus
from nbamcp.calls import call
from nbamcp.config import Config, PathsConfig, StatsConfig
from nbamcp.data.queries import leaders, players, teams
from nbamcp.data.store import Store
from nbamcp.log import new_request_id
from nbamcp.messages import IngestRequest, LeagueLeadersRequest, TeamRatingHistoryRequest
from workers.stats import StatsWorker

# (The package exports the games query under the module's name.)
gq = importlib.import_module("nbamcp.data.queries.games")


async def test_kept_is_bounded_least_recently_used_out_first(empty_store: Store) -> None:
    runs: list[int] = []

    async def compute(k: int) -> int:
        runs.append(k)
        return k * 10

    async def get(k: int) -> int:
        return await empty_store.kept("t", k, lambda: compute(k), max_entries=2)

    assert [await get(1), await get(2), await get(1)] == [10, 20, 10]
    assert runs == [1, 2]
    await get(3)  # 2 is the least recently used: out
    assert len(empty_store.cache["kept:t"]) == 2
    await get(1)
    await get(2)
    assert runs == [1, 2, 3, 2]


async def test_kept_starts_afresh_on_new_data_and_keeps_nothing_computed_across_it(
    empty_store: Store,
) -> None:
    runs = 0

    async def compute() -> int:
        nonlocal runs
        runs += 1
        if runs == 2:
            empty_store.bump()  # an ingest lands while this one computes
        return runs

    async def get() -> int:
        return await empty_store.kept("t", "k", compute, max_entries=4)

    assert await get() == 1 and await get() == 1
    empty_store.bump()
    assert await get() == 2  # computed afresh, while the data changed again: not kept
    assert await get() == 3 and await get() == 3
    assert await empty_store.kept("off", "k", compute, max_entries=0) == 4
    assert "kept:off" not in empty_store.cache or not empty_store.cache["kept:off"]


def _embiid_games(path: Path, data_dir: Path, games: int) -> Path:
    """The 2023 regular-season totals file cut to Joel Embiid's row, with ``games`` games (all starts)."""
    src = data_dir / "players" / "player_totals_regular_1990_2024.csv"
    with src.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    year, who = header.index("Year"), header.index("Pk")
    row = next(r for r in body if r[who] == "embiijo01" and r[year] == "2023")
    row[header.index("G")] = row[header.index("GS")] = str(games)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, row])
    return path


@pytest.mark.parametrize("answers", [2048, 0], ids=["answer-cache", "answer-cache-off"])
async def test_league_leaders_follow_an_ingest_of_new_player_totals(
    tmp_path: Path, ingested_store: Path, data_dir: Path, answers: int
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ingested_store, home / "store.sqlite")
    config = Config(
        paths=PathsConfig(home=str(home), data_dir=str(data_dir)),
        stats=StatsConfig(auto_ingest=False, answer_cache_entries=answers),
    )
    bus = InMemoryBus()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(bus.close)
        worker = StatsWorker(await stack.enter_async_context(open_context(bus, config)))
        with anyio.fail_after(60):
            await worker.start()
        stack.push_async_callback(worker.stop, 5.0)

        async def ask(endpoint: Any, request: msgspec.Struct) -> Any:
            with anyio.fail_after(60):
                return await call(bus, endpoint, request, timeout_s=60, request_id=new_request_id())

        pts = LeagueLeadersRequest(stat="pts", season=2023, limit=3)
        before = await ask(ep.LEAGUE_LEADERS, pts)
        assert before.leaders[0].player_id == "embiijo01"  # 33.1 a game
        # Another stat of the same season ranks from the season's table kept by the first.
        ast = await ask(ep.LEAGUE_LEADERS, LeagueLeadersRequest(stat="ast", season=2023, limit=3))
        assert ast.leaders[0].value > 9
        assert len(worker.store.cache["kept:leader_seasons"]) == 1
        assert await ask(ep.LEAGUE_LEADERS, pts) == before
        # A rating chart is drawn once per range and version of the data.
        chart = TeamRatingHistoryRequest(team="BKN", season_from=2019, season_to=2023, chart=True)
        drawn = await ask(ep.TEAM_RATING_HISTORY, chart)
        assert drawn.png.startswith(b"\x89PNG") and await ask(ep.TEAM_RATING_HISTORY, chart) == drawn
        assert list(worker.store.cache["kept:rating_charts"]) == [("BKN", 2019, 2023, drawn.history.method)]

        # 40 games, short of the 58 a scoring title needs (70% of 82): no longer a leader.
        fixed = _embiid_games(home / "fix" / "player_totals_regular_1990_2024.csv", data_dir, 40)
        reply = await ask(ep.INGEST, IngestRequest(paths=[str(fixed)]))
        assert reply.report.updated == 1, reply.report.summary
        assert not [k for k in worker.store.cache if k.startswith("kept:")]  # all of it, not just one
        after = await ask(ep.LEAGUE_LEADERS, pts)
        assert after.leaders[0].player_id != "embiijo01"
        assert "embiijo01" not in [x.player_id for x in after.leaders]
        assert after.leaders[0].value == before.leaders[1].value  # the runner-up leads now


async def test_the_season_tables_kept_are_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leaders, "SEASONS_KEPT", 3)
    for season in range(2015, 2024):
        await leaders.league_leaders(store, "pts", season)
    kept = store.cache["kept:leader_seasons"]
    assert list(kept) == [(2021, "regular"), (2022, "regular"), (2023, "regular")]


async def test_the_player_rows_kept_are_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(players, "PLAYERS_KEPT", 2)
    first = await players.player_career(store, "Tim Duncan")
    for name in ("Tim Duncan", "LeBron James", "Stephen Curry"):
        await players.player_season_stats(store, name)
    kept = store.cache["kept:player_rows"]
    assert list(kept) == [("jamesle01", "regular"), ("curryst01", "regular")]
    assert await players.player_career(store, "Tim Duncan") == first  # read again, the same


async def test_a_team_season_is_the_same_from_its_games_and_from_the_kept_standings(store: Store) -> None:
    alone = await teams.team_season(store, "Warriors", 2016)
    assert store.peek("season_records", 2016) is None  # one team's games, not the season's
    assert store.peek("team_records", (2016, "GSW")) is not None
    await teams.standings(store, 2016)
    assert store.peek("season_records", 2016) is not None
    assert await teams.team_season(store, "Warriors", 2016) == alone
    assert (alone.wins, alone.losses) == (73, 9)


async def _games_by_sql(store: Store, team: str, season: int, opponent: str | None, d_from: str | None,
                        d_to: str | None, season_type: str, limit: int) -> tuple[int, list[Any]]:  # fmt: skip
    """What games answered from SQL before it kept a team's season: a count and a page."""
    where, args = ["season = ?"], [season, team, team]
    where.append("(home = ? OR away = ?)")
    if opponent is not None:
        where.append("(home = ? OR away = ?)")
        args += [opponent, opponent]
    for cond, value in (("date >= ?", d_from), ("date <= ?", d_to)):
        if value is not None:
            where.append(cond)
            args.append(value)
    cond, _ = gq.type_filter(season_type)
    if cond:
        where.append(cond)
    sql = " WHERE " + " AND ".join(where)
    total = await store.fetchone(f"SELECT COUNT(*) FROM games{sql}", args)
    rows = await store.fetchall(
        f"SELECT {gq._COLS} FROM games{sql} ORDER BY date DESC, game_id DESC LIMIT ?", [*args, limit]
    )
    assert total is not None
    return total[0], [gq.game_out(r) for r in rows]


async def test_a_team_season_of_games_is_the_same_kept_as_from_sql(store: Store) -> None:
    """Every filter on a kept team season (opponent, dates, type, limit) gives SQL's count and page."""
    cases = [("BOS", 2023, "LAL"), ("BOS", 2023, "MIA"), ("GSW", 2016, "CLE"), ("LAL", 1985, "BOS"),
             ("MIA", 2020, None), ("NYK", 1950, None), ("SAS", 2014, "MIA"), ("DEN", 2023, None)]  # fmt: skip
    dates = [(None, None), ("2023-01-01", None), (None, "2023-04-09"), ("2023-04-10", "2023-06-30"),
             ("2016-05-01", "2016-06-30"), ("2020-08-15", "2020-10-15")]  # fmt: skip
    for team, season, opponent in cases:
        for other in (None, opponent):
            for d_from, d_to in dates:
                for season_type in gq.GAME_TYPES:
                    for limit in (1, 10, 100):
                        got = await gq.games(store, team, other, season, d_from, d_to, season_type, limit)
                        asked = (team, season, other, d_from, d_to, season_type, limit)
                        total, page = await _games_by_sql(store, *asked)
                        assert (got.total, got.games) == (total, page), (
                            team,
                            other,
                            season,
                            d_from,
                            season_type,
                        )
    assert len(store.cache["kept:team_games"]) == len({(t, s) for t, s, _ in cases})


async def test_the_team_seasons_of_games_kept_are_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gq, "TEAM_SEASONS_KEPT", 2)
    for season in (2021, 2022, 2023):
        await gq.games(store, "BOS", season=season, limit=5)
    assert list(store.cache["kept:team_games"]) == [("BOS", 2022), ("BOS", 2023)]
    store.bump()
    assert "kept:team_games" not in store.cache


async def test_the_franchise_names_of_a_season_are_a_bounded_look_up(store: Store) -> None:
    gq._name_in.cache_clear()
    for season in range(1947, 2024, 4):
        await gq.games(store, "BOS", season=season, limit=100)
    info = gq._name_in.cache_info()
    assert info.maxsize == 4096 and 0 < info.currsize <= info.maxsize
    assert (gq._name_in("BKN", 1970), gq._name_in("BKN", 2023)) == ("New York Nets", "Brooklyn Nets")
