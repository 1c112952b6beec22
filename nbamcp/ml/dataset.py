"""Games as the ML code needs them on top of the read model (``nbamcp.data.games``):
the seasons present, a check that the asked seasons have games, and the data's lineage hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput


def seasons_of(games: Sequence[GameRow]) -> list[int]:
    """The distinct seasons present, ascending."""
    return sorted({g.season for g in games})


def require_seasons(games: Sequence[GameRow], seasons: Iterable[int], *, what: str) -> list[int]:
    """Check that every season in ``seasons`` has games; return them sorted.

    Raises InvalidInput naming the missing seasons and the range that exists.
    """
    wanted = sorted(set(seasons))
    if not wanted:
        raise InvalidInput(f"{what}: no seasons given")
    have = set(seasons_of(games))
    missing = [s for s in wanted if s not in have]
    if missing:
        span = f"{min(have)}-{max(have)}" if have else "none (no games loaded)"
        raise InvalidInput(
            f"{what}: no games for season(s) {', '.join(map(str, missing))}; seasons with games: {span}",
            details={"missing": ",".join(map(str, missing))},
        )
    return wanted


def snapshot_hash(games: Sequence[GameRow]) -> str:
    """sha256 of the games' content in order: the data lineage of a trained model."""
    h = hashlib.sha256()
    enc = msgspec.msgpack.Encoder()
    for g in games:
        h.update(enc.encode(g))
    return h.hexdigest()
