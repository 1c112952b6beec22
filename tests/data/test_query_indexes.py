"""The fast paths of the stats queries give the answers of the plain ways they replace."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from nbamcp.data.franchises import normalize
from nbamcp.data.queries import find_player, standings
from nbamcp.data.queries.player_lookup import player_index as _index
from nbamcp.data.store import Store

QUERIES = ["jokic", "giannis", "lebron jmaes", "tim duncan", "james", "shaq", "kobe bryant", "mcgrady", "zzz"]


def _brute(query: str, entries: list) -> list[tuple[float, str]]:
    """Every name scored one by one, the way the lookup was first written."""
    q = normalize(query)
    tokens = frozenset(q.split())
    out = []
    for e in entries:
        if q == e.norm:
            s = 100.0
        elif tokens <= frozenset(e.norm.split()):
            s = 96.0
        else:
            s = (fuzz.WRatio(q, e.norm) + fuzz.token_sort_ratio(q, e.norm)) / 2.0
        out.append((s, -((e.last or 0) - (e.first or 0)), e.name, e.player_id))
    out.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [(round(s, 1), pid) for s, _, _, pid in out]


@pytest.mark.parametrize("limit", [1, 5, 25])
async def test_find_player_ranks_like_scoring_every_name(store: Store, limit: int) -> None:
    idx = await _index(store)
    for query in QUERIES:
        want = [m for m in _brute(query, idx.entries)[:limit] if m[0] >= 60.0]
        if not want:
            continue
        got = (await find_player(store, query, limit=limit)).matches
        assert [(m.score, m.player_id) for m in got] == want, query


async def test_matchup_index_serves_head_to_head(store: Store) -> None:
    plan = await store.fetchall(
        "EXPLAIN QUERY PLAN SELECT * FROM games WHERE ((home = ? AND away = ?) OR (home = ? AND away = ?)) "
        "AND season BETWEEN ? AND ?",
        ("BOS", "LAL", "LAL", "BOS", 1950, 2023),
    )
    assert any("games_matchup" in str(r[3]) for r in plan)


async def test_standings_records_match_the_games(store: Store) -> None:
    rows = await store.fetchall(
        "SELECT home, away, home_pts, away_pts FROM games WHERE season = 2016 AND season_type = 'regular'"
    )
    wins: dict[str, int] = {}
    for h, a, hp, ap in rows:
        winner = h if hp > ap else a
        wins[winner] = wins.get(winner, 0) + 1
    got = {r.team: r.wins for g in (await standings(store, 2016)).groups for r in g.rows}
    assert got == {t: wins.get(t, 0) for t in got} and len(got) == 30
