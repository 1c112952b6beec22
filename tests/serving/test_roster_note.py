"""The roster effect in a fan's terms, from a book of published priors."""

from __future__ import annotations

from nbamcp.messages import RosterPriors, TeamPrior
from nbamcp.ml.rosters import RosterBook
from nbamcp.serving.roster_note import roster_change, roster_note

BOOK = RosterBook.from_priors(
    [
        RosterPriors(
            season=2023,
            teams=[
                TeamPrior("BOS", "", 1.0, "season-table"),
                TeamPrior("BOS", "2023-02-10", 2.0, "nba_api"),
                TeamPrior("NYK", "", -3.0, "season-table"),
                TeamPrior("MIA", "", 0.0, "season-table"),
            ],
            league_mean=-1.0,
            previous={"BOS": -3.1, "NYK": -0.7, "MIA": 0.02},
        )
    ]
)
BOS, NYK, MIA = ("BOS", "Boston Celtics"), ("NYK", "New York Knicks"), ("MIA", "Miami Heat")


def test_each_roster_against_last_seasons_in_words() -> None:
    assert roster_note(BOOK, BOS, NYK, 2023, "2023-01-05") == (
        "The Boston Celtics' roster projects +4.1 points per 100 possessions better than last season's. "
        "The New York Knicks' roster projects 2.3 points per 100 possessions worse than last season's."
    )
    assert roster_note(BOOK, MIA, BOS, 2023, "2023-01-05").startswith(
        "The Miami Heat's roster projects about the same as last season's. "
    )


def test_a_roster_change_counts_from_its_date_on() -> None:
    assert roster_change(BOOK, "BOS", 2023, "2023-02-09") == 1.0 - -3.1
    assert roster_change(BOOK, "BOS", 2023, "2023-02-10") == 2.0 - -3.1


def test_nothing_to_say_without_rosters() -> None:
    assert roster_note(None, BOS, NYK, 2023, "2023-01-05") == ""
    assert roster_note(BOOK, BOS, NYK, 2024, "2024-01-05") == ""  # no priors for that season
    assert roster_change(BOOK, "LAL", 2023, "2023-01-05") is None
