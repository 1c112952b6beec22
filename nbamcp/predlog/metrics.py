"""Scoring one prediction against its game's result (realized metrics).

Plain Python on purpose: the monitor scores a handful of games per ingest and
needs no numpy for it. The aggregates match ``nbamcp.ml.metrics.scores``:
Brier and log loss of P(home win), a home pick counts when P >= 0.5.
"""

from __future__ import annotations

import math

_EPS = 1e-15


def score(p_home: float, home_won: bool) -> tuple[float, float, bool]:
    """(Brier, log loss, correct pick) of P(home win) ``p_home`` for one game."""
    y = 1.0 if home_won else 0.0
    pc = min(max(p_home, _EPS), 1.0 - _EPS)
    brier = (p_home - y) ** 2
    log_loss = -(y * math.log(pc) + (1.0 - y) * math.log(1.0 - pc))
    return brier, log_loss, (p_home >= 0.5) == home_won
