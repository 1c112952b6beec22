"""Canary and A/B traffic: the challenger answers a share of the games, the same games every time.

A game is in the canary when the sha256 of ``home|away|date`` (its canonical form) falls in
the first ``share`` of the hash space: sticky (one game gets one answer, from every
instance, before and after a restart) and spread evenly over teams and dates. The champion
is still scored on those games and logged beside the challenger (as the challenger is on the
others), so the promotion gate and the canary watch compare both on every game.

Traffic "ab" uses the same split with ``[inference] ab_share``: the two arms are the games
each model answered (``nbamcp.ml.ab`` compares them); only canary has an automatic rollback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.scoring import RowScore

_SPACE = float(2**64)


def in_canary(game: CanonicalGame, share: float) -> bool:
    if share <= 0.0:
        return False
    if share >= 1.0:
        return True
    digest = hashlib.sha256(f"{game.home}|{game.away}|{game.date}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SPACE < share


def serve_canary(scores: Sequence[RowScore], games: Sequence[CanonicalGame], share: float) -> list[RowScore]:
    """The rows of canary games answered by the challenger (the champion as their shadow)."""
    out = []
    for s, g in zip(scores, games, strict=True):
        if s.model is None or s.challenger is None or not in_canary(g, share):
            out.append(s)
            continue
        challenger, p = s.challenger
        x = np.asarray(s.values, dtype=np.float32).reshape(1, -1)
        effects = challenger.explainer.effects(x, np.array([p]))
        points = challenger.explainer.points(x, np.array([p]), effects)[0]
        row = RowScore(p, effects[0], s.terms, s.values, challenger, (s.model, s.p), points, canary=True)
        out.append(row)
    return out
