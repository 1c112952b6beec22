"""Rosters as of a date, and the team strength they project.

A roster snapshot says which players a team has for a season from a date on
(``as_of`` '' = from the season's start). A team's strength on a date comes
from its latest snapshot in effect then: the minutes-weighted projected
rating of its players (``nbamcp.ml.projections``), in points per 100
possessions, with the team minutes its players are not projected to fill
played at replacement level. A snapshot dated d (a trade, a signing, a roster
fetched live) changes the strength of games on d and later, never before.

Where rosters come from:
- ``season_table_rosters``: the proxy for finished seasons, the first team each
  player appears for in the season's Basketball-Reference table. It knows
  things a preseason roster does not (players absent all season are missing;
  late signings and call-ups are there from day one); docs/model.md measures
  what that leak is worth.
- ``previous_season_rosters``: each player's last team of the season before,
  no information from the season itself (a season with no table yet).
- live snapshots (nba_api's team rosters), dated the day they were fetched.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import msgspec

from nbamcp.data.players import PlayerSeason
from nbamcp.data.rosters import RosterEntry
from nbamcp.errors import InvalidInput
from nbamcp.messages import RosterPriors, TeamPrior
from nbamcp.ml.players import SeasonLine, season_lines
from nbamcp.ml.projections import DEFAULT_PROJECTION, ProjectionParams, SeasonProjections, project_season

SEASON_START = ""  # ``as_of`` of a snapshot in effect from the season's first game
ROSTER_SOURCES = ("season-table", "previous-season", "nba_api")


class RosterSnapshot(msgspec.Struct, frozen=True):
    """The players of ``team`` in ``season`` from ``as_of`` on ('' = from the season's start)."""

    team: str
    season: int
    as_of: str
    players: tuple[str, ...]
    source: str = "season-table"


class RosterParams(msgspec.Struct, frozen=True):
    """How rosters become ratings: the projection, the Elo season-start prior, the fading feature."""

    projection: ProjectionParams = DEFAULT_PROJECTION
    elo_share: float = 0.7  # share of a team's season-start Elo taken from its roster
    # roster-implied Elo = the mean + elo_per_point x (strength - the league's mean strength)
    elo_per_point: float = 30.0
    fade_games: int = 20  # the early copy of the strength difference fades out over these games

    def check(self) -> RosterParams:
        self.projection.check()
        if not 0.0 <= self.elo_share <= 1.0 or self.fade_games < 1:
            raise InvalidInput("roster params: elo_share in [0, 1] and fade_games >= 1 are required")
        return self


DEFAULT_ROSTER = RosterParams()


def team_strength(players: Iterable[str], projections: SeasonProjections) -> float:
    """Projected points per 100 possessions above average of a roster.

    Five players share the floor, so a team's rating is five times the
    minutes-weighted mean of its players' ratings. Projected minutes beyond a
    team's season are scaled down; minutes the roster does not fill go to
    replacement level.
    """
    params = projections.params
    num = total = 0.0
    for pid in dict.fromkeys(players):
        p = projections.get(pid)
        num += p.rating * p.minutes
        total += p.minutes
    full = params.team_minutes
    if total >= full:
        return 5.0 * num / total
    return 5.0 * (num + params.replacement * (full - total)) / full


def season_table_rosters(lines: Mapping[int, Mapping[str, SeasonLine]]) -> list[RosterSnapshot]:
    """One season-start snapshot per team-season: the first team each player appears for."""
    out = []
    for season in sorted(lines):
        teams: dict[str, list[str]] = {}
        for pid, ln in sorted(lines[season].items()):
            if ln.first_team is not None:
                teams.setdefault(ln.first_team, []).append(pid)
        out += [RosterSnapshot(t, season, SEASON_START, tuple(ps)) for t, ps in sorted(teams.items())]
    return out


def previous_season_rosters(
    lines: Mapping[int, Mapping[str, SeasonLine]], season: int
) -> list[RosterSnapshot]:
    """Season-start snapshots for ``season`` from the season before: each player's last team."""
    teams: dict[str, list[str]] = {}
    for pid, ln in sorted(lines.get(season - 1, {}).items()):
        if ln.last_team is not None:
            teams.setdefault(ln.last_team, []).append(pid)
    return [
        RosterSnapshot(t, season, SEASON_START, tuple(ps), source="previous-season")
        for t, ps in sorted(teams.items())
    ]


def snapshots_from_entries(entries: Iterable[RosterEntry]) -> list[RosterSnapshot]:
    """Stored live roster entries -> one snapshot per team, season and date (source nba_api)."""
    groups: dict[tuple[str, int, str], list[str]] = {}
    for e in entries:
        groups.setdefault((e.team, e.season, e.as_of), []).append(e.player_id)
    return [
        RosterSnapshot(team, season, as_of, tuple(sorted(set(ps))), source="nba_api")
        for (team, season, as_of), ps in sorted(groups.items())
    ]


class _Entry(NamedTuple):
    as_of: str
    strength: float | None
    source: str
    snapshot: RosterSnapshot | None  # None in a book built from published priors


class RosterBook:
    """A team's roster strength as of any date, from one of two sources.

    - Projections per season plus roster snapshots (``build_roster_book``): what
      the owner of the player tables computes; ``add`` files a new snapshot.
    - Published priors (``RosterBook.from_priors``): the strengths themselves, one
      ``RosterPriors`` per season, as every other worker receives them; ``priors()``
      of the first gives the second the same features, bit for bit (tested).
    """

    def __init__(
        self,
        projections: Mapping[int, SeasonProjections],
        snapshots: Iterable[RosterSnapshot] = (),
        params: RosterParams = DEFAULT_ROSTER,
    ) -> None:
        self.params = params.check()
        self.projections = dict(projections)
        self._from_priors = False
        # (team, season) -> as_of dates ascending, and the entry for each
        self._dates: dict[tuple[str, int], list[str]] = {}
        self._entries: dict[tuple[str, int], list[_Entry]] = {}
        self._league_mean: dict[int, float | None] = {}
        self._previous: dict[tuple[str, int], float] = {}  # given by priors; computed otherwise
        for s in snapshots:
            self.add(s)

    @classmethod
    def from_priors(cls, priors: Iterable[RosterPriors], params: RosterParams = DEFAULT_ROSTER) -> RosterBook:
        book = cls({}, (), params)
        book._from_priors = True
        for p in priors:
            book.replace_season(p)
        return book

    def replace_season(self, priors: RosterPriors) -> None:
        """Take a season's published priors instead of what this book had for it."""
        if not self._from_priors:
            raise InvalidInput("this book computes its strengths from rosters: it takes rosters, not priors")
        season = priors.season
        for key in [k for k in self._entries if k[1] == season]:
            del self._entries[key], self._dates[key]
        for key in [k for k in self._previous if k[1] == season]:
            del self._previous[key]
        for t in priors.teams:
            _check_as_of(t.as_of, t.source)
            self._file(t.team, season, _Entry(t.as_of, t.strength, t.source, None))
        self._league_mean[season] = priors.league_mean
        self._previous.update({(team, season): v for team, v in priors.previous.items()})

    def add(self, snap: RosterSnapshot) -> None:
        """File a snapshot (replacing one of the same team, season and ``as_of``)."""
        if self._from_priors:
            raise InvalidInput("this book holds published priors: a roster cannot be projected here")
        _check_as_of(snap.as_of, snap.source)
        self._league_mean.pop(snap.season + 1, None)
        proj = self.projections.get(snap.season)
        strength = None if proj is None or not snap.players else team_strength(snap.players, proj)
        self._file(snap.team, snap.season, _Entry(snap.as_of, strength, snap.source, snap))

    def _file(self, team: str, season: int, entry: _Entry) -> None:
        dates = self._dates.setdefault((team, season), [])
        entries = self._entries.setdefault((team, season), [])
        i = bisect_right(dates, entry.as_of)
        if i and dates[i - 1] == entry.as_of:
            entries[i - 1] = entry
        else:
            dates.insert(i, entry.as_of)
            entries.insert(i, entry)

    def snapshot(self, team: str, season: int, date: str) -> RosterSnapshot | None:
        """The snapshot in effect for a game of ``team`` on ``date`` (None: no roster known, or
        a book of priors)."""
        found = self._at(team, season, date)
        return None if found is None else found.snapshot

    def source(self, team: str, season: int, date: str) -> str | None:
        found = self._at(team, season, date)
        return None if found is None else found.source

    def strength(self, team: str, season: int, date: str) -> float | None:
        """The team's projected strength for a game on ``date`` (None: no roster or no projections)."""
        found = self._at(team, season, date)
        return None if found is None else found.strength

    def _at(self, team: str, season: int, date: str) -> _Entry | None:
        key = (team, season)
        dates = self._dates.get(key)
        if not dates:
            return None
        i = bisect_right(dates, date)
        return self._entries[key][i - 1] if i else None

    def league_mean(self, season: int) -> float | None:
        """The mean strength of last season's rosters projected for ``season``: the league's
        level, known before the season (projections are regressed, so it sits below 0)."""
        if season not in self._league_mean:
            teams = [t for t, s in self._entries if s == season - 1]
            vals = [v for v in (self.previous_roster_strength(t, season) for t in teams) if v is not None]
            self._league_mean[season] = sum(vals) / len(vals) if vals else None
        return self._league_mean[season]

    def elo_prior(self, team: str, season: int, date: str) -> float | None:
        """Elo points above the mean that the team's roster implies for a game on ``date``
        (None: no roster known)."""
        s = self.strength(team, season, date)
        mean = self.league_mean(season)
        if s is None or mean is None:
            return None
        return self.params.elo_per_point * (s - mean)

    def previous_roster_strength(self, team: str, season: int) -> float | None:
        """Strength of the team's last known roster of the season before, projected for ``season``:
        what the roster change since then is measured against."""
        if self._from_priors:
            return self._previous.get((team, season))
        proj = self.projections.get(season)
        entries = self._entries.get((team, season - 1))
        last = entries[-1].snapshot if entries else None
        if proj is None or last is None:
            return None
        return team_strength(last.players, proj)

    def seasons(self) -> list[int]:
        """Seasons with rosters or projections, ascending."""
        return sorted({s for _, s in self._entries} | set(self.projections))

    def season_priors(self, season: int) -> RosterPriors:
        """What another worker needs of ``season`` to compute the same features."""
        teams = sorted({t for t, s in self._entries if s == season})
        previous = {t: v for t in sorted({t for t, s in self._entries if s in (season, season - 1)})
                    if (v := self.previous_roster_strength(t, season)) is not None}  # fmt: skip
        return RosterPriors(
            season=season,
            teams=[
                TeamPrior(t, e.as_of, e.strength, e.source) for t in teams for e in self._entries[(t, season)]
            ],
            league_mean=self.league_mean(season),
            previous=previous,
        )

    def priors(self) -> list[RosterPriors]:
        return [self.season_priors(s) for s in self.seasons()]

    def data_hash(self, games_hash: str) -> str:
        """sha256 of the games' hash, the params and every season's priors: the lineage of a
        model trained on these rosters."""
        h = hashlib.sha256(games_hash.encode())
        enc = msgspec.msgpack.Encoder(order="deterministic")
        h.update(enc.encode(self.params))
        for p in self.priors():
            h.update(enc.encode(p))
        return h.hexdigest()


def _check_as_of(as_of: str, source: str) -> None:
    if as_of and (len(as_of) != 10 or as_of[4] != "-" or as_of[7] != "-"):
        raise InvalidInput(f"roster as_of {as_of!r} is not '' (season start) or 'YYYY-MM-DD'")
    if source not in ROSTER_SOURCES:
        raise InvalidInput(f"roster source {source!r} is not one of {', '.join(ROSTER_SOURCES)}")


def build_roster_book(
    players: Sequence[PlayerSeason],
    *,
    params: RosterParams = DEFAULT_ROSTER,
    through: int | None = None,
    proxy: str = "season-table",
    extra: Iterable[RosterSnapshot] = (),
) -> RosterBook:
    """Projections for every season the player rows allow (and the one after the last), with
    season-start rosters from ``proxy`` ("season-table" or "previous-season") and ``extra``
    snapshots (live rosters, trades) on top.

    ``through`` caps the seasons whose own table may serve as a roster: later seasons get
    the previous season's rosters (a season under way has only a partial table).
    """
    if proxy not in ("season-table", "previous-season"):
        raise InvalidInput(f"roster proxy {proxy!r} is not 'season-table' or 'previous-season'")
    lines = season_lines(players)
    if not lines:
        return RosterBook({}, extra, params)
    last = max(lines)
    projections = {s: project_season(lines, s, params.projection) for s in range(min(lines) + 1, last + 2)}
    table_until = last if through is None else min(through, last)
    snaps: list[RosterSnapshot] = []
    if proxy == "season-table":
        snaps += season_table_rosters({s: v for s, v in lines.items() if s <= table_until})
        first_prev = table_until + 1
    else:
        first_prev = min(lines) + 1
    for s in range(first_prev, last + 2):
        snaps += previous_season_rosters(lines, s)
    return RosterBook(projections, [*snaps, *extra], params)
