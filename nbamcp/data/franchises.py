"""The franchise table: every team code and name the sources use, mapped to one franchise id.

A franchise is the unit history follows (the Seattle SuperSonics' games belong to
OKC, the New Jersey Nets' to BKN). Ids: the current ``nba_api`` abbreviation for
the 30 active franchises, the last FiveThirtyEight code for defunct ones.

Codes by source, all listed in each era's ``codes``:

* FiveThirtyEight (games file): ``BRK``, ``PHO``, ``CHO`` (also for the Bobcats),
  ``NOP`` (also for the New Orleans Hornets), ``NOK``, plus every BAA/ABA code.
* Basketball-Reference (player files): ``BRK``, ``PHO``, ``CHO`` (2015+), ``CHA``
  (the Bobcats), ``CHH``, ``NOH``, ``NOK``, ``NOP`` (2014+), ``WSB``, ``SEA``, ``VAN``...
* ``nba_api``: ``BKN``, ``PHX``, ``CHA``, ``NOP``, and its historical ``NJN``, ``SEA``,
  ``NOH``, ``NOK``, ``VAN``, ``CHH``, ``GOS``, ``PHL``, ``SAN``, ``UTH``.

Charlotte/New Orleans, as the NBA counts it since 2014: the 1988-2002 Charlotte
Hornets history (``CHH``) belongs to CHA, together with the Bobcats (2004-14) and the
Hornets since 2014; the New Orleans franchise (NOP) starts in 2002-03. ABA seasons
of the four ABA franchises that joined the NBA (DEN, IND, BKN, SAS) are kept as
their eras (league "ABA"), since FiveThirtyEight's file has those games.
Seasons are end years (1947 = 1946-47).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import msgspec

from nbamcp.errors import Ambiguous, InvalidInput, NotFound


class Era(msgspec.Struct, frozen=True):
    """One name a franchise played under, over a span of seasons (``last`` None = still)."""

    first: int
    last: int | None
    city: str
    nickname: str
    codes: tuple[str, ...]
    league: str = "NBA"
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.city} {self.nickname}"

    def covers(self, season: int) -> bool:
        return self.first <= season and (self.last is None or season <= self.last)

    def league_in(self, season: int) -> str:
        # The NBA was the BAA until the 1949-50 merger with the NBL.
        return "BAA" if self.league == "NBA" and season <= 1949 else self.league


class Franchise(msgspec.Struct, frozen=True):
    """A franchise and its eras, oldest first."""

    id: str
    eras: tuple[Era, ...]

    @property
    def active(self) -> bool:
        return self.eras[-1].last is None

    @property
    def name(self) -> str:
        """The latest (current, or final) name."""
        return self.eras[-1].name

    @property
    def first_season(self) -> int:
        return self.eras[0].first

    @property
    def last_season(self) -> int | None:
        return self.eras[-1].last

    @property
    def codes(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for era in self.eras:
            for c in era.codes:
                seen.setdefault(c, None)
        return tuple(seen)

    def era(self, season: int) -> Era | None:
        for era in self.eras:
            if era.covers(season):
                return era
        return None

    def name_in(self, season: int | None) -> str:
        """The name of the time, else the nearest era's name."""
        if season is None:
            return self.name
        era = self.era(season)
        if era is not None:
            return era.name
        return self.eras[0].name if season < self.first_season else self.name


def _f(fid: str, *eras: Era) -> Franchise:
    return Franchise(fid, tuple(eras))


E = Era
ABA = "ABA"

FRANCHISES: dict[str, Franchise] = {
    f.id: f
    for f in (
        # --- the 30 active franchises ---
        _f("ATL", E(1950, 1951, "Tri-Cities", "Blackhawks", ("TRI",)),
           E(1952, 1955, "Milwaukee", "Hawks", ("MLH",)),
           E(1956, 1968, "St. Louis", "Hawks", ("STL",)),
           E(1969, None, "Atlanta", "Hawks", ("ATL",))),
        _f("BOS", E(1947, None, "Boston", "Celtics", ("BOS",))),
        _f("BKN", E(1968, 1968, "New Jersey", "Americans", ("NJA",), ABA),
           E(1969, 1976, "New York", "Nets", ("NYA",), ABA),
           E(1977, 1977, "New York", "Nets", ("NYN",)),
           E(1978, 2012, "New Jersey", "Nets", ("NJN",)),
           E(2013, None, "Brooklyn", "Nets", ("BRK", "BKN"))),
        _f("CHA", E(1989, 2002, "Charlotte", "Hornets", ("CHH",)),
           E(2005, 2014, "Charlotte", "Bobcats", ("CHA", "CHO")),
           E(2015, None, "Charlotte", "Hornets", ("CHO", "CHA"))),
        _f("CHI", E(1967, None, "Chicago", "Bulls", ("CHI",))),
        _f("CLE", E(1971, None, "Cleveland", "Cavaliers", ("CLE",), aliases=("Cavs",))),
        _f("DAL", E(1981, None, "Dallas", "Mavericks", ("DAL",), aliases=("Mavs",))),
        _f("DEN", E(1968, 1974, "Denver", "Rockets", ("DNR",), ABA),
           E(1975, 1976, "Denver", "Nuggets", ("DNA",), ABA),
           E(1977, None, "Denver", "Nuggets", ("DEN",))),
        _f("DET", E(1949, 1957, "Fort Wayne", "Pistons", ("FTW",)),
           E(1958, None, "Detroit", "Pistons", ("DET",))),
        _f("GSW", E(1947, 1962, "Philadelphia", "Warriors", ("PHW",)),
           E(1963, 1971, "San Francisco", "Warriors", ("SFW",)),
           E(1972, None, "Golden State", "Warriors", ("GSW", "GOS"))),
        _f("HOU", E(1968, 1971, "San Diego", "Rockets", ("SDR",)),
           E(1972, None, "Houston", "Rockets", ("HOU",))),
        _f("IND", E(1968, 1976, "Indiana", "Pacers", ("INA",), ABA),
           E(1977, None, "Indiana", "Pacers", ("IND",))),
        _f("LAC", E(1971, 1978, "Buffalo", "Braves", ("BUF",)),
           E(1979, 1984, "San Diego", "Clippers", ("SDC",)),
           E(1985, None, "Los Angeles", "Clippers", ("LAC",), aliases=("LA Clippers", "LA"))),
        _f("LAL", E(1949, 1960, "Minneapolis", "Lakers", ("MNL",)),
           E(1961, None, "Los Angeles", "Lakers", ("LAL",), aliases=("LA Lakers", "LA"))),
        _f("MEM", E(1996, 2001, "Vancouver", "Grizzlies", ("VAN",)),
           E(2002, None, "Memphis", "Grizzlies", ("MEM",))),
        _f("MIA", E(1989, None, "Miami", "Heat", ("MIA",))),
        _f("MIL", E(1969, None, "Milwaukee", "Bucks", ("MIL",))),
        _f("MIN", E(1990, None, "Minnesota", "Timberwolves", ("MIN",), aliases=("Wolves",))),
        _f("NOP", E(2003, 2005, "New Orleans", "Hornets", ("NOH", "NOP")),
           E(2006, 2007, "New Orleans/Oklahoma City", "Hornets", ("NOK",)),
           E(2008, 2013, "New Orleans", "Hornets", ("NOH", "NOP")),
           E(2014, None, "New Orleans", "Pelicans", ("NOP",))),
        _f("NYK", E(1947, None, "New York", "Knicks", ("NYK",))),
        _f("OKC", E(1968, 2008, "Seattle", "SuperSonics", ("SEA",), aliases=("Sonics",)),
           E(2009, None, "Oklahoma City", "Thunder", ("OKC",))),
        _f("ORL", E(1990, None, "Orlando", "Magic", ("ORL",))),
        _f("PHI", E(1950, 1963, "Syracuse", "Nationals", ("SYR",)),
           E(1964, None, "Philadelphia", "76ers", ("PHI", "PHL"), aliases=("Sixers", "Philly"))),
        _f("PHX", E(1969, None, "Phoenix", "Suns", ("PHO", "PHX"))),
        _f("POR", E(1971, None, "Portland", "Trail Blazers", ("POR",), aliases=("Blazers",))),
        _f("SAC", E(1949, 1957, "Rochester", "Royals", ("ROC",)),
           E(1958, 1972, "Cincinnati", "Royals", ("CIN",)),
           E(1973, 1975, "Kansas City-Omaha", "Kings", ("KCO",)),
           E(1976, 1985, "Kansas City", "Kings", ("KCK",)),
           E(1986, None, "Sacramento", "Kings", ("SAC",))),
        _f("SAS", E(1968, 1970, "Dallas", "Chaparrals", ("DLC",), ABA),
           E(1971, 1971, "Texas", "Chaparrals", ("TEX",), ABA),
           E(1972, 1973, "Dallas", "Chaparrals", ("DLC",), ABA),
           E(1974, 1976, "San Antonio", "Spurs", ("SAA",), ABA),
           E(1977, None, "San Antonio", "Spurs", ("SAS", "SAN"))),
        _f("TOR", E(1996, None, "Toronto", "Raptors", ("TOR",))),
        _f("UTA", E(1975, 1979, "New Orleans", "Jazz", ("NOJ",)),
           E(1980, None, "Utah", "Jazz", ("UTA", "UTH"))),
        _f("WAS", E(1962, 1962, "Chicago", "Packers", ("CHP",)),
           E(1963, 1963, "Chicago", "Zephyrs", ("CHZ",)),
           E(1964, 1973, "Baltimore", "Bullets", ("BAL",)),
           E(1974, 1974, "Capital", "Bullets", ("CAP",)),
           E(1975, 1997, "Washington", "Bullets", ("WSB",)),
           E(1998, None, "Washington", "Wizards", ("WAS",))),
        # --- defunct BAA/NBA franchises ---
        _f("AND", E(1950, 1950, "Anderson", "Packers", ("AND",))),
        _f("BLB", E(1948, 1954, "Baltimore", "Bullets", ("BLB",))),
        _f("CHS", E(1947, 1950, "Chicago", "Stags", ("CHS",))),
        _f("CLR", E(1947, 1947, "Cleveland", "Rebels", ("CLR",))),
        _f("DNN", E(1950, 1950, "Denver", "Nuggets", ("DNN",))),
        _f("DTF", E(1947, 1947, "Detroit", "Falcons", ("DTF",))),
        _f("INJ", E(1949, 1949, "Indianapolis", "Jets", ("INJ",))),
        _f("INO", E(1950, 1953, "Indianapolis", "Olympians", ("INO",))),
        _f("PIT", E(1947, 1947, "Pittsburgh", "Ironmen", ("PIT",))),
        _f("PRO", E(1947, 1949, "Providence", "Steamrollers", ("PRO",))),
        _f("SHE", E(1950, 1950, "Sheboygan", "Red Skins", ("SHE",))),
        _f("STB", E(1947, 1950, "St. Louis", "Bombers", ("STB",))),
        _f("TRH", E(1947, 1947, "Toronto", "Huskies", ("TRH",))),
        _f("WAT", E(1950, 1950, "Waterloo", "Hawks", ("WAT",))),
        _f("WSC", E(1947, 1951, "Washington", "Capitols", ("WSC",))),
        # --- defunct ABA franchises ---
        _f("FLO", E(1968, 1968, "Minnesota", "Muskies", ("MNM",), ABA),
           E(1969, 1970, "Miami", "Floridians", ("MMF",), ABA),
           E(1971, 1972, "Florida", "Floridians", ("FLO",), ABA, aliases=("The Floridians",))),
        _f("KEN", E(1968, 1976, "Kentucky", "Colonels", ("KEN",), ABA)),
        _f("MMS", E(1968, 1970, "New Orleans", "Buccaneers", ("NOB",), ABA),
           E(1971, 1972, "Memphis", "Pros", ("MMP",), ABA),
           E(1973, 1974, "Memphis", "Tams", ("MMT",), ABA),
           E(1975, 1975, "Memphis", "Sounds", ("MMS",), ABA)),
        _f("PTC", E(1968, 1968, "Pittsburgh", "Pipers", ("PTP",), ABA),
           E(1969, 1969, "Minnesota", "Pipers", ("MNP",), ABA),
           E(1970, 1970, "Pittsburgh", "Pipers", ("PTP",), ABA),
           E(1971, 1972, "Pittsburgh", "Condors", ("PTC",), ABA)),
        _f("SDS", E(1973, 1975, "San Diego", "Conquistadors", ("SDA",), ABA, aliases=("Qs",)),
           E(1976, 1976, "San Diego", "Sails", ("SDS",), ABA)),
        _f("SSL", E(1968, 1969, "Houston", "Mavericks", ("HSM",), ABA),
           E(1970, 1974, "Carolina", "Cougars", ("CAR",), ABA),
           E(1975, 1976, "St. Louis", "Spirits", ("SSL",), ABA, aliases=("Spirits of St. Louis",))),
        _f("UTS", E(1968, 1968, "Anaheim", "Amigos", ("ANA",), ABA),
           E(1969, 1970, "Los Angeles", "Stars", ("LAS",), ABA),
           E(1971, 1976, "Utah", "Stars", ("UTS",), ABA)),
        _f("VIR", E(1968, 1969, "Oakland", "Oaks", ("OAK",), ABA),
           E(1970, 1970, "Washington", "Caps", ("WSA",), ABA),
           E(1971, 1976, "Virginia", "Squires", ("VIR",), ABA)),
    )
}  # fmt: skip

ACTIVE_IDS: tuple[str, ...] = tuple(sorted(f.id for f in FRANCHISES.values() if f.active))

# Accept-then-stop for fuzzy names: a match below this score is not trusted, and
# two franchises within the margin of each other are reported as ambiguous.
_FUZZY_MIN = 80.0
_FUZZY_MARGIN = 5.0


def normalize(text: str) -> str:
    """Casefold, strip accents and punctuation, collapse spaces: 'Jokič' -> 'jokic'."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", ascii_only.casefold()).strip()


def _era_keys(f: Franchise, era: Era) -> set[str]:
    names = [era.city, era.nickname, era.name, *era.aliases]
    keys = {normalize(n) for n in names}
    keys |= {k.replace(" ", "") for k in keys}
    return {k for k in keys if k}


@cache
def _code_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for f in FRANCHISES.values():
        for code in (*f.codes, f.id):
            other = index.setdefault(code, f.id)
            if other != f.id:  # pragma: no cover - guarded by a test
                raise RuntimeError(f"team code {code} maps to both {other} and {f.id}")
    return index


@cache
def _name_index() -> dict[str, list[tuple[str, int]]]:
    """normalized name -> [(franchise id, era index)]."""
    index: dict[str, list[tuple[str, int]]] = {}
    for f in FRANCHISES.values():
        for i, era in enumerate(f.eras):
            for key in _era_keys(f, era):
                index.setdefault(key, []).append((f.id, i))
    return index


def code_to_franchise() -> dict[str, str]:
    """Every known code (any source) -> franchise id."""
    return dict(_code_index())


def franchise(fid: str) -> Franchise:
    """A franchise by id or by any of its codes (exact, case-insensitive)."""
    code = fid.strip().upper()
    hit = _code_index().get(code)
    if hit is None:
        raise NotFound(f"unknown team code {fid!r}", details={"query": fid})
    return FRANCHISES[hit]


def _describe(fids: list[str], season: int | None) -> str:
    return ", ".join(f"{FRANCHISES[i].name_in(season)} ({i})" for i in fids)


def _describe_hits(fids: list[str], hits: list[tuple[str, int]]) -> str:
    """Each candidate under the name that matched (the Chicago Packers, not the Wizards)."""
    out = []
    for fid in fids:
        names = sorted({FRANCHISES[fid].eras[i].name for f, i in hits if f == fid})
        out.append(f"{' / '.join(names)} ({fid})")
    return ", ".join(out)


QUERY_MAX = 40


def resolve_team(query: str, season: int | None = None) -> Franchise:
    """Resolve a code, city, nickname or full name (any era) to its franchise.

    Order: an exact code; an exact name (with ``season``, the names of that season
    win; without it, a current name wins over old ones, so "Hornets" is CHA and
    "Hornets" in 2004 is NOP); then a fuzzy match (rapidfuzz) that must be clearly
    ahead. Raises NotFound with the closest names, or Ambiguous with the candidates.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("team must be a non-empty name or code, e.g. 'BOS', 'Celtics', 'Boston Celtics'")
    raw = query.strip()[:QUERY_MAX]  # the longest team name has 30 characters; fuzzing costs per character
    code_hit = _code_index().get(raw.upper())
    if code_hit is not None and len(raw) <= 3:
        return FRANCHISES[code_hit]
    key = normalize(raw)
    hits = _name_index().get(key) or _name_index().get(key.replace(" ", ""))
    if hits:
        return _pick_exact(raw, hits, season)
    if code_hit is not None:
        return FRANCHISES[code_hit]
    return _fuzzy(raw, key, season)


def _pick_exact(raw: str, hits: list[tuple[str, int]], season: int | None) -> Franchise:
    fids = sorted({fid for fid, _ in hits})
    if len(fids) == 1:
        return FRANCHISES[fids[0]]
    if season is not None:
        playing = sorted({fid for fid, i in hits if FRANCHISES[fid].eras[i].covers(season)})
        if len(playing) == 1:
            return FRANCHISES[playing[0]]
        if playing:
            raise Ambiguous(
                f"team {raw!r} matches several franchises in {season}: {_describe_hits(playing, hits)}; "
                "give the full name or a code",
                details={"query": raw, "candidates": ",".join(playing)},
            )
    # No name of that season decides: a current name beats old ones.
    current = sorted(
        {fid for fid, i in hits if FRANCHISES[fid].active and i == len(FRANCHISES[fid].eras) - 1}
    )
    if len(current) == 1:
        return FRANCHISES[current[0]]
    if current:
        fids = current
    raise Ambiguous(
        f"team {raw!r} matches several franchises: {_describe_hits(fids, hits)}; "
        "give the full name, a code, or a season",
        details={"query": raw, "candidates": ",".join(fids)},
    )


def _fuzzy_score(a: str, b: str, **_: object) -> float:
    # WRatio alone rates partial matches high ("bullz" ~ "bullets"); the plain
    # ratio pulls whole-word typos ("lakrs") ahead of partial look-alikes.
    from rapidfuzz import fuzz

    return (fuzz.WRatio(a, b) + fuzz.ratio(a, b)) / 2.0


def _fuzzy(raw: str, key: str, season: int | None) -> Franchise:
    from rapidfuzz import process

    index = _name_index()
    keys = [k for k in index if len(k) > 3]
    best: dict[str, float] = {}
    for name, score, _ in process.extract(key, keys, scorer=_fuzzy_score, limit=40):
        for fid, _era in index[name]:
            best[fid] = max(best.get(fid, 0.0), float(score))
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    if ranked and ranked[0][1] >= _FUZZY_MIN:
        top = [fid for fid, s in ranked if s >= ranked[0][1] - _FUZZY_MARGIN]
        active = [fid for fid in top if FRANCHISES[fid].active]
        if len(top) == 1 or len(active) == 1:
            return FRANCHISES[(active or top)[0]]
        raise Ambiguous(
            f"team {raw!r} is close to several franchises: {_describe(top, season)}",
            details={"query": raw, "candidates": ",".join(top)},
        )
    closest = [fid for fid, _ in ranked[:5]]
    raise NotFound(
        f"no team matches {raw!r}; closest: {_describe(closest, season) or 'none'}",
        details={"query": raw, "closest": ",".join(closest)},
    )
