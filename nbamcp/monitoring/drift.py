"""Two-sample drift of one column, and of a dataset: the test chosen by a stated rule.

The rule follows Evidently's defaults (its ``DataDriftPreset``), with the size read off the
CURRENT window (the reference sample is a fixed few thousand training rows, so its size
says nothing about how much the live side can tell):

- a window under ``SMALL_WINDOW`` (1,000) rows gets a statistical test, drift at p < 0.05:
  Kolmogorov-Smirnov for a continuous column, chi-square (the 2 x k contingency table of
  reference and current counts) for a flag;
- a larger window gets a distance, drift at 0.1: Wasserstein distance normed by the
  reference's standard deviation for a continuous column, Jensen-Shannon distance (base 2)
  for a flag. With thousands of rows a test finds every tiny, harmless difference
  significant; a distance says how big the difference is.

Whatever decides, every column also reports the others as context: KS statistic and p, the
normed Wasserstein distance, the population stability index (PSI over the reference's
deciles: < 0.1 none, 0.1-0.2 moderate, > 0.2 major) and the Jensen-Shannon distance over the
same bins. A dataset drifts when the share of drifted columns exceeds ``DRIFT_SHARE`` (0.5).

The calendar is matched, not tested: a window of consecutive games sits at one stage of a
season (early-season games have no form yet, ratings spread out as a season goes on, the
playoffs are another population), so comparing it with training rows from every stage
would flag the calendar itself (measured on real seasons: ``season_frac`` and ``playoff``
drifted in every window, and so did a dozen stage-dependent features). The reference is
therefore stratified first (``stage_matched``): the reference rows are drawn from each stage
(deciles of ``season_frac``, and the playoffs and play-in as one more) in the window's
proportions. The calendar columns are still reported, but not counted in the share.

Missing values (a team's form before its first game) are left out of the tests; the
missing shares are reported beside them. A column with fewer than ``MIN_ROWS`` present
values in the window is not tested (and not counted in the share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SMALL_WINDOW = 1000
P_VALUE = 0.05
DISTANCE = 0.1
DRIFT_SHARE = 0.5
PSI_MODERATE, PSI_MAJOR = 0.1, 0.2
MIN_ROWS = 30
CALENDAR = ("season_frac", "playoff", "playin")  # the stage of a season: matched, not counted
STAGES = 10  # deciles of season_frac, plus one stage for the playoffs and play-in
PSI_BINS = 10
_EPS = 1e-4  # share given to an empty bin, so PSI stays finite

Kind = Literal["continuous", "flag"]
Test = Literal["ks", "chi2", "wasserstein", "jensenshannon"]


@dataclass(frozen=True, slots=True)
class Summary:
    """What a column looks like on one side: present values and the missing share."""

    n: int
    missing: float
    mean: float | None
    std: float | None
    q05: float | None
    median: float | None
    q95: float | None


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    name: str
    kind: Kind
    test: Test | None  # None: not tested (too few present values)
    statistic: float | None  # what the test decided on: KS D, chi-square, or the distance
    p_value: float | None  # tests only
    threshold: float  # p below it (tests) or distance above it (distances) is drift
    drifted: bool
    ks_statistic: float | None
    ks_p_value: float | None
    wasserstein_normed: float | None
    psi: float | None
    jensen_shannon: float | None
    reference: Summary
    current: Summary
    counted: bool = True  # False for the calendar columns (matched, so not evidence of drift)
    note: str = ""

    @property
    def tested(self) -> bool:
        return self.test is not None

    @property
    def psi_level(self) -> str:
        if self.psi is None:
            return "n/a"
        return "major" if self.psi > PSI_MAJOR else "moderate" if self.psi > PSI_MODERATE else "none"


@dataclass(frozen=True, slots=True)
class DatasetDrift:
    columns: list[ColumnDrift]
    n_reference: int  # reference rows compared (after stage matching)
    n_current: int
    share: float  # drifted / tested columns (0 when none could be tested)
    threshold: float
    drifted: bool
    prediction: ColumnDrift | None = None  # the model's P(home win), when both sides have them

    @property
    def n_tested(self) -> int:
        return sum(c.tested for c in self.columns)

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)


def choose_test(kind: Kind, n_current: int) -> Test:
    """The rule: statistical tests below ``SMALL_WINDOW`` rows, distances from it on."""
    if n_current < SMALL_WINDOW:
        return "ks" if kind == "continuous" else "chi2"
    return "wasserstein" if kind == "continuous" else "jensenshannon"


def column_kind(reference: np.ndarray) -> Kind:
    """A flag when every present reference value is 0 or 1, else continuous."""
    ok = reference[~np.isnan(reference)]
    return "flag" if ok.size and bool(np.isin(ok, (0.0, 1.0)).all()) else "continuous"


def summary(values: np.ndarray) -> Summary:
    values = np.asarray(values, dtype=np.float64)
    ok = values[~np.isnan(values)]
    missing = round(float(1 - ok.size / values.size), 6) if values.size else 0.0
    if not ok.size:
        return Summary(0, missing, None, None, None, None, None)
    q05, med, q95 = np.quantile(ok, [0.05, 0.5, 0.95])
    return Summary(int(ok.size), missing, _r(ok.mean()), _r(ok.std()), _r(q05), _r(med), _r(q95))


def _r(x: float) -> float:
    return round(float(x), 6)


def _bins(ref: np.ndarray, cur: np.ndarray, kind: Kind) -> tuple[np.ndarray, np.ndarray]:
    """Shares of reference and current values per bin: categories for a flag, the reference's
    deciles (distinct edges, open ends) for a continuous column."""
    if kind == "flag":
        cats = np.union1d(np.unique(ref), np.unique(cur))
        r = np.array([(ref == c).sum() for c in cats], dtype=np.float64)
        c = np.array([(cur == v).sum() for v in cats], dtype=np.float64)
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, PSI_BINS + 1))[1:-1])
        r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1).astype(float)
        c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1).astype(float)
    return r / r.sum(), c / c.sum()


def psi(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    """Population stability index: sum over bins of (cur - ref) * ln(cur / ref)."""
    r = np.clip(ref_shares, _EPS, None)
    c = np.clip(cur_shares, _EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2: 0 identical, 1 disjoint)."""
    from scipy.spatial import distance  # see _stats

    return float(distance.jensenshannon(ref_shares, cur_shares, base=2))


def _stats() -> Any:
    # Imported on the first test, not with the module: scipy.stats costs 1-4 s to import on these
    # machines, and the monitor worker (which imports this module) starts beside the serving path.
    from scipy import stats

    return stats


def _chi2(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    cats = np.union1d(np.unique(ref), np.unique(cur))
    if cats.size < 2:
        return 0.0, 1.0  # one value on both sides: nothing differs
    table = np.array([[(ref == c).sum() for c in cats], [(cur == c).sum() for c in cats]])
    res = _stats().chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def _decide(kind: Kind, ref: np.ndarray, cur: np.ndarray) -> tuple[Test, float, float | None, float, bool]:
    """(test, statistic, p-value or None, threshold, drifted) by the rule."""
    test = choose_test(kind, cur.size)
    p_value: float | None = None
    if test == "ks":
        res = _stats().ks_2samp(ref, cur)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    elif test == "chi2":
        statistic, p_value = _chi2(ref, cur)
    elif test == "wasserstein":
        statistic = _wasserstein_normed(ref, cur)
    else:
        statistic = jensen_shannon(*_bins(ref, cur, kind))
    if p_value is not None:
        return test, statistic, p_value, P_VALUE, p_value < P_VALUE
    return test, statistic, None, DISTANCE, statistic > DISTANCE


def _wasserstein_normed(ref: np.ndarray, cur: np.ndarray) -> float:
    # Evidently norms by the reference's std; a constant reference column gets the absolute distance.
    ref_std = float(ref.std())
    return float(_stats().wasserstein_distance(ref, cur)) / (ref_std if ref_std > 0 else 1.0)


def _p(p: float | None) -> float | None:
    return None if p is None else float(f"{p:.6g}")


def column_drift(
    name: str, reference: np.ndarray, current: np.ndarray, kind: Kind | None = None, *, counted: bool = True
) -> ColumnDrift:
    """Drift of one column between a reference sample and a current window (NaN = missing).

    The present values are tested by the rule; when either side has missing values, the
    missing indicator is tested too (as a flag, by the same rule), and the column drifts when
    either does: a feature that went missing (a team's history lost) is drift, not silence.
    """
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    kind = kind or column_kind(reference)
    ref_miss, cur_miss = np.isnan(reference), np.isnan(current)
    ref, cur = reference[~ref_miss], current[~cur_miss]
    ref_sum, cur_sum = summary(reference), summary(current)
    missing_drift, note = False, ""
    if (ref_miss.any() or cur_miss.any()) and min(reference.size, current.size) >= MIN_ROWS:
        m_test, _, m_p, _, missing_drift = _decide("flag", ref_miss.astype(float), cur_miss.astype(float))
        if missing_drift:
            p_text = f"p={m_p:.3g}" if m_p is not None else m_test
            note = f"missing share {ref_sum.missing:.1%} -> {cur_sum.missing:.1%} ({p_text})"
    if cur.size < MIN_ROWS or ref.size < MIN_ROWS:
        why = f"values not tested: {min(cur.size, ref.size)} present ({MIN_ROWS} needed)"
        return ColumnDrift(
            name, kind, "chi2" if missing_drift else None, None, None, P_VALUE, missing_drift, None, None,
            None, None, None, ref_sum, cur_sum, counted, note="; ".join(filter(None, [note, why])),
        )  # fmt: skip
    test, statistic, p_value, threshold, drifted = _decide(kind, ref, cur)
    ks = _stats().ks_2samp(ref, cur)
    r_sh, c_sh = _bins(ref, cur, kind)
    return ColumnDrift(
        name, kind, test, _r(statistic), _p(p_value), threshold, bool(drifted or missing_drift),
        _r(ks.statistic), _p(float(ks.pvalue)), _r(_wasserstein_normed(ref, cur)), _r(psi(r_sh, c_sh)),
        _r(jensen_shannon(r_sh, c_sh)), ref_sum, cur_sum, counted, note,
    )  # fmt: skip


def stage_keys(names: Sequence[str], X: np.ndarray) -> np.ndarray | None:
    """The stage of each row (0-9: deciles of ``season_frac``; 10: playoffs or play-in), or None
    when the rows carry no calendar."""
    if "season_frac" not in names:
        return None
    frac = np.nan_to_num(X[:, list(names).index("season_frac")], nan=0.0)
    keys = np.clip((frac * STAGES).astype(int), 0, STAGES - 1)
    for flag in ("playoff", "playin"):
        if flag in names:
            keys[X[:, list(names).index(flag)] == 1] = STAGES
    return keys


def stage_matched(ref_keys: np.ndarray, cur_keys: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Indices of reference rows drawn, without replacement, from each stage in the current
    window's proportions, as many as the scarcest stage allows. Stages the reference lacks are
    left out (the window's rows there are compared with nothing closer)."""
    stages, counts = np.unique(cur_keys, return_counts=True)
    have = np.array([(ref_keys == s).sum() for s in stages])
    stages, counts, have = stages[have > 0], counts[have > 0], have[have > 0]
    if not stages.size:
        return np.arange(ref_keys.size)
    shares = counts / counts.sum()
    total = float(np.min(have / shares))
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(ref_keys == s), max(1, int(share * total)), replace=False)
        for s, share in zip(stages, shares, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def dataset_drift(
    names: Sequence[str],
    reference: np.ndarray,
    current: np.ndarray,
    *,
    kinds: Sequence[Kind | None] | None = None,
    share: float = DRIFT_SHARE,
    calendar: Sequence[str] = CALENDAR,
    seed: int = 0,
    reference_probs: np.ndarray | None = None,
    current_probs: np.ndarray | None = None,
) -> DatasetDrift:
    """Every column of ``reference`` (rows x columns) against ``current``, the reference matched
    to the window's stages of the season first; drift when the share of drifted (tested,
    non-calendar) columns is above ``share``. With both sides' probabilities, the prediction
    drift too (same rows, same rule: the spread of predictions also follows the calendar)."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if (
        reference.ndim != 2
        or current.ndim != 2
        or (reference.shape[1], current.shape[1]) != (len(names),) * 2
    ):
        raise ValueError(
            f"reference {reference.shape} and current {current.shape} need {len(names)} columns each"
        )
    kinds = kinds or [None] * len(names)
    ref_keys, cur_keys = stage_keys(names, reference), stage_keys(names, current)
    rows = np.arange(reference.shape[0])
    if ref_keys is not None and cur_keys is not None and current.shape[0]:
        rows = stage_matched(ref_keys, cur_keys, seed=seed)
    reference = reference[rows]
    prediction = None
    if reference_probs is not None and current_probs is not None:
        ref_p = np.asarray(reference_probs, dtype=np.float64)[rows]
        prediction = column_drift("home_win_prob", ref_p, np.asarray(current_probs, dtype=np.float64))
    cols = [
        column_drift(n, reference[:, j], current[:, j], kinds[j], counted=n not in calendar)
        for j, n in enumerate(names)
    ]
    tested = [c for c in cols if c.tested and c.counted]
    drift_share = sum(c.drifted for c in tested) / len(tested) if tested else 0.0
    return DatasetDrift(
        columns=cols,
        n_reference=int(reference.shape[0]),
        n_current=int(current.shape[0]),
        share=round(drift_share, 6),
        threshold=share,
        drifted=bool(tested) and drift_share > share,
        prediction=prediction,
    )
