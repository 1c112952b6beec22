"""The monitor's drift state: checks of served windows against the champion's reference sample.

- ``check`` compares a window of served games (their feature vectors and probabilities, from the
  monitor's own file) with the reference sample of the version that served them
  (``nbamcp.monitoring.drift``: the test chosen by the window's size, the reference matched to the
  window's stages of the season), estimates the Brier the probabilities expect (CBPE-style) and
  sets it beside the realized one, and scores calibration on the window's realized games;
- ``feed_losses`` keeps Page-Hinkley over the champion's realized per-game Brier, in game-date
  order, restarting when the champion changes;
- a scheduled check (not an ad hoc window) sets the alarm state: dataset drift, prediction drift,
  concept drift. The state is small and bounded (the latest report, 50 detections, one detector).

The statistics are CPU work of tens of milliseconds: they run in a thread, one check at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import msgspec
import numpy as np

from nbamcp.errors import NotFound
from nbamcp.messages import (
    CalibrationArm,
    CalibrationReport,
    ColumnSummary,
    ConceptDrift,
    DriftAlarm,
    DriftReport,
    DriftSummary,
    FeatureDrift,
    PerformanceEstimate,
    ReferenceSample,
    ReliabilityRow,
)
from nbamcp.messages.drift import MAX_WINDOW
from nbamcp.monitoring.calibration import ReliabilityBin, expected_brier, reliability
from nbamcp.monitoring.drift import ColumnDrift, DatasetDrift, Summary, dataset_drift
from nbamcp.monitoring.pagehinkley import PageHinkley
from nbamcp.predlog import windows
from nbamcp.predlog.outcomes import OutcomeBook

LOSS_PAGE = 5000  # realized losses read per query when the detector catches up
MAX_SCORED = 100_000  # realized games in one calibration report
DETECTIONS_KEPT = 50


@dataclass(frozen=True, slots=True)
class Settings:
    window_predictions: int = 500
    window_days: int | None = None
    ph_threshold: float = 8.0
    ph_delta: float = 0.005
    concept_alarm_games: int = 200


@dataclass(frozen=True, slots=True)
class Served:
    """The version whose predictions are checked, and its reference sample."""

    model_name: str
    version: int
    sample: ReferenceSample


def _summary(s: Summary) -> ColumnSummary:
    return ColumnSummary(
        n=s.n, missing=s.missing, mean=s.mean, std=s.std, q05=s.q05, median=s.median, q95=s.q95
    )


def feature_drift(c: ColumnDrift) -> FeatureDrift:
    return FeatureDrift(
        name=c.name, kind=c.kind, test=c.test, statistic=c.statistic, p_value=c.p_value,
        threshold=c.threshold, drifted=c.drifted, counted=c.counted, ks_statistic=c.ks_statistic,
        ks_p_value=c.ks_p_value, wasserstein_normed=c.wasserstein_normed, psi=c.psi, psi_level=c.psi_level,
        jensen_shannon=c.jensen_shannon, reference=_summary(c.reference), current=_summary(c.current),
        note=c.note,
    )  # fmt: skip


def _round(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def performance(w: windows.Window) -> PerformanceEstimate:
    done = ~np.isnan(w.outcome)
    p, y = w.probs[done], w.outcome[done]
    realized = reliability(p, y) if p.size else None
    return PerformanceEstimate(
        n_predictions=w.n,
        expected_brier=_round(expected_brier(w.probs)) if w.n else None,
        n_realized=int(done.sum()),
        realized_brier=realized.brier if realized else None,
        expected_brier_realized=realized.expected_brier if realized else None,
        brier_gap=_round(realized.brier - realized.expected_brier) if realized else None,
        ece=realized.ece if realized else None,
        bins=_rows(realized.bins) if realized else [],
    )


def _rows(bins: list[ReliabilityBin]) -> list[ReliabilityRow]:
    return [
        ReliabilityRow(lo=b.lo, hi=b.hi, n=b.n, mean_predicted=b.mean_predicted, observed=b.observed)
        for b in bins
    ]


def _window_words(n: int, days: int | None) -> str:
    return f"the latest {n} predicted games" + (
        f" within {days} days of the latest game date" if days else ""
    )


class DriftWatch:
    def __init__(self, book: OutcomeBook, settings: Settings) -> None:
        self.book = book
        self.settings = settings
        self.latest: DriftReport | None = None  # the latest scheduled check
        self.alarms: dict[str, DriftAlarm] = {}
        self.checks = 0
        self._lock = asyncio.Lock()  # one check (one thread of statistics) at a time
        self._ph_key: tuple[str, int] | None = None
        self._ph = PageHinkley()
        self._ph_after = 0.0  # resolved_at of the latest loss fed
        self._detections: deque[tuple[int, str]] = deque(maxlen=DETECTIONS_KEPT)  # (position, date)

    # ---- concept drift ------------------------------------------------------------------------------
    async def feed_losses(self, model_name: str, version: int) -> int:
        """Feed the detector the version's losses realized since the last call; returns how many.
        A new champion starts a new detector (its losses are another stream)."""
        if self._ph_key != (model_name, version):
            s = self.settings
            self._ph_key = (model_name, version)
            self._ph = PageHinkley(delta=s.ph_delta, threshold=s.ph_threshold)
            self._ph_after = 0.0
            self._detections.clear()
        fed = 0
        while True:
            losses = await windows.losses_after(
                self.book.conn, model_name=model_name, version=version, after=self._ph_after, limit=LOSS_PAGE
            )
            for date, brier, resolved_at in losses:
                if self._ph.update(brier):
                    self._detections.append((self._ph.seen, date))
                self._ph_after = max(self._ph_after, resolved_at)
            fed += len(losses)
            if len(losses) < LOSS_PAGE:
                return fed

    def concept(self) -> ConceptDrift:
        recent = self.settings.concept_alarm_games
        return ConceptDrift(
            losses_seen=self._ph.seen,
            statistic=round(self._ph.statistic, 6),
            threshold=self._ph.threshold,
            delta=self._ph.delta,
            alarm=bool(self._detections) and self._ph.seen - self._detections[-1][0] < recent,
            detections=[d for _, d in self._detections],
        )

    # ---- feature and prediction drift ----------------------------------------------------------------
    async def check(
        self, served: Served, *, n: int | None = None, days: int | None = None, trigger: str = "request"
    ) -> DriftReport:
        """The drift report of a window (the configured one when neither ``n`` nor ``days`` is given).
        A check of the configured window sets the alarm state and is kept as ``latest``."""
        scheduled = n is None and days is None
        if scheduled:
            n, days = self.settings.window_predictions, self.settings.window_days
        elif n is None:
            n = MAX_WINDOW
        s = served.sample
        async with self._lock:
            await self.feed_losses(served.model_name, served.version)
            w = await windows.window(
                self.book.conn, model_name=served.model_name, version=served.version,
                feature_set=s.feature_set, width=len(s.feature_names), n=n, days=days,
            )  # fmt: skip
            if w.n == 0:
                raise NotFound(
                    f"no served predictions of {served.model_name} v{served.version} with feature set "
                    f"{s.feature_set} in {_window_words(n, days)}: nothing to compare yet"
                )
            ds = await asyncio.to_thread(_dataset_drift, s, w)
            report = self._report(served, w, ds, _window_words(n, days), trigger)
            self.checks += 1
            if scheduled:
                self._set_alarms(report)
                report = self.latest = _with_alarms(report, self.alarms)
            else:
                report = _with_alarms(report, self.alarms)
        return report

    def _report(
        self, served: Served, w: windows.Window, ds: DatasetDrift, words: str, trigger: str
    ) -> DriftReport:
        s = served.sample
        return DriftReport(
            model_name=served.model_name, model_version=served.version, feature_set=s.feature_set,
            reference_rows=len(s.rows), reference_seasons=list(s.seasons), window=words,
            window_from=w.dates[0], window_to=w.dates[-1], n_current=ds.n_current, n_reference=ds.n_reference,
            share=ds.share, threshold=ds.threshold, drifted=ds.drifted,
            n_tested=sum(c.tested and c.counted for c in ds.columns),
            n_drifted=sum(c.drifted for c in ds.columns if c.counted),
            features=[feature_drift(c) for c in ds.columns],
            prediction=feature_drift(ds.prediction) if ds.prediction else None,
            performance=performance(w), concept=self.concept(), alarms=[], computed_at=time.time(),
            trigger=trigger,
        )  # fmt: skip

    def _set_alarms(self, r: DriftReport) -> None:
        now = r.computed_at
        raised = {
            "dataset_drift": (r.drifted, f"{r.n_drifted} of {r.n_tested} features drifted (share "
                              f"{r.share:.2f} > {r.threshold}) over {r.window_from}..{r.window_to}"),
            "prediction_drift": (r.prediction is not None and r.prediction.drifted,
                                 "home_win_prob drifted from the reference's probabilities"),
            "concept_drift": (r.concept.alarm, f"Page-Hinkley detected a rise of the realized Brier "
                              f"(latest at {r.concept.detections[-1] if r.concept.detections else '-'})"),
        }  # fmt: skip
        for condition, (on, detail) in raised.items():
            if not on:
                self.alarms.pop(condition, None)
            elif condition not in self.alarms:  # an alarm keeps the time it was first raised
                self.alarms[condition] = DriftAlarm(condition=condition, since=now, detail=detail)

    def summary(self) -> DriftSummary | None:
        r = self.latest
        if r is None:
            return None
        counted = [f for f in r.features if f.counted and f.test is not None]
        return DriftSummary(
            model_version=r.model_version, computed_at=r.computed_at, trigger=r.trigger,
            window_from=r.window_from, window_to=r.window_to, n_current=r.n_current, share=r.share,
            threshold=r.threshold, drifted=r.drifted, drifted_features=[f.name for f in counted if f.drifted],
            tested_features=[f.name for f in counted],
            prediction_drifted=r.prediction is not None and r.prediction.drifted,
            alarms=sorted(self.alarms),
        )  # fmt: skip

    # ---- calibration -------------------------------------------------------------------------------
    async def calibration(self, model_name: str, version: int, since: str | None) -> CalibrationReport:
        dates, p, y = await windows.scored(
            self.book.conn, model_name=model_name, version=version, since=since, limit=MAX_SCORED
        )
        if not dates:
            return CalibrationReport(
                model_name=model_name, model_version=version, since=since, n_games=0, first_game=None,
                last_game=None, bins=[], ece=None, mce=None, brier=None, expected_brier=None, brier_gap=None,
                base_rate=None,
            )  # fmt: skip
        r = reliability(p, y)
        arms = await self._arms(model_name, version, since)
        return CalibrationReport(
            model_name=model_name, model_version=version, since=since, n_games=r.n, first_game=dates[0],
            last_game=dates[-1],
            bins=_rows(r.bins),
            ece=r.ece, mce=r.mce, brier=r.brier, expected_brier=r.expected_brier,
            brier_gap=round(r.brier - r.expected_brier, 6), base_rate=r.base_rate, arms=arms,
        )  # fmt: skip

    async def _arms(self, model_name: str, version: int, since: str | None) -> list[CalibrationArm]:
        """The games the version answered and those it was scored on in shadow, apart (the A/B arms)."""
        out = []
        for arm, shadow in (("answered", False), ("shadow", True)):
            _, p, y = await windows.scored(
                self.book.conn, model_name=model_name, version=version, since=since, limit=MAX_SCORED,
                shadow=shadow,
            )  # fmt: skip
            if not p.size:
                out.append(CalibrationArm(arm=arm, n_games=0, brier=None, expected_brier=None, ece=None))
                continue
            r = reliability(p, y)
            out.append(
                CalibrationArm(
                    arm=arm, n_games=r.n, brier=r.brier, expected_brier=r.expected_brier, ece=r.ece
                )
            )
        return out if out[1].n_games else []


def _dataset_drift(s: ReferenceSample, w: windows.Window) -> DatasetDrift:
    return dataset_drift(
        s.feature_names, np.asarray(s.rows, dtype=np.float64), w.X,
        reference_probs=np.asarray(s.probs, dtype=np.float64), current_probs=w.probs, seed=s.seed,
    )  # fmt: skip


def _with_alarms(r: DriftReport, alarms: dict[str, DriftAlarm]) -> DriftReport:
    return msgspec.structs.replace(r, alarms=sorted(alarms.values(), key=lambda a: a.condition))
