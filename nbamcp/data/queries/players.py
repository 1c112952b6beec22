"""Player queries: one season (with a traded player's per-team parts), a career, a comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.queries.common import PER_MODES, SEASON_TYPES, check_choice, parse_season, season_label
from nbamcp.data.queries.coverage import coverage
from nbamcp.data.queries.player_lookup import PlayerMatch, resolve_player
from nbamcp.data.queries.statline import LOWER_BETTER, stat_line, stat_value, sum_rows
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.messages import ComparedPlayer, PlayerCareer, PlayerComparison, PlayerSeasonStats, Raptor
from nbamcp.messages.fields import STAT_NAMES

DEFAULT_COMPARE = (
    "gp",
    "min",
    "pts",
    "reb",
    "ast",
    "stl",
    "blk",
    "fg_pct",
    "fg3_pct",
    "ft_pct",
    "ts_pct",
    "per",
)
MAX_COMPARE = 5
# Players whose season rows are kept per version of the data (a long career: ~25 rows, ~100 KB).
PLAYERS_KEPT = 64


async def _rows(store: Store, player_id: str, season_type: str) -> list[dict[str, Any]]:
    """His rows of ``season_type``, kept per version of the data: a season, a career and a
    comparison read them (read only: every query builds its answer from them, never in them)."""

    async def read() -> list[dict[str, Any]]:
        rows = await store.fetchall(
            "SELECT * FROM player_seasons WHERE player_id = ? AND season_type = ? "
            "ORDER BY season, is_total DESC, stint",
            (player_id, season_type),
        )
        return [dict(r) for r in rows]

    return await store.kept("player_rows", (player_id, season_type), read, max_entries=PLAYERS_KEPT)


def _season_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per season: the TOT row when there is one, else the only team row."""
    by_season: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_season.setdefault(r["season"], []).append(r)
    out = []
    for season in sorted(by_season):
        group = by_season[season]
        tot = [r for r in group if r["is_total"]]
        out.append(tot[0] if tot else group[0])
    return out


def _team_name(row: dict[str, Any], group: list[dict[str, Any]] | None = None) -> str | None:
    if row["is_total"]:
        codes = [r["team_code"] for r in group or [] if not r["is_total"]]
        return f"{len(codes)} teams: {', '.join(codes)}" if codes else "all teams"
    fid = row["franchise_id"]
    return FRANCHISES[fid].name_in(row["season"]) if fid in FRANCHISES else None


def _spans(seasons: list[int]) -> str:
    out, start = [], None
    for i, s in enumerate(seasons):
        if start is None:
            start = s
        if i + 1 == len(seasons) or seasons[i + 1] != s + 1:
            out.append(str(start) if start == s else f"{start}-{s}")
            start = None
    return ", ".join(out)


async def _table_span(store: Store, season_type: str) -> tuple[int, int] | None:
    """(first, last) season of the player tables for ``season_type``, from the coverage."""
    for t in (await coverage(store)).tables:
        if t.table == "player_seasons" and t.season_type == season_type:
            return t.first_season, t.last_season
    return None


async def _tables_text(store: Store, season_type: str) -> str:
    span = await _table_span(store, season_type)
    if span is None:
        return "the store has no player tables yet"
    return f"the player tables (Basketball-Reference) hold {season_type} seasons {span[0]}-{span[1]}"


async def _no_stats(store: Store, p: PlayerMatch, season_type: str) -> NotFound:
    return NotFound(
        f"{p.name} ({p.player_id}) has no {season_type} stats in the data; "
        f"{await _tables_text(store, season_type)}"
    )


async def _missing(
    store: Store, player_id: str, seasons: list[int], season_type: str
) -> tuple[list[int], str]:
    """Seasons he played before the player tables start (RAPTOR knows them from 1977), and a
    sentence saying what the career totals leave out."""
    span = await _table_span(store, season_type)
    if span is None or not seasons or seasons[0] > span[0]:
        return [], ""
    rows = await store.fetchall(
        "SELECT season FROM raptor WHERE player_id = ? AND season < ? ORDER BY season", (player_id, span[0])
    )
    missing = [int(r[0]) for r in rows]
    if missing:
        return missing, (
            f"seasons {_spans(missing)} are missing: he played them (RAPTOR knows them) but the player "
            f"tables start in {span[0]}, so the totals leave them out"
        )
    return [], (
        f"his first season in the data is {span[0]}, the first the player tables hold: seasons before "
        "it, if he played any, are missing"
    )


async def player_season_stats(
    store: Store,
    player: str,
    season: int | str | None = None,
    season_type: str = "regular",
    per: str = "game",
) -> PlayerSeasonStats:
    """A player's season (latest when ``season`` is None); a traded player shows TOT and each team."""
    season_type = check_choice(season_type, "season_type", SEASON_TYPES)
    per = check_choice(per, "per", PER_MODES)
    p = await resolve_player(store, player)
    rows = await _rows(store, p.player_id, season_type)
    seasons = sorted({r["season"] for r in rows})
    if not seasons:
        raise await _no_stats(store, p, season_type)
    s = seasons[-1] if season is None else parse_season(season)
    if s not in seasons:
        raise InvalidInput(
            f"{p.name} has no {season_type} stats for {s}; seasons with stats: {_spans(seasons)}",
            details={"player_id": p.player_id, "seasons": _spans(seasons)},
        )
    group = [r for r in rows if r["season"] == s]
    tot = next((r for r in group if r["is_total"]), None)
    teams = [r for r in group if not r["is_total"]]
    total_row = tot or teams[0]
    raptor = None
    if season_type == "regular":
        r = await store.fetchone(
            "SELECT raptor_offense, raptor_defense, raptor_total, war_total FROM raptor "
            "WHERE player_id = ? AND season = ?",
            (p.player_id, s),
        )
        if r is not None:
            raptor = Raptor(*(None if v is None else round(v, 2) for v in r))
    return PlayerSeasonStats(
        player_id=p.player_id, name=p.name, hall_of_fame=p.hall_of_fame, season=s,
        season_label=season_label(s), season_type=season_type, per=per, traded=tot is not None,
        total=stat_line(total_row, per, team_name=_team_name(total_row, group)),
        teams=[stat_line(t, per, team_name=_team_name(t)) for t in teams] if tot else [],
        raptor=raptor, seasons_available=seasons,
        data_through_season=(await _table_span(store, season_type) or (None, None))[1],
    )  # fmt: skip


async def player_career(store: Store, player: str, season_type: str = "regular") -> PlayerCareer:
    """Season by season (per game) and career totals, counting a traded season once (its TOT row)."""
    season_type = check_choice(season_type, "season_type", SEASON_TYPES)
    p = await resolve_player(store, player)
    rows = await _rows(store, p.player_id, season_type)
    if not rows:
        raise await _no_stats(store, p, season_type)
    chosen = _season_rows(rows)
    missing, gap = await _missing(store, p.player_id, [r["season"] for r in chosen], season_type)
    by_season: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_season.setdefault(r["season"], []).append(r)
    seasons = [stat_line(r, "game", team_name=_team_name(r, by_season[r["season"]])) for r in chosen]
    total = sum_rows(chosen)
    total.update(team_code="career", franchise_id=None, season=None, age=None)
    return PlayerCareer(
        player_id=p.player_id, name=p.name, hall_of_fame=p.hall_of_fame, season_type=season_type,
        seasons=seasons, totals=stat_line(total, "total"), per_game=stat_line(total, "game"),
        coverage=f"{len(chosen)} seasons in the data ({_spans(sorted(by_season))}); "
        + (gap or await _tables_text(store, season_type)),
        missing_seasons=missing,
        data_through_season=(await _table_span(store, season_type) or (None, None))[1],
    )  # fmt: skip


def check_stats(stats: Sequence[str] | None, default: tuple[str, ...]) -> list[str]:
    if stats is None:
        return list(default)
    if not isinstance(stats, list | tuple) or not stats:
        raise InvalidInput(f"stats must be a non-empty list of stat names; accepted: {', '.join(STAT_NAMES)}")
    bad = [s for s in stats if s not in STAT_NAMES]
    if bad:
        raise InvalidInput(
            f"unknown stat(s) {', '.join(map(repr, bad))}; accepted: {', '.join(STAT_NAMES)}",
            details={"accepted": ",".join(STAT_NAMES)},
        )
    return list(dict.fromkeys(stats))


async def compare_players(
    store: Store,
    players: list[str],
    season: int | str | None = None,
    stats: Sequence[str] | None = None,
) -> PlayerComparison:
    """2 to 5 players side by side: a season's per-game line (TOT if traded), or career averages."""
    if not isinstance(players, list) or not 2 <= len(players) <= MAX_COMPARE:
        raise InvalidInput(f"players must be a list of 2 to {MAX_COMPARE} names, got {players!r}")
    wanted = check_stats(stats, DEFAULT_COMPARE)
    s = None if season is None else parse_season(season)
    out: list[ComparedPlayer] = []
    notes: list[str] = []
    for query in players:
        p = await resolve_player(store, query)
        if any(c.player_id == p.player_id for c in out):
            raise InvalidInput(f"{query!r} is {p.name}, already in the comparison")
        rows = await _rows(store, p.player_id, "regular")
        if not rows:
            raise await _no_stats(store, p, "regular")
        chosen = _season_rows(rows)
        missing: list[int] = []
        if s is None:
            total = sum_rows(chosen)
            total.update(team_code="career", franchise_id=None)
            line = stat_line(total, "game")
            label = f"career {chosen[0]['season']}-{chosen[-1]['season']}"
            missing, gap = await _missing(store, p.player_id, [r["season"] for r in chosen], "regular")
            if gap:
                notes.append(f"{p.name}: {gap}")
        else:
            row = next((r for r in chosen if r["season"] == s), None)
            if row is None:
                seasons = sorted(r["season"] for r in chosen)
                raise InvalidInput(
                    f"{p.name} has no regular-season stats for {s}; seasons with stats: {_spans(seasons)}"
                )
            line = stat_line(row, "game")
            label = f"{s} {row['team_code']}"
        values = {st: stat_value(line, st) for st in wanted}
        out.append(ComparedPlayer(p.player_id, p.name, label, values, missing_seasons=missing))
    best: dict[str, str] = {}
    for st in wanted:
        vals = [(c.values[st], c.player_id) for c in out if c.values[st] is not None]
        if vals:
            pick = min(vals) if st in LOWER_BETTER else max(vals)
            best[st] = pick[1]
    through = (await _table_span(store, "regular") or (None, None))[1]
    return PlayerComparison(s, "regular", "game", wanted, out, best, notes=notes, data_through_season=through)
