"""Canonical cache keys of predictions.

A key names everything a prediction depends on: the model (name, champion
version, challenger version when scored), the game in canonical form (franchise
ids, ISO date, neutral court), how many results of each team the features
were computed from, whether the data reaches the day before the game, and (fs2) the version
of the roster priors they were computed with (a trade changes features, not result counts). New
results for a team change that count, so a prediction made before them can
never be served after them, even if an invalidation message is late. Keys are
valid NATS KV keys (``[-/_=.a-zA-Z0-9]``).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^-_=a-zA-Z0-9]")


def _token(text: str) -> str:
    return _UNSAFE.sub("_", text) or "_"


def prediction_key(
    *,
    model: str,
    champion: int,
    challenger: int | None,
    home: str,
    away: str,
    date: str,
    neutral: bool,
    home_results: int,
    away_results: int,
    stale: bool = False,
    rosters: str = "",
) -> str:
    # A stale game's schedule facts are unknown (other features): once the data reaches the day
    # before it, new results of any team make it fresh. Its age is refreshed on every hit.
    tail = (("s",) if stale else ()) + ((f"r{_token(rosters)}",) if rosters else ())
    return ".".join(
        (
            _token(model),
            str(champion),
            str(challenger or 0),
            _token(home),
            _token(away),
            _token(date),
            "n" if neutral else "h",
            str(home_results),
            str(away_results),
            *tail,
        )
    )


def key_teams(key: str) -> tuple[str, str]:
    """(home, away) of a key made by :func:`prediction_key`."""
    parts = key.split(".")
    return parts[3], parts[4]


def team_filters(team: str) -> list[str]:
    """KV key filters matching every key of ``team`` (as home or away)."""
    t = _token(team)
    return [f"*.*.*.{t}.>", f"*.*.*.*.{t}.>"]
