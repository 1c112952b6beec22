"""How often the promotion gate promotes: false promotions with no true difference, and power.

Simulated stretches of games: a true home-win logit per game (normal, mean 0.3, sd 0.8),
the outcome drawn from it, 8 games per date, and two forecasters that see the true logit
through normal noise. Equal noise: every promotion is a false one (the rate should be at
most alpha). Less noise for the challenger: the share promoted is the gate's power.

    .venv/bin/python bench/gate_calibration.py [--seasons 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from nbamcp.ml.gate import decide
from nbamcp.ml.paired import losses

GAMES_PER_DATE = 8


def stretch(seed: int, noise_challenger: float, noise_champion: float, n: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    logit = rng.normal(0.3, 0.8, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)

    def forecast(noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(logit + rng.normal(0.0, noise, n))))

    dates = [f"d{i // GAMES_PER_DATE:04d}" for i in range(n)]
    return (
        losses(forecast(noise_challenger), y, "log_loss"),
        losses(forecast(noise_champion), y, "log_loss"),
        dates,
    )


def rate(seasons: int, noise: tuple[float, float], n: int, replicates: int, alpha: float) -> dict[str, float]:
    promoted = boot = ttest = 0
    diffs = []
    for s in range(seasons):
        ch, cp, dates = stretch(10_000 + s, *noise, n)
        out = decide(ch, cp, dates, min_games=n, alpha=alpha, replicates=replicates, seed=s)
        assert out is not None
        promoted += out.promote
        boot += out.upper < 0
        ttest += out.p_value < alpha
        diffs.append(out.mean_diff)
    return {
        "games": n,
        "noise_challenger": noise[0],
        "noise_champion": noise[1],
        "mean_diff": round(float(np.mean(diffs)), 5),
        "promoted": promoted / seasons,
        "bootstrap_alone": boot / seasons,
        "t_test_alone": ttest / seasons,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seasons", type=int, default=1000)
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    started = time.perf_counter()
    rows = [rate(args.seasons, (0.5, 0.5), n, args.replicates, args.alpha) for n in (200, 400)]
    rows += [rate(args.seasons, (0.3, 0.5), n, args.replicates, args.alpha) for n in (200, 400, 800)]
    if args.json:
        print(json.dumps({"alpha": args.alpha, "seasons": args.seasons, "rows": rows}))
        return
    print(f"alpha {args.alpha}, {args.seasons} simulated stretches per row, {args.replicates} replicates")
    print("games  noise ch/cp  mean diff  promoted  bootstrap alone  t-test alone")
    for r in rows:
        print(
            f"{r['games']:5d}  {r['noise_challenger']:.1f}/{r['noise_champion']:.1f}"
            f"      {r['mean_diff']:+.5f}"
            f"   {r['promoted']:.3f}     {r['bootstrap_alone']:.3f}            {r['t_test_alone']:.3f}"
        )
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
