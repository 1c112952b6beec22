"""Conference and division of each franchise, by era of the modern league (1990 on).

Four alignments cover 1989-90 to today; a test checks every one against the
division sizes and finishing places in Basketball-Reference's team seasons. Seasons
before 1990 have no alignment here: standings are then league-wide.
"""

from __future__ import annotations

from nbamcp.errors import InvalidInput

FIRST_ALIGNED_SEASON = 1990

_Alignment = dict[str, dict[str, tuple[str, ...]]]

# (first season, last season, {conference: {division: franchise ids}})
_ERAS: tuple[tuple[int, int | None, dict[str, dict[str, tuple[str, ...]]]], ...] = (
    (1990, 1990, {
        "East": {"Atlantic": ("BOS", "MIA", "BKN", "NYK", "PHI", "WAS"),
                 "Central": ("ATL", "CHI", "CLE", "DET", "IND", "MIL", "ORL")},
        "West": {"Midwest": ("CHA", "DAL", "DEN", "HOU", "MIN", "SAS", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "POR", "SAC", "OKC")},
    }),
    (1991, 1991, {
        "East": {"Atlantic": ("BOS", "MIA", "BKN", "NYK", "PHI", "WAS"),
                 "Central": ("ATL", "CHA", "CHI", "CLE", "DET", "IND", "MIL")},
        "West": {"Midwest": ("DAL", "DEN", "HOU", "MIN", "ORL", "SAS", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "POR", "SAC", "OKC")},
    }),
    (1992, 1995, {
        "East": {"Atlantic": ("BOS", "MIA", "BKN", "NYK", "ORL", "PHI", "WAS"),
                 "Central": ("ATL", "CHA", "CHI", "CLE", "DET", "IND", "MIL")},
        "West": {"Midwest": ("DAL", "DEN", "HOU", "MIN", "SAS", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "POR", "SAC", "OKC")},
    }),
    (1996, 2002, {
        "East": {"Atlantic": ("BOS", "MIA", "BKN", "NYK", "ORL", "PHI", "WAS"),
                 "Central": ("ATL", "CHA", "CHI", "CLE", "DET", "IND", "MIL", "TOR")},
        "West": {"Midwest": ("DAL", "DEN", "HOU", "MEM", "MIN", "SAS", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "POR", "SAC", "OKC")},
    }),
    # The Hornets moved to New Orleans and stayed in the Central until 2004.
    (2003, 2004, {
        "East": {"Atlantic": ("BOS", "MIA", "BKN", "NYK", "ORL", "PHI", "WAS"),
                 "Central": ("ATL", "NOP", "CHI", "CLE", "DET", "IND", "MIL", "TOR")},
        "West": {"Midwest": ("DAL", "DEN", "HOU", "MEM", "MIN", "SAS", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "POR", "SAC", "OKC")},
    }),
    (2005, None, {
        "East": {"Atlantic": ("BOS", "BKN", "NYK", "PHI", "TOR"),
                 "Central": ("CHI", "CLE", "DET", "IND", "MIL"),
                 "Southeast": ("ATL", "CHA", "MIA", "ORL", "WAS")},
        "West": {"Northwest": ("DEN", "MIN", "OKC", "POR", "UTA"),
                 "Pacific": ("GSW", "LAC", "LAL", "PHX", "SAC"),
                 "Southwest": ("DAL", "HOU", "MEM", "NOP", "SAS")},
    }),
)  # fmt: skip

CONFERENCES = ("East", "West")


def alignment(season: int) -> _Alignment | None:
    """{conference: {division: franchise ids}} for a season, or None before 1990."""
    for first, last, table in _ERAS:
        if first <= season and (last is None or season <= last):
            return table
    return None


def place(franchise_id: str, season: int) -> tuple[str, str] | None:
    """(conference, division) of a franchise in a season, None when not known."""
    table = alignment(season)
    if table is None:
        return None
    for conf, divisions in table.items():
        for div, members in divisions.items():
            if franchise_id in members:
                return conf, div
    return None


def parse_conference(value: str) -> str:
    """'east', 'Eastern', 'E' -> 'East'; anything else is an InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"conference must be 'East' or 'West', got {value!r}")
    v = value.strip().casefold()
    for conf in CONFERENCES:
        c = conf.casefold()
        if v in (c, c[0], f"{c}ern", f"{c}ern conference", f"{c} conference"):
            return conf
    raise InvalidInput(f"conference must be 'East' or 'West', got {value!r}")
