"""Name completion for MCP ``completion/complete``: teams and players starting with what was typed.

A name matches when one of its words (or the whole name) starts with the normalized
prefix ("cel" -> Boston Celtics; "jam" -> LeBron James, James Harden). Both indexes are
sorted word-suffix keys built once per store generation, so a look-up is a bisection
whatever the input (the prefix is capped by its request Struct).
"""

from __future__ import annotations

import bisect

from nbamcp.data.franchises import FRANCHISES, normalize
from nbamcp.data.queries.player_lookup import player_index
from nbamcp.data.store import Store
from nbamcp.messages import Completions


class _Names:
    """(key, rank, display name) sorted by key: one key per word suffix of each name."""

    def __init__(self, names: list[tuple[str, int]]) -> None:
        entries = []
        for name, rank in names:
            words = normalize(name).split()
            entries += [(" ".join(words[i:]), rank, name) for i in range(len(words))]
        entries.sort()
        self.keys = [e[0] for e in entries]
        self.entries = entries

    def complete(self, prefix: str, limit: int) -> Completions:
        key = normalize(prefix)
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_left(self.keys, key + "\uffff") if key else len(self.keys)
        best: dict[str, int] = {}
        for _, rank, name in self.entries[lo:hi]:
            best[name] = min(rank, best.get(name, rank))
        ranked = sorted(best, key=lambda n: (best[n], n))
        return Completions(values=ranked[:limit], total=len(ranked))


def _teams() -> _Names:
    # Active franchises' current names first, then every era name (the Seattle SuperSonics...).
    names: dict[str, int] = {}
    for f in FRANCHISES.values():
        names.setdefault(f.name, 0 if f.active else 1)
        for era in f.eras:
            names.setdefault(era.name, 2)
    return _Names(sorted(names.items()))


_TEAMS: list[_Names] = []


def complete_team(prefix: str, limit: int) -> Completions:
    if not _TEAMS:
        _TEAMS.append(_teams())
    return _TEAMS[0].complete(prefix, limit)


async def complete_player(store: Store, prefix: str, limit: int) -> Completions:
    names = store.cache.get("complete:players")
    if names is None:
        idx = await player_index(store)
        # Longer careers first: the better-known player of a shared prefix.
        names = _Names([(e.name, -((e.last or 0) - (e.first or 0))) for e in idx.entries])
        store.cache["complete:players"] = names
    return names.complete(prefix, limit)
