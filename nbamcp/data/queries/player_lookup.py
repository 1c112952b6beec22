"""Finding players by name: case- and accent-insensitive, partial and misspelled.

"jokic" finds Nikola Jokić, "giannis" Giannis Antetokounmpo, "lebron jmaes" LeBron
James. A query that is one of a name's words ("james", "jordan") matches every
player with that word equally: resolving it is then ambiguous, and the error lists
the candidates with their seasons. Basketball-Reference ids ("jamesle01") resolve
directly.
"""

from __future__ import annotations

import msgspec

from nbamcp.data.franchises import normalize
from nbamcp.data.queries.common import check_limit
from nbamcp.data.store import Store
from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from nbamcp.messages import PlayerMatch, PlayerSearch

_MIN_SHOWN = 60.0  # find_player lists matches from here
_MIN_RESOLVED = 80.0  # a name query resolves to one player only from here
_TIE = 2.0


class _Entry(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    norm: str
    tokens: frozenset[str]
    hall_of_fame: bool
    first: int | None
    last: int | None


async def _index(store: Store) -> list[_Entry]:
    idx = store.cache.get("players")
    if idx is None:
        rows = await store.fetchall(
            """
            SELECT p.player_id, p.name, p.hall_of_fame, MIN(s.season), MAX(s.season)
            FROM players p
            LEFT JOIN (SELECT player_id, season FROM player_seasons
                       UNION ALL SELECT player_id, season FROM raptor) s USING (player_id)
            WHERE p.name IS NOT NULL
            GROUP BY p.player_id
            """
        )
        idx = []
        for pid, name, hof, first, last in rows:
            norm = normalize(name)
            idx.append(_Entry(pid, name, norm, frozenset(norm.split()), bool(hof), first, last))
        store.cache["players"] = idx
    return idx


def _score(query: str, q_tokens: frozenset[str], e: _Entry) -> float:
    from rapidfuzz import fuzz

    if query == e.norm:
        return 100.0
    if q_tokens and q_tokens <= e.tokens:
        return 96.0  # every word of the query is a word of the name
    return (fuzz.WRatio(query, e.norm) + fuzz.token_sort_ratio(query, e.norm)) / 2.0


def _ranked(query: str, idx: list[_Entry]) -> list[tuple[float, _Entry]]:
    q = normalize(query) if isinstance(query, str) else ""
    if not q:
        raise InvalidInput("player must be a name (or part of one), e.g. 'LeBron James', 'jokic'")
    q_tokens = frozenset(q.split())
    scored = [(_score(q, q_tokens, e), e) for e in idx]
    # Among equal scores, longer careers first: the better-known player.
    scored.sort(key=lambda se: (-se[0], -((se[1].last or 0) - (se[1].first or 0)), se[1].name))
    return scored


def _match(score: float, e: _Entry) -> PlayerMatch:
    return PlayerMatch(e.player_id, e.name, e.hall_of_fame, e.first, e.last, round(score, 1))


def _describe(entries: list[_Entry]) -> str:
    return "; ".join(f"{e.name} ({e.player_id}, {e.first}-{e.last})" for e in entries)


async def find_player(store: Store, query: str, limit: int = 10) -> PlayerSearch:
    """Players whose name matches ``query``, best first. Raises NotFound when none is close."""
    check_limit(limit)
    idx = await _index(store)
    if not idx:
        raise NotFound("the store has no players yet: ingest the player files first")
    ranked = _ranked(query, idx)
    shown = [_match(s, e) for s, e in ranked[:limit] if s >= _MIN_SHOWN]
    if not shown:
        raise NotFound(
            f"no player matches {query!r}; closest: {_describe([e for _, e in ranked[:5]])}",
            details={"query": query, "closest": ",".join(e.player_id for _, e in ranked[:5])},
        )
    return PlayerSearch(query, shown)


async def resolve_player(store: Store, query: str) -> PlayerMatch:
    """Exactly one player for ``query`` (a name or a Basketball-Reference id), or a clear error."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("player must be a name (or part of one), e.g. 'LeBron James', 'jokic'")
    idx = await _index(store)
    by_id = {e.player_id: e for e in idx}
    if query.strip() in by_id:
        return _match(100.0, by_id[query.strip()])
    ranked = _ranked(query, idx)
    if not ranked or ranked[0][0] < _MIN_RESOLVED:
        raise NotFound(
            f"no player matches {query!r}; closest: {_describe([e for _, e in ranked[:5]])}",
            details={"query": query, "closest": ",".join(e.player_id for _, e in ranked[:5])},
        )
    best = ranked[0][0]
    tied = [e for s, e in ranked if s >= best - _TIE]
    if len(tied) == 1:
        return _match(best, tied[0])
    raise Ambiguous(
        f"{query!r} matches {len(tied)} players: {_describe(tied[:8])}"
        + (" ..." if len(tied) > 8 else "")
        + "; give the full name or the id",
        details={"query": query, "candidates": ",".join(e.player_id for e in tied[:8])},
    )
