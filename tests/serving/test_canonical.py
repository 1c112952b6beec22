"""Bad input gets a clear error naming the game and what is accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from nbamcp.messages import GameQuery
from nbamcp.serving.canonical import canonicalize, canonicalize_all

TODAY = dt.date(2023, 4, 1)


def canon(home: object, away: object, date: object = None, neutral: bool = False):
    return canonicalize(GameQuery(home=home, away=away, date=date, neutral=neutral), today=TODAY)  # type: ignore[arg-type]


def test_names_codes_and_eras_resolve() -> None:
    g = canon("celtics", "LAL", "2023-01-05")
    assert (g.home, g.away, g.date, g.season) == ("BOS", "LAL", "2023-01-05", 2023)
    assert g.home_name == "Boston Celtics"
    assert canon("Sonics", "Nets", "2005-01-05").home == "OKC"
    assert canon("Sonics", "Nets", "2005-01-05").home_name == "Seattle SuperSonics"
    assert canon("BOS", "NYK").date == TODAY.isoformat()  # no date: today


@pytest.mark.parametrize(
    ("home", "away", "error", "needle"),
    [
        ("Celtcs", "Lakers", None, None),  # a typo still resolves
        ("Zorblats", "Lakers", NotFound, "home team: no team matches 'Zorblats'; closest"),
        ("BOS", "Quuxes", NotFound, "away team"),
        ("Celtics", "BOS", InvalidInput, r"same team \(Boston Celtics, BOS\)"),
        ("", "BOS", InvalidInput, "home must be a team name or code"),
        ("   ", "BOS", InvalidInput, "home must be a team name or code"),
        ("LA", "BOS", Ambiguous, "LA"),
    ],
)
def test_teams(home: str, away: str, error: type[Exception] | None, needle: str | None) -> None:
    if error is None:
        assert canon(home, away, "2023-01-05").home == "BOS"
        return
    with pytest.raises(error, match=needle):
        canon(home, away, "2023-01-05")


@pytest.mark.parametrize(
    ("date", "needle"),
    [
        ("yesterday", "is not a date"),
        ("2023-13-01", "does not exist"),
        ("2023-02-30", "does not exist"),
        ("20230105", "is not a date"),
        ("1900-01-01", "before the first BAA/NBA game"),
        ("1946-10-31", "before the first BAA/NBA game"),
        ("2031-01-01", "too far ahead"),
        ("9999-12-31", "too far ahead"),
        (20230105, "is not a date"),
    ],
)
def test_absurd_dates(date: object, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle) as info:
        canon("BOS", "LAL", date)
    assert "YYYY-MM-DD" in str(info.value) or "days after" in str(info.value)


def test_first_and_last_accepted_dates() -> None:
    assert canon("NYK", "Huskies", "1946-11-01").home == "NYK"
    assert canon("BOS", "LAL", (TODAY + dt.timedelta(days=366)).isoformat()).season == 2024
    with pytest.raises(InvalidInput, match="too far ahead"):
        canon("BOS", "LAL", (TODAY + dt.timedelta(days=367)).isoformat())


def test_team_that_did_not_exist_that_season() -> None:
    with pytest.raises(InvalidInput, match=r"did not play in the 2022-23 season .*1950-1950"):
        canon("Sheboygan Red Skins", "BOS", "2023-01-05")
    with pytest.raises(InvalidInput, match=r"Toronto Raptors .* did not play in the 1979-80"):
        canon("Raptors", "BOS", "1980-01-05")


def test_slates() -> None:
    ok = GameQuery(home="BOS", away="LAL", date="2023-01-05")
    assert len(canonicalize_all([ok] * 3, today=TODAY, max_slate=500)) == 3
    with pytest.raises(InvalidInput, match="10000 games in one request; the limit is 500"):
        canonicalize_all([ok] * 10_000, today=TODAY, max_slate=500)
    with pytest.raises(InvalidInput, match="no games to predict"):
        canonicalize_all([], today=TODAY, max_slate=500)
    bad = GameQuery(home="BOS", away="Nope Nopes", date="2023-01-05")
    with pytest.raises(NotFound, match=r"^games\[2\]: away team"):
        canonicalize_all([ok, ok, bad, ok], today=TODAY, max_slate=500)
