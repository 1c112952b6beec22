"""One sentence a fan can read for each factor of a prediction, and names for unknown facts.

The numbers come from the feature row (``nbamcp.ml.features``) and are said the way
a broadcast would say them: "The Knicks are rated 48 Elo points above the Celtics,
home court included", never "rating gap 48.4". How much a factor is worth, and to
whom, is the prediction's ``points`` / ``favours`` (``nbamcp.serving.explain``).
"""

from __future__ import annotations

from typing import NamedTuple

from nbamcp.ml.features import FORM_N, REST_CAP


class Side(NamedTuple):
    id: str  # franchise id, e.g. "NYK"
    name: str  # the team's name that season, e.g. "New York Knicks"


# What a fan calls the facts the data cannot know for a game past its end: per-team facts
# (the feature after "home_" / "away_"), then facts of the game.
_TEAM_FACTS = {
    "rest": "days of rest",
    "b2b": "back-to-backs",
    "form_margin": "recent form",
    "season_margin": "record this season",
}
_GAME_FACTS = {"season_frac": "how far into the season the game is", "roster_diff": "the rosters' strength"}


def possessive(name: str) -> str:
    """ "the Boston Celtics'", "the Miami Heat's"."""
    return f"the {name}'" if name.endswith("s") else f"the {name}'s"


def unknown_facts(names: list[str], home: Side, away: Side) -> list[str]:
    """Readable names of the unknown features a fan would ask about, both teams' facts said once."""
    out = []
    for fact, said in _TEAM_FACTS.items():
        h, a = f"home_{fact}" in names, f"away_{fact}" in names
        if h and a:
            out.append(f"both teams' {said}")
        elif h or a:
            out.append(f"{possessive((home if h else away).name)} {said}")
    return out + [said for fact, said in _GAME_FACTS.items() if fact in names]


def _above(v: float) -> str:
    return "above" if v >= 0 else "below"


def _margin(team: str, v: float, span: str) -> str:
    if abs(v) < 0.05:
        return f"{team} have broken even on points {span}."
    verb = "outscored" if v > 0 else "been outscored by"
    return f"{team} have {verb} opponents by {abs(v):.1f} points a game {span}."


def _rest(team: str, v: float) -> str:
    days = round(v)
    if days >= REST_CAP:
        return f"{team} come in with {REST_CAP} or more days of rest."
    return f"{team} come in with {days} day{'s' if days != 1 else ''} of rest."


def sentence(feature: str, v: float, home: Side, away: Side) -> str:
    """The factor said in words, from its value ``v`` (known: never NaN here)."""
    h, a = home.name, away.name
    last = f"over their last {FORM_N} games"
    match feature:
        case "elo_diff":
            lead, trail = (h, a) if v >= 0 else (a, h)
            return f"The {lead} are rated {abs(v):.0f} Elo points above the {trail}, home court included."
        case "home_elo" | "away_elo":
            team = h if feature.startswith("home") else a
            return f"The {team} are rated {abs(v):.0f} Elo points {_above(v)} the league average."
        case "home_court":
            return f"Playing at home is worth {v:.0f} Elo points to the {h}."
        case "home_form_margin" | "away_form_margin":
            return _margin(f"The {h if feature.startswith('home') else a}", v, last)
        case "home_season_margin" | "away_season_margin":
            return _margin(f"The {h if feature.startswith('home') else a}", v, "this season")
        case "home_form_wins" | "away_form_wins":
            team = h if feature.startswith("home") else a
            return f"The {team} have won {v:.0%} of their last {FORM_N} games."
        case "home_season_wins" | "away_season_wins":
            team = h if feature.startswith("home") else a
            return f"The {team} have won {v:.0%} of their games this season."
        case "home_rest" | "away_rest":
            return _rest(f"The {h if feature.startswith('home') else a}", v)
        case "home_b2b" | "away_b2b":
            team = h if feature.startswith("home") else a
            if v >= 0.5:
                return f"The {team} played yesterday: this is the second night of a back-to-back."
            return f"The {team} did not play yesterday."
        case "season_frac":
            return f"About {v:.0%} of the regular season has been played."
        case "playoff":
            return "It is a playoff game." if v >= 0.5 else "It is a regular-season game."
        case "playin":
            return "It is a play-in game." if v >= 0.5 else "It is not a play-in game."
        case "neutral":
            return "Neither team plays at home." if v >= 0.5 else f"The {h} play at home."
        case "roster_diff" | "roster_diff_early" | "roster_diff_playoff":
            lead, trail = (h, a) if v >= 0 else (a, h)
            return (
                f"T{possessive(lead)[1:]} roster projects {abs(v):.1f} points per 100 "
                f"possessions stronger than {possessive(trail)}."
            )
    return f"{feature} = {v:.3g}."
