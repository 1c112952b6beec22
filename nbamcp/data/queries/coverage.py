"""What the store holds: per source the first and last game, per table the seasons.

Computed from the store (cached per store generation, so after every ingest it is new)
and stated wherever an answer depends on it: the ``nba://data/coverage`` resource, the
server's instructions, and the ``data_through`` of results.
"""

from __future__ import annotations

from nbamcp.data.queries.common import season_label
from nbamcp.data.store import Store
from nbamcp.messages import Coverage, GameSource, TableSpan

SOURCE_NAMES = {
    "538": "FiveThirtyEight",
    "nba_api": "the stats.nba.com game log",
    "bref": "Basketball-Reference",
}
_TABLES = (
    ("player_seasons", "Basketball-Reference", "season_type"),
    ("raptor", "FiveThirtyEight RAPTOR", None),
    ("team_seasons_bref", "Basketball-Reference", None),
)


async def coverage(store: Store) -> Coverage:
    cov = store.cache.get("coverage")
    if cov is None:
        cov = store.cache["coverage"] = await _compute(store)
    return cov


async def _compute(store: Store) -> Coverage:
    row = await store.fetchone("SELECT COUNT(*), MIN(date), MAX(date), MIN(season), MAX(season) FROM games")
    n, first, last, s_first, s_last = row if row is not None else (0, None, None, None, None)
    sources = []
    for (name,) in await store.fetchall("SELECT DISTINCT sources FROM games"):
        sources += name.split(",")
    game_sources = []
    for src in sorted(set(sources)):
        r = await store.fetchone(
            "SELECT COUNT(*), MIN(date), MAX(date), MIN(season), MAX(season) FROM games "
            "WHERE ',' || sources || ',' LIKE ?",
            (f"%,{src},%",),
        )
        if r is not None and r[0]:
            game_sources.append(GameSource(source=src, games=r[0], first_date=r[1], last_date=r[2],
                                           first_season=r[3], last_season=r[4]))  # fmt: skip
    tables = []
    for table, source, by in _TABLES:
        group = f", {by}" if by else ""
        for r in await store.fetchall(
            f"SELECT COUNT(*), MIN(season), MAX(season){group} FROM {table}"
            + (f" GROUP BY {by} ORDER BY {by} DESC" if by else "")
        ):
            if r[0]:
                name = "team_seasons" if table == "team_seasons_bref" else table
                tables.append(TableSpan(table=name, source=source, season_type=r[3] if by else None,
                                        rows=r[0], first_season=r[1], last_season=r[2]))  # fmt: skip
    run = await store.fetchone("SELECT MAX(run_id) FROM ingest_runs WHERE finished_at IS NOT NULL")
    latest = max([s_last or 0, *(t.last_season for t in tables)]) or None
    return Coverage(
        data_through=last, games=int(n or 0), first_game=first, first_season=s_first, last_season=s_last,
        game_sources=game_sources, tables=tables, latest_season=latest, run_id=int(run[0] or 0) if run else 0,
        summary=_summary(int(n or 0), first, last, s_first, s_last, game_sources, tables, latest),
    )  # fmt: skip


def _summary(
    n: int,
    first: str | None,
    last: str | None,
    s_first: int | None,
    s_last: int | None,
    sources: list[GameSource],
    tables: list[TableSpan],
    latest: int | None,
) -> str:
    if not n and not tables:
        return "The store holds no data yet (nothing has been ingested)."
    parts = []
    if n:
        by_source = "; ".join(
            f"{SOURCE_NAMES.get(s.source, s.source)} {s.first_date} to {s.last_date}" for s in sources
        )
        parts.append(
            f"Game results: {n:,} games from {first} to {last} (seasons {s_first}-{s_last}; {by_source}). "
            f"Nothing is known about games after {last}."
        )
    spans = []
    for t in tables:
        what = {"player_seasons": f"player seasons ({t.season_type})", "raptor": "RAPTOR player ratings",
                "team_seasons": "team seasons"}[t.table]  # fmt: skip
        spans.append(f"{what} {t.first_season}-{t.last_season}")
    if spans:
        parts.append("Season tables (Basketball-Reference, FiveThirtyEight): " + ", ".join(spans) + ".")
    if latest and s_last and latest > s_last:
        parts.append(
            f"The latest season is {latest} ({season_label(latest)}): known from the season tables only, "
            "without its games."
        )
    return " ".join(parts)
