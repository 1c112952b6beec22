"""Player projections: the Marcel arithmetic, the age curve, the no-history prior, no look-ahead."""

from __future__ import annotations

import msgspec
import pytest

from nbamcp.data.players import PlayerSeason
from nbamcp.errors import InvalidInput
from nbamcp.ml.players import SeasonLine, season_lines
from nbamcp.ml.projections import (
    MAX_AGE,
    MIN_AGE,
    ProjectionParams,
    age_change,
    fit_age_curve,
    minutes_scale,
    project_season,
)


def line(pid: str, season: int, minutes: float, bpm: float, age: int | None = 25, team: str = "AAA",
         raptor: float | None = None) -> SeasonLine:  # fmt: skip
    return SeasonLine(pid, season, age, 60, minutes, bpm, raptor, team, team)


def test_marcel_average_of_three_seasons_regressed_to_replacement() -> None:
    # Too few pairs for an age curve (it stays flat): the arithmetic alone.
    lines = {
        2001: {"a": line("a", 2001, 1000, 4.0), "old": line("old", 2001, 2000, 1.0)},
        2002: {"a": line("a", 2002, 2000, 2.0), "rookie": line("rookie", 2002, 500, -3.0)},
        2003: {"a": line("a", 2003, 3000, 6.0), "rookie": line("rookie", 2003, 1500, -1.0)},
    }
    p = project_season(lines, 2004)
    assert p.age_curve == tuple(0.0 for _ in range(MIN_AGE, MAX_AGE + 1))
    num = 1.0 * 3000 * 6.0 + 0.6 * 2000 * 2.0 + 0.3 * 1000 * 4.0 + 1000 * -2.0
    den = 1.0 * 3000 + 0.6 * 2000 + 0.3 * 1000 + 1000
    assert p.get("a").rating == pytest.approx(num / den)
    assert p.get("a").seasons == 3
    # "old" played only in S-3: still projected, pulled hard toward replacement.
    assert p.get("old").rating == pytest.approx((0.3 * 2000 * 1.0 - 2000.0) / (0.3 * 2000 + 1000))
    # Nobody has history in the prior's window here but "rookie" in 2002 (no 2001 line).
    assert p.no_history.rating == pytest.approx(-3.0) and p.no_history.minutes == pytest.approx(
        500 * minutes_scale(lines[2002], ProjectionParams().team_minutes)
    )
    assert p.get("never-seen") == p.no_history


def test_raptor_share_blends_where_raptor_exists() -> None:
    lines = {2001: {"a": line("a", 2001, 2000, 4.0, raptor=0.0), "b": line("b", 2001, 2000, 4.0)}}
    p = project_season(lines, 2002, ProjectionParams(raptor_share=0.5, prior_minutes=0.0))
    assert p.get("a").rating == pytest.approx(2.0)
    assert p.get("b").rating == pytest.approx(4.0)  # no RAPTOR: BPM alone


def test_projection_reads_no_later_season(all_players: list[PlayerSeason]) -> None:
    lines = season_lines(all_players)
    early = {s: v for s, v in lines.items() if s < 2010}
    base = project_season(early, 2010)
    # Later seasons present, or present with every rating and minute changed: nothing moves.
    changed = dict(lines)
    for s in range(2010, max(lines) + 1):
        changed[s] = {
            pid: msgspec.structs.replace(ln, bpm=-(ln.bpm or 0.0) + 7.0, minutes=ln.minutes / 2 + 1)
            for pid, ln in lines[s].items()
        }
    for other in (lines, changed):
        assert project_season(other, 2010) == base
    assert project_season(changed, 2012) != project_season(lines, 2012)


def test_real_projections_look_like_basketball(all_players: list[PlayerSeason]) -> None:
    lines = season_lines(all_players)
    p = project_season(lines, 2016)
    # Young players improve, old ones decline; the curve crosses zero in the late twenties.
    curve = dict(zip(range(MIN_AGE, MAX_AGE + 1), p.age_curve, strict=True))
    assert curve[20] > 0.5 and curve[34] < -0.2
    assert 25 <= min(a for a, d in curve.items() if d < 0) <= 30
    assert age_change(p.age_curve, 22, 25) == pytest.approx(curve[23] + curve[24] + curve[25])
    # The no-history prior is a below-average bench player.
    assert -3.0 < p.no_history.rating < -1.0 and 400 < p.no_history.minutes < 1000
    # Curry after his first MVP season projects among the best; minutes stay in an 82-game range.
    best = sorted(p.players, key=lambda k: -p.players[k].rating * p.players[k].minutes)[:10]
    assert "curryst01" in best
    assert all(0 <= q.minutes <= 82 * 48 for q in p.players.values())
    # The 66-game 2012 season's minutes count as a full season's.
    assert minutes_scale(lines[2012], 19680.0) == pytest.approx(82 / 66, rel=0.05)


def test_bad_inputs() -> None:
    lines = {2001: {"a": line("a", 2001, 1000, 1.0)}}
    with pytest.raises(InvalidInput, match="no player season before 2001"):
        project_season(lines, 2001)
    with pytest.raises(InvalidInput, match="raptor_share"):
        project_season(lines, 2002, ProjectionParams(raptor_share=2.0))
    with pytest.raises(InvalidInput, match="weights"):
        project_season(lines, 2002, ProjectionParams(weights=()))
    assert fit_age_curve(lines, 2002) == tuple(0.0 for _ in range(MIN_AGE, MAX_AGE + 1))
