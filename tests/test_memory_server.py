"""The memory measurement's own process must not grow: ``tests.memory_server.slates`` keeps nothing.

The flatness test reads the RSS of the process that also makes the games; with
``itertools.cycle`` the generator kept a copy of every (day, pair) it yielded: ~32 KB a
slate of growth that was the harness's, not the server's.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc

from tests.memory_server import SLATE, slates

TODAY = dt.date(2026, 12, 3)
SLATES = 40
MAX_KB = 16.0  # the cycle kept ~1,300 KB over 40 slates; a generator that keeps nothing, ~0


def test_slates_are_new_games() -> None:
    games = slates(TODAY)
    seen = {(g["home"], g["away"], g["date"]) for _ in range(SLATES) for g in next(games)}
    assert len(seen) == SLATES * SLATE


def test_slates_keep_no_memory_between_slates() -> None:
    games = slates(TODAY)
    next(games)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(SLATES):
            next(games)  # dropped: only what the generator keeps stays
        grown_kb = (tracemalloc.get_traced_memory()[0] - before) / 1024
    finally:
        tracemalloc.stop()
    assert grown_kb < MAX_KB, f"slates() kept {grown_kb:.0f} KB over {SLATES} slates"
