"""The franchise table: every code of every source maps, names resolve, history follows the franchise."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from nbamcp.data.divisions import alignment, parse_conference, place
from nbamcp.data.franchises import (
    ACTIVE_IDS,
    FRANCHISES,
    code_to_franchise,
    franchise,
    normalize,
    resolve_team,
)
from nbamcp.data.queries.meta import list_franchises
from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from tests.data import raw

NBA_API_CODES = (
    "ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM "
    "MIA MIL MIN NOP NYK OKC ORL PHI PHX POR SAC SAS TOR UTA WAS"
)


def test_thirty_active_franchises_use_nba_api_ids() -> None:
    assert tuple(sorted(NBA_API_CODES.split())) == ACTIVE_IDS
    for code in NBA_API_CODES.split():
        assert franchise(code).id == code


def test_every_538_code_maps_to_a_franchise_era_of_that_season(data_dir: Path) -> None:
    by_code: dict[str, set[int]] = defaultdict(set)
    for r in raw.games538(data_dir):
        by_code[r["team1"]].add(int(r["season"]))
        by_code[r["team2"]].add(int(r["season"]))
    assert len(by_code) > 100
    for code, seasons in by_code.items():
        f = resolve_team(code)
        for s in seasons:
            era = f.era(s)
            assert era is not None and code in era.codes, (code, s, f.id)


def test_every_basketball_reference_and_gamelog_code_maps(data_dir: Path) -> None:
    for kind in ("totals", "advanced"):
        for st in ("regular", "playoffs"):
            for r in raw.players(data_dir, kind, st):
                if r["Tm"] != "TOT":
                    f = franchise(r["Tm"])
                    assert r["Tm"] in f.era(int(r["Year"])).codes, (r["Tm"], r["Year"])
    for r in raw.gamelog(data_dir):
        assert franchise(r["team_abbreviation"]).id == r["team_abbreviation"]


@pytest.mark.parametrize(
    "query",
    [
        "Nets",
        "Brooklyn",
        "BKN",
        "BRK",
        "New Jersey Nets",
        "nets",
        "NJN",
        "New York Nets",
        "brooklyn nets",
        "Brooklin",
    ],
)
def test_nets_resolve_every_way(query: str) -> None:
    assert resolve_team(query).id == "BKN"


@pytest.mark.parametrize(
    ("query", "season", "fid"),
    [
        ("PHO", None, "PHX"), ("PHX", None, "PHX"), ("CHO", None, "CHA"), ("CHH", None, "CHA"),
        ("Bobcats", None, "CHA"), ("Hornets", None, "CHA"), ("Hornets", 1995, "CHA"),
        ("Hornets", 2005, "NOP"),
        ("Hornets", 2006, "NOP"), ("NOH", None, "NOP"), ("NOK", None, "NOP"), ("Pelicans", None, "NOP"),
        ("SuperSonics", None, "OKC"), ("Sonics", None, "OKC"), ("Seattle", None, "OKC"), ("VAN", None, "MEM"),
        ("Bullets", 1990, "WAS"), ("Baltimore Bullets", 1950, "BLB"), ("Nuggets", 1950, "DNN"),
        ("Nuggets", None, "DEN"), ("Denver Rockets", None, "DEN"), ("TrailBlazers", None, "POR"),
        ("LA Clippers", None, "LAC"), ("Minneapolis Lakers", None, "LAL"), ("Lakrs", None, "LAL"),
        ("76ers", None, "PHI"), ("Sixers", None, "PHI"), ("Syracuse Nationals", None, "PHI"),
        ("Kansas City Kings", None, "SAC"), ("Kentucky Colonels", None, "KEN"), ("New York", None, "NYK"),
    ],
)  # fmt: skip
def test_names_codes_and_eras_resolve(query: str, season: int | None, fid: str) -> None:
    assert resolve_team(query, season).id == fid


def test_charlotte_history_belongs_to_cha() -> None:
    cha = FRANCHISES["CHA"]
    assert [e.name for e in cha.eras] == ["Charlotte Hornets", "Charlotte Bobcats", "Charlotte Hornets"]
    assert cha.era(1995).codes == ("CHH",) and cha.era(2003) is None
    assert FRANCHISES["NOP"].first_season == 2003
    assert FRANCHISES["NOP"].name_in(2005) == "New Orleans Hornets"


@pytest.mark.parametrize(
    ("query", "season", "candidates"),
    [("Los Angeles", None, "LAC,LAL"), ("LA", None, "LAC,LAL"), ("Packers", None, "AND,WAS"),
     ("Baltimore Bullets", None, "BLB,WAS"), ("New York", 1975, "BKN,NYK")],
)  # fmt: skip
def test_ambiguous_names_list_candidates(query: str, season: int | None, candidates: str) -> None:
    with pytest.raises(Ambiguous) as exc:
        resolve_team(query, season)
    assert exc.value.details["candidates"] == candidates
    for fid in candidates.split(","):
        assert fid in str(exc.value)


def test_unknown_team_lists_closest() -> None:
    with pytest.raises(NotFound) as exc:
        resolve_team("Gotham Knights")
    assert exc.value.code == "not_found"
    assert "closest" in str(exc.value) and len(exc.value.details["closest"].split(",")) == 5
    with pytest.raises(NotFound):
        franchise("XYZ")
    with pytest.raises(InvalidInput):
        resolve_team("  ")


def test_codes_are_unique_and_normalize_strips_accents() -> None:
    codes = code_to_franchise()
    assert codes["NYA"] == "BKN" and codes["SDC"] == "LAC" and codes["WSB"] == "WAS"
    assert normalize("Nikola Jokič!") == "nikola jokic"
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in codes)


def test_divisions_match_basketball_reference_finishing_places(data_dir: Path) -> None:
    """Every alignment since 1990 reproduces the 'Nth of M' places in the team-seasons file."""
    by_season: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for r in raw.rows(data_dir / "teams" / "team_seasons_1990_2024.csv"):
        fid = resolve_team(r["Tm"]).id  # today's nickname: resolve without a season
        rank, _, size = r["Finish"].partition(" of ")
        by_season[int(r["Year"])].append((fid, int(rank[:-2]), int(size)))
    for season, teams in by_season.items():
        divisions: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for fid, rank, size in teams:
            p = place(fid, season)
            assert p is not None, (season, fid)
            divisions[p].append((rank, size))
        table = alignment(season)
        assert table is not None
        for (conf, div), members in divisions.items():
            assert len(members) == len(table[conf][div]) == members[0][1], (season, conf, div)
            assert sorted(r for r, _ in members) == list(range(1, len(members) + 1)), (season, div)
    assert place("BOS", 1985) is None
    assert parse_conference("eastern") == "East"
    with pytest.raises(InvalidInput):
        parse_conference("north")


def test_list_franchises_resource() -> None:
    out = list_franchises()
    assert [f.id for f in out.franchises[:30]] == sorted(NBA_API_CODES.split())
    okc = next(f for f in out.franchises if f.id == "OKC")
    assert okc.conference == "West" and okc.division == "Northwest" and "SEA" in okc.codes
    assert len(out.franchises) == len(FRANCHISES)
