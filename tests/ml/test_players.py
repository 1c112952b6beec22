"""Season lines: a traded player's total row with his first and last teams."""

from __future__ import annotations

from nbamcp.data.players import PlayerSeason
from nbamcp.ml.players import season_lines


def test_season_lines_take_the_total_row_and_order_the_stints(all_players: list[PlayerSeason]) -> None:
    lines = season_lines(all_players)
    harden = lines[2021]["hardeja01"]
    assert (harden.first_team, harden.last_team, harden.games, harden.minutes) == ("HOU", "BKN", 44, 1609)
    assert harden.bpm == 7.2 and harden.raptor is not None and harden.age == 31
    one_team = lines[2023]["hardeja01"]
    assert one_team.first_team == one_team.last_team == "PHI" and one_team.raptor is None  # RAPTOR ends 2022
    assert sum(len(v) for v in lines.values()) == len({(p.player_id, p.season) for p in all_players})


def test_a_total_row_without_team_rows_gives_no_line() -> None:
    total = PlayerSeason("a01", 2020, None, 0, 25, 10, 200.0, 1.5)
    assert season_lines([total]) == {}
    team = PlayerSeason("a01", 2020, "BOS", 1, None, 10, 200.0, 1.5)
    assert season_lines([team])[2020]["a01"].first_team == "BOS"
