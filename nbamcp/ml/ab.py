"""The two arms of ab traffic, compared on realized games (numbers, no decision).

In ab traffic (``[inference] traffic = "ab"``) the challenger answers a sticky share of the
games and the champion the rest; each is scored in shadow on the other's games, so every
realized game has both log losses (``nba.monitor.paired``) and the log says which one was
served. Two comparisons, side by side:

- the arms, as a classic A/B test sees them: the served log loss of the challenger's games
  against the champion's games (different games: Welch's t-test, two-sided). It is what the
  callers got, but the arms differ in their games as well as their models, so it is noisy;
- the paired difference on every game (challenger - champion, both scored on each): the
  same games, far less noise (two-sided t-test here; the gate's one-sided test with the date
  bootstrap is what promotes).

Nothing is rolled back on these numbers (that is canary's watch); the gate decides as in
shadow traffic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nbamcp.messages import ABArm, ABComparison, PairedGame


def _mean(x: np.ndarray) -> float | None:
    return round(float(np.mean(x)), 6) if x.size else None


def _finite(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def _tests(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> tuple[float | None, ...]:
    """(Welch t, p) of the arms' served losses and (t, p) of the paired differences."""
    from scipy import stats  # the trainer has scipy; imported when there is something to test

    arms_t = arms_p = paired_t = paired_p = None
    if a.size >= 2 and b.size >= 2 and (np.std(a) > 0 or np.std(b) > 0):
        r = stats.ttest_ind(a, b, equal_var=False)
        arms_t, arms_p = _finite(float(r.statistic)), _finite(float(r.pvalue))
    if d.size >= 2 and np.std(d) > 0:
        r = stats.ttest_1samp(d, 0.0)
        paired_t, paired_p = _finite(float(r.statistic)), _finite(float(r.pvalue))
    return arms_t, arms_p, paired_t, paired_p


def compare_arms(
    games: Sequence[PairedGame], *, challenger: int, champion: int, share: float, checked_at: str | None
) -> ABComparison:
    """``games`` paired as (a = challenger, b = champion), as the gate asks the monitor."""
    kept = [g for g in games if g.served in ("a", "b")]
    la = np.array([g.loss_a for g in kept], dtype=np.float64)
    lb = np.array([g.loss_b for g in kept], dtype=np.float64)
    by_challenger = np.array([g.served == "a" for g in kept], dtype=bool)
    served = np.where(by_challenger, la, lb)
    arm_c, arm_k = la[by_challenger], lb[~by_challenger]
    arms = [
        ABArm(
            arm="challenger", version=challenger, n_games=int(arm_c.size), served_log_loss=_mean(arm_c),
            other_log_loss=_mean(lb[by_challenger]),
        ),
        ABArm(
            arm="champion", version=champion, n_games=int(arm_k.size), served_log_loss=_mean(arm_k),
            other_log_loss=_mean(la[~by_challenger]),
        ),
    ]  # fmt: skip
    d = la - lb
    arms_t, arms_p, paired_t, paired_p = _tests(arm_c, arm_k, d)
    mean_diff = _mean(d)
    if not kept:
        summary = f"ab: challenger v{challenger} vs champion v{champion}: no realized games answered yet"
    else:
        c, k = arms
        summary = (
            f"ab (challenger share {share:g}) on {len(kept)} realized games: challenger v{challenger} "
            f"answered {c.n_games} (log loss {_text(c.served_log_loss)}; champion on them "
            f"{_text(c.other_log_loss)}), "
            f"champion v{champion} {k.n_games} (log loss {_text(k.served_log_loss)}; challenger on them "
            f"{_text(k.other_log_loss)}); arms Welch t {_text(arms_t, 2)}, p {_text(arms_p, 3)}; paired "
            f"challenger - champion {_text(mean_diff, 4, sign=True)} a game, t {_text(paired_t, 2)}, "
            f"p {_text(paired_p, 3)}; served {_text(_mean(served))} vs champion alone {_text(_mean(lb))}"
        )
    return ABComparison(
        challenger=challenger, champion=champion, share=share, n_games=len(kept), arms=arms,
        served_log_loss=_mean(served), champion_log_loss=_mean(lb), challenger_log_loss=_mean(la),
        mean_diff=mean_diff, paired_t=paired_t, paired_p=paired_p, arms_t=arms_t, arms_p=arms_p,
        summary=summary, checked_at=checked_at,
    )  # fmt: skip


def _text(x: float | None, digits: int = 4, *, sign: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
