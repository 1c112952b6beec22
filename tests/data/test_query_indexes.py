"""The fast paths of the stats queries give the answers of the plain ways they replace."""

from __future__ import annotations

import collections
import random

import numpy
import pytest
from rapidfuzz import fuzz

from nbamcp.data.franchises import normalize
from nbamcp.data.queries import find_player, standings
from nbamcp.data.queries.player_lookup import _Letters
from nbamcp.data.queries.player_lookup import player_index as _index
from nbamcp.data.store import Store
from nbamcp.errors import NotFound

QUERIES = ["jokic", "giannis", "lebron jmaes", "tim duncan", "james", "shaq", "kobe bryant", "mcgrady", "zzz"]
# What people type for a player: names, last names, nicknames, typos, accents, initials, junk.
REAL_QUERIES = [
    "steph curry", "kd", "kevin durant", "dirk", "nowitzki", "wemby", "wembanyama", "luka doncic", "luka",
    "doncic", "chris paul", "cp3", "magic johnson", "larry bird", "bird", "kareem", "abdul jabbar", "hakeem",
    "olajuwon", "dwyane wade", "dwayne wade", "allen iverson", "iverson", "kyrie", "russell westbrook",
    "westbrok", "harden", "embiid", "joel embid", "anthony davis", "ad", "paul george", "kawhi",
    "kawhi leonard", "michael jordan", "jordan", "scottie pippen", "pipen", "dennis rodman", "yao ming",
    "ming", "manu ginobili", "ginobli", "tony parker", "vince carter", "t mac", "karl malone", "stockton",
    "charles barkley", "patrick ewing", "reggie miller", "ray allen", "kevin garnett", "garnet", "gasol",
    "jimmy butler", "devin booker", "tatum", "jaylen brown", "zion", "ja morant", "trae young", "dame",
    "damian lillard", "klay thompson", "draymond green", "Nikola Jokič", "jokić", "antetokounmpo",
    "greek freak", "bill russell", "wilt chamberlain", "oscar robertson", "jerry west", "derrick rose",
    "d rose", "blake griffin", "dwight howard", "steve nash", "jason kidd", "gary payton", "mutombo",
    "ben wallace", "rasheed wallace", "chauncey billups", "carmelo anthony", "melo", "lamarcus aldridge",
    "demar derozan", "shai gilgeous-alexander", "sga", "O'Neal", "shaquille oneal", "j.r. smith", "jr smith",
    "tim hardaway jr", "gary payton ii", "lebron james lebron", "smith smith", "a", "q", "3", "xqzzy wvvk",
]  # fmt: skip


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


BOUND_NAMES = ["Nikola Jokić", "Joe Kopicki", "Kareem Abdul-Jabbar", "Ron Lee", "Yao Ming",
               "Shaquille O'Neal", "Dikembe Mutombo", "Giannis Antetokounmpo", "Bo Outlaw"]  # fmt: skip


@pytest.mark.parametrize("limit", [1, 5, 25])
async def test_find_player_ranks_like_scoring_every_name(store: Store, limit: int) -> None:
    idx = await _index(store)
    for query in QUERIES:
        want = [m for m in _brute(query, idx.entries)[:limit] if m[0] >= 60.0]
        if not want:
            continue
        got = (await find_player(store, query, limit=limit)).matches
        assert [(m.score, m.player_id) for m in got] == want, query


async def test_candidates_give_the_answers_of_scoring_every_name(store: Store) -> None:
    """The letter bounds and the batched scan score a few dozen names, yet rank like all of them."""
    idx = await _index(store)
    for query in REAL_QUERIES:
        q = normalize(query)
        brute = _brute(query, idx.entries)
        for k in (1, 5, 10, 25):
            got = [(round(s, 1), e.player_id) for s, e in idx.top(q, k)]
            assert got == brute[:k], (query, k)
        best, tied = idx.best_and_tied(q, 2.0)
        assert round(best, 1) == brute[0][0], query
        assert [e.player_id for e in tied] == [pid for s, pid in brute if s >= round(best - 2.0, 1)], query


def test_letter_bound_is_above_wratio() -> None:
    """For names that share no word with the query and repeat none, WRatio never exceeds the bound."""
    names = [normalize(n) for n in BOUND_NAMES]
    letters = _Letters(names)
    rnd = random.Random(13)
    words = [w for n in names for w in n.split()]
    queries = [
        "".join(rnd.choice("abcdeijklmnoprstu ") for _ in range(rnd.randint(1, 32))) for _ in range(300)
    ]
    queries += [w[: rnd.randint(1, len(w))] + w[rnd.randint(0, len(w)) :] for w in words for _ in range(5)]
    checked = 0
    for query in (" ".join(q.split()) for q in queries):
        if not query or len(set(query.split())) < len(query.split()):
            continue
        bound = letters.wratio_bound(query)
        for i, name in enumerate(names):
            if set(query.split()) & set(name.split()):
                continue
            assert fuzz.WRatio(query, name) <= bound[i] + 1e-9, (query, name)
            checked += 1
    assert checked > 2000


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


def _typos(names: list[str], rnd: random.Random) -> list[str]:
    """Real names as people mistype them: a letter dropped, doubled or swapped, initials, one word."""
    out = []
    for name in names:
        n = name.lower()
        i = rnd.randrange(len(n))
        out += [
            n[:i] + n[i + 1 :],
            n[:i] + n[i] + n[i:],
            n[:i] + n[i + 1 : i + 2] + n[i : i + 1] + n[i + 2 :],
        ]
        words = n.split()
        out += [words[-1], " ".join(w[0] for w in words[:-1]) + " " + words[-1], words[0][:4]]
    return out


async def test_find_player_lists_like_scoring_every_name(store: Store) -> None:
    """Only the names that can reach the listing floor are bounded and scored, yet the listing
    (and, when nothing reaches it, the closest names) is what scoring every name gives."""
    idx = await _index(store)
    rnd = random.Random(7)
    sample = rnd.sample([e.name for e in idx.entries if any(ord(c) > 127 for c in e.name)], 10)
    sample += rnd.sample([e.name for e in idx.entries], 30)
    junk = ["".join(rnd.choice("abcdeijklmnoprstu ") for _ in range(rnd.randint(1, 40))) for _ in range(20)]
    hostile = [
        "a" * 5000,
        "jokic " * 400,
        "x" * 31 + "é",
        "Ω" * 50 + " james",
        "lebron" + " " * 300 + "james",
    ]
    queries = REAL_QUERIES + QUERIES + sample + _typos(sample[:15], rnd) + junk + hostile
    for query in queries:
        if not normalize(query[:128])[:32].strip():
            continue
        brute = _brute(normalize(query[:128])[:32].strip(), idx.entries)
        for limit in (1, 5, 10, 25):
            want = [m for m in brute[:limit] if m[0] >= 60.0]
            try:
                got = [(m.score, m.player_id) for m in (await find_player(store, query, limit=limit)).matches]
            except NotFound as e:
                assert not want, (query, limit)
                assert e.details["closest"] == ",".join(pid for _, pid in brute[:5]), query
                continue
            assert got == want, (query, limit)


async def test_bounds_over_the_names_that_can_reach_a_floor(store: Store) -> None:
    """The floor's candidates carry the bounds the whole pass gives them, and none left out reaches it."""
    idx = await _index(store)
    for query in ["jokic", "giannis", "lebron jmaes", "smith smith", "michael jordan", "xqzzy wvvk", "a"]:
        full = idx.bounds(query)
        for floor in (40.0, 60.0, 80.0):
            over = idx.bounds(query, floor=floor)
            assert over.ids is not None
            assert (over.upper == full.upper[over.ids]).all() and (over.exact == full.exact[over.ids]).all()
            out = numpy.setdiff1d(numpy.arange(len(idx.entries)), over.ids)
            assert (full.upper[out] < floor).all(), (query, floor)


async def test_letter_masks_count_what_the_letter_table_counts(store: Store) -> None:
    idx = await _index(store)
    letters = idx.letters
    for query in ["jokic", "aaaaaaa bbb", "abdul jabbar", "zzz", "3", "e e e e e e e e e"]:
        have = [(letters._column[c], n) for c, n in collections.Counter(query).items()]
        want = sum(numpy.minimum(letters.counts[r], n) for r, n in have)
        assert (letters.shared(query) == want).all(), query


async def test_the_floor_tables_are_bounded(store: Store) -> None:
    idx = await _index(store)
    for lq in range(1, 40):
        for floor in (50.0, 60.0, 70.0, 80.0, 90.0):
            idx.letters.least_shared(lq, floor)
    assert len(idx.letters._least) <= 128
    assert len(idx.letters._tables) <= 64
