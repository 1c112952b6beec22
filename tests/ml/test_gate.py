"""The promotion gate's decision on paired per-game log losses (``nbamcp.ml.gate.decide``).

Losses are constructed from simulated seasons: true home-win probabilities, outcomes drawn
from them, and two forecasters that see the truth through more or less noise. A worse (or
equally good) challenger must not be promoted; a better one must be, once there are enough
games; the false-promotion rate under "no difference" is measured and stays near alpha.
"""

from __future__ import annotations

import numpy as np
import pytest

from nbamcp.errors import InvalidInput
from nbamcp.ml.gate import decide
from nbamcp.ml.paired import losses

N_GAMES = 600
GAMES_PER_DATE = 8


def season(seed: int, noise_challenger: float, noise_champion: float, n: int = N_GAMES):
    """(challenger losses, champion losses, dates) of one simulated stretch of games."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0.3, 0.8, n)  # home court and team strength
    truth = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < truth).astype(float)

    def forecast(noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(logit + rng.normal(0.0, noise, n))))

    dates = [
        f"2023-{1 + i // (GAMES_PER_DATE * 28):02d}-{1 + (i // GAMES_PER_DATE) % 28:02d}" for i in range(n)
    ]
    return (
        losses(forecast(noise_challenger), y, "log_loss"),
        losses(forecast(noise_champion), y, "log_loss"),
        dates,
    )


def test_a_clearly_better_challenger_is_promoted() -> None:
    ch, cp, dates = season(1, noise_challenger=0.1, noise_champion=0.9)
    out = decide(ch, cp, dates, min_games=200, alpha=0.05, replicates=2000, seed=0)
    assert out is not None and out.promote
    assert out.n_games == N_GAMES and out.n_dates == N_GAMES // GAMES_PER_DATE
    assert out.mean_diff < out.upper < 0
    assert out.challenger_log_loss < out.champion_log_loss
    assert out.p_value < 0.05 and out.t_stat < 0
    assert "promote" in out.reason and f"{out.upper:+.4f}" in out.reason


@pytest.mark.parametrize("seed", range(30))
def test_a_worse_challenger_is_never_promoted(seed: int) -> None:
    ch, cp, dates = season(100 + seed, noise_challenger=0.6, noise_champion=0.3)
    out = decide(ch, cp, dates, min_games=200, replicates=500, seed=seed)
    assert out is not None and not out.promote
    assert "keep the champion" in out.reason


def test_false_promotions_under_no_difference_stay_near_alpha() -> None:
    # Both forecasters equally noisy: any promotion is a false one. 200 seasons, alpha 0.05.
    promoted = 0
    for seed in range(200):
        ch, cp, dates = season(1000 + seed, noise_challenger=0.5, noise_champion=0.5, n=300)
        out = decide(ch, cp, dates, min_games=200, alpha=0.05, replicates=2000, seed=seed)
        assert out is not None
        promoted += out.promote
    assert promoted / 200 <= 0.08  # alpha 0.05; these 200 seasons: see docs/model.md


def test_no_decision_before_min_games() -> None:
    ch, cp, dates = season(2, noise_challenger=0.1, noise_champion=0.9, n=150)
    assert decide(ch, cp, dates, min_games=200) is None
    assert decide(ch, cp, dates, min_games=150) is not None


def test_identical_losses_keep_the_champion_with_finite_numbers() -> None:
    ch, _, dates = season(3, 0.5, 0.5)
    out = decide(ch, ch, dates, min_games=100)
    assert out is not None and not out.promote
    assert out.mean_diff == 0 and out.t_stat == 0 and out.p_value == 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        (([0.1, 0.2], [0.1], ["2023-01-01", "2023-01-02"]), {"min_games": 2}, "equal lengths"),
        (([0.1, 0.2], [0.1, 0.3], ["2023-01-01", "2023-01-02"]), {"min_games": 2, "alpha": 0.3}, "alpha"),
        (([0.1, float("nan")], [0.1, 0.3], ["2023-01-01", "2023-01-02"]), {"min_games": 2}, "finite"),
        (([0.1, 0.2], [0.1, 0.3], ["2023-01-01", "2023-01-02"]), {"min_games": 1}, "min_games"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple, kwargs: dict, text: str) -> None:
    with pytest.raises(InvalidInput, match=text):
        decide(*args, **kwargs)
