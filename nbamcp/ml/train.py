"""Train a game model: season-wise time-series search, held-out selection, ONNX export.

Every split is time ordered. Hyperparameters of each candidate family are
picked by expanding-window folds over the last training seasons (fit on the
seasons before a fold season, score on it); the best of each family is then
fitted on all training seasons and scored on the later validation seasons,
where the winner is chosen by log loss (Brier breaks ties). By default the
winner is refitted on training + validation seasons, so the deployed model has
seen the latest data, and exported to ONNX with a parity check.

Candidates (missing values imputed inside every pipeline):
- ``logreg``: median imputer, StandardScaler, LogisticRegression;
- ``hgb``: median imputer, HistGradientBoostingClassifier;
- ``blend``: soft vote of the logreg pipeline and a sigmoid-calibrated HGB whose
  calibration folds are again season-wise (CalibratedClassifierCV).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from nbamcp.data.games import GameRow
from nbamcp.errors import ErrorCode, InvalidInput, NbaError
from nbamcp.messages import ReferenceSample
from nbamcp.ml.dataset import require_seasons, snapshot_hash
from nbamcp.ml.features import FORM_N, build_training_matrix, feature_names
from nbamcp.ml.metrics import Scores, scores
from nbamcp.ml.onnx_export import check_parity, to_onnx_bytes
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.ratings import DEFAULT_ELO, EloParams
from nbamcp.ml.reference import feature_reference, reference_sample
from nbamcp.ml.registry import ModelRegistry, ModelVersion
from nbamcp.ml.rosters import RosterBook

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
CANDIDATES = ("logreg", "hgb", "blend")


class TrainingCancelled(NbaError):
    """The caller asked training to stop; nothing was produced."""

    code = ErrorCode.CANCELLED


class HgbParams(msgspec.Struct, frozen=True):
    learning_rate: float = 0.05
    max_iter: int = 150
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0


class Budget(msgspec.Struct, frozen=True):
    """How much searching to do; the defaults train 2001-2023 in well under a minute on 2 cores."""

    candidates: tuple[str, ...] = CANDIDATES
    lr_cs: tuple[float, ...] = (0.01, 0.1, 1.0)
    hgb_grid: tuple[HgbParams, ...] = (
        HgbParams(),
        HgbParams(learning_rate=0.05, max_iter=250, max_leaf_nodes=7, min_samples_leaf=200),
        HgbParams(learning_rate=0.1, max_iter=100, max_leaf_nodes=31, min_samples_leaf=200),
    )
    blend_weights: tuple[float, ...] = (0.3, 0.5, 0.7)  # weight of logreg in the soft vote
    cv_folds: int = 3  # last training seasons used as search folds
    calibration_folds: int = 2  # last seasons used to calibrate the blend's HGB


DEFAULT_BUDGET = Budget()
SMALL_BUDGET = Budget(
    lr_cs=(0.1, 1.0),
    hgb_grid=(HgbParams(max_iter=60, max_leaf_nodes=7),),
    blend_weights=(0.5,),
    cv_folds=2,
    calibration_folds=1,
)


class CandidateReport(msgspec.Struct, frozen=True):
    name: str
    params: dict[str, Any]
    cv_log_loss: float
    valid: Scores


@dataclass
class TrainResult:
    """A trained model and everything the registry records about it."""

    model_kind: str
    pipeline: Any  # fitted sklearn estimator
    onnx_bytes: bytes
    params: dict[str, Any]
    metrics: dict[str, Any]
    feature_names: list[str]
    feature_set_version: str
    data_hash: str
    training_seconds: float
    reference: dict[str, Any]
    candidates: list[CandidateReport]
    sample: ReferenceSample  # seeded rows of the fit (filed in the model store beside the artifact)
    X_valid: np.ndarray = field(repr=False)
    y_valid: np.ndarray = field(repr=False)
    X_fit: np.ndarray = field(repr=False)  # rows the final model was fitted on


def _logreg(c: float) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=c, max_iter=1000))])


def _hgb(p: HgbParams, seed: int) -> HistGradientBoostingClassifier:
    # No early stopping: it would carve a random (not time-ordered) validation split.
    return HistGradientBoostingClassifier(
        learning_rate=p.learning_rate,
        max_iter=p.max_iter,
        max_leaf_nodes=p.max_leaf_nodes,
        min_samples_leaf=p.min_samples_leaf,
        l2_regularization=p.l2_regularization,
        early_stopping=False,
        random_state=seed,
    )


def _with_imputer(model: Any) -> Pipeline:
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("model", model)])


def season_folds(seasons: np.ndarray, fold_seasons: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window splits: (rows of seasons before s, rows of season s) for each s."""
    return [(np.flatnonzero(seasons < s), np.flatnonzero(seasons == s)) for s in fold_seasons]


def build_candidate(
    name: str, params: dict[str, Any], *, seasons: np.ndarray, seed: int = 0, calibration_folds: int = 2
) -> Pipeline:
    """An unfitted candidate pipeline; ``seasons`` (one per row it will be fitted on) sets the
    blend's season-wise calibration folds."""
    if name == "logreg":
        return _with_imputer(_logreg(params["C"]))
    hgb = _hgb(HgbParams(**params["hgb"]), seed)
    if name == "hgb":
        return _with_imputer(hgb)
    if name != "blend":
        raise InvalidInput(f"unknown candidate {name!r}; choose from {', '.join(CANDIDATES)}")
    distinct = sorted(set(np.asarray(seasons).tolist()))
    if len(distinct) < 2:
        raise InvalidInput("the blend needs at least two training seasons to calibrate on a later one")
    splits = season_folds(np.asarray(seasons), distinct[-min(calibration_folds, len(distinct) - 1) :])
    w = params["w"]
    vote = VotingClassifier(
        [("logreg", _logreg(params["C"])), ("hgb", CalibratedClassifierCV(hgb, method="sigmoid", cv=splits))],
        voting="soft",
        weights=np.array([w, 1.0 - w]),  # an array: skl2onnx calls .sum() on it
        flatten_transform=False,  # skl2onnx cannot convert the flattened form
    )
    return _with_imputer(vote)


class _Trainer:
    """One training run: owns the matrix, the progress/cancel hooks and the fit count."""

    def __init__(self, X: np.ndarray, y: np.ndarray, seasons: np.ndarray, seed: int, budget: Budget,
                 progress: Progress | None, cancel: Cancel | None, total_fits: int) -> None:  # fmt: skip
        self.X, self.y, self.seasons = X, y, seasons
        self.seed, self.budget = seed, budget
        self._progress, self._cancel = progress, cancel
        self._done, self._total = 0, max(total_fits, 1)

    def step(self, message: str) -> None:
        if self._cancel is not None and self._cancel():
            raise TrainingCancelled(f"training cancelled before: {message}")
        if self._progress is not None:
            self._progress(min(self._done / self._total, 0.99), message)
        self._done += 1

    def fit(self, name: str, params: dict[str, Any], rows: np.ndarray, message: str) -> Pipeline:
        self.step(message)
        model = build_candidate(
            name,
            params,
            seasons=self.seasons[rows],
            seed=self.seed,
            calibration_folds=self.budget.calibration_folds,
        )
        return model.fit(self.X[rows], self.y[rows])

    def cv_predictions(self, name: str, params: dict[str, Any], folds: list[tuple[np.ndarray, np.ndarray]],
                       train_rows: np.ndarray) -> np.ndarray:  # fmt: skip
        preds: list[np.ndarray] = []
        for fit_idx, eval_idx in folds:
            rows, ev = train_rows[fit_idx], train_rows[eval_idx]
            model = self.fit(name, params, rows, f"search {name} {_short(params)} (fold {len(preds) + 1})")
            preds.append(model.predict_proba(self.X[ev])[:, 1])
        return np.concatenate(preds)


def _short(params: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in params.items() if k != "hgb"]
    if "hgb" in params:
        h = params["hgb"]
        parts.append(f"lr={h['learning_rate']} iters={h['max_iter']} leaves={h['max_leaf_nodes']}")
    return " ".join(parts)


def _cv_seasons(train_seasons: list[int], folds: int) -> list[int]:
    if len(train_seasons) < 2:
        raise InvalidInput(f"training needs at least two seasons for time-series folds, got {train_seasons}")
    return train_seasons[-min(folds, len(train_seasons) - 1) :]


def train(
    games: Sequence[GameRow],
    *,
    train_seasons: Sequence[int],
    valid_seasons: Sequence[int],
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    budget: Budget = DEFAULT_BUDGET,
    refit: bool = True,
    elo_params: EloParams = DEFAULT_ELO,
    export: bool = True,
    n_threads: int | None = 1,
    rosters: RosterBook | None = None,
) -> TrainResult:
    """Search, select on ``valid_seasons``, refit and export one model. See the module docstring.

    ``games`` should hold the whole history up to the validation seasons (in
    date order): earlier seasons warm up the ratings and are not trained on.
    With ``rosters`` the model is trained on feature set fs2 (roster-aware
    Elo and roster features), else on fs1.
    ``n_threads`` caps the OpenMP/BLAS threads of the fits (None: library
    default). One is the default because on a shared 2-core machine the
    gradient boosting's OpenMP threads spin against other processes and a fit
    can get 5x slower than single-threaded.
    """
    with threadpool_limits(limits=n_threads):
        return _train(
            games,
            train_seasons=train_seasons,
            valid_seasons=valid_seasons,
            seed=seed,
            progress=progress,
            cancel=cancel,
            budget=budget,
            refit=refit,
            elo_params=elo_params,
            export=export,
            rosters=rosters,
        )


def _train(
    games: Sequence[GameRow],
    *,
    train_seasons: Sequence[int],
    valid_seasons: Sequence[int],
    seed: int,
    progress: Progress | None,
    cancel: Cancel | None,
    budget: Budget,
    refit: bool,
    elo_params: EloParams,
    export: bool,
    rosters: RosterBook | None,
) -> TrainResult:
    started = time.perf_counter()
    tr_seasons = require_seasons(games, train_seasons, what="train_seasons")
    va_seasons = require_seasons(games, valid_seasons, what="valid_seasons")
    if max(tr_seasons) >= min(va_seasons):
        raise InvalidInput(
            f"validation seasons must all come after the training seasons "
            f"(train ends {max(tr_seasons)}, validation starts {min(va_seasons)})"
        )
    unknown = [c for c in budget.candidates if c not in CANDIDATES]
    if unknown or not budget.candidates:
        raise InvalidInput(
            f"unknown candidates {unknown or '(none given)'}; choose from {', '.join(CANDIDATES)}"
        )
    last = max(va_seasons)
    used = [g for g in games if g.season <= last]
    X, y, meta = build_training_matrix(used, elo_params=elo_params, rosters=rosters)
    feature_set = "fs1" if rosters is None else "fs2"
    names = feature_names(feature_set)
    seasons = meta.season
    train_rows = np.flatnonzero(np.isin(seasons, tr_seasons))
    valid_rows = np.flatnonzero(np.isin(seasons, va_seasons))
    fold_seasons = _cv_seasons(tr_seasons, budget.cv_folds)
    folds = season_folds(seasons[train_rows], fold_seasons)

    cands = budget.candidates
    need_lr, need_hgb = (
        any(c in cands for c in ("logreg", "blend")),
        any(c in cands for c in ("hgb", "blend")),
    )
    # One progress step per fit call (search folds, candidates, refit) plus the export.
    total = (len(budget.lr_cs) * need_lr + len(budget.hgb_grid) * need_hgb) * len(folds)
    total += len(cands) + int(refit) + int(export)
    run = _Trainer(X, y, seasons, seed, budget, progress, cancel, total)

    y_cv = np.concatenate([y[train_rows[ev]] for _, ev in folds])
    best: dict[str, tuple[dict[str, Any], float, np.ndarray]] = {}
    if need_lr:
        for c in budget.lr_cs:
            p = run.cv_predictions("logreg", {"C": c}, folds, train_rows)
            ll = scores(p, y_cv).log_loss
            if "logreg" not in best or ll < best["logreg"][1]:
                best["logreg"] = ({"C": c}, ll, p)
    if need_hgb:
        for hp in budget.hgb_grid:
            params = {"hgb": msgspec.structs.asdict(hp)}
            p = run.cv_predictions("hgb", params, folds, train_rows)
            ll = scores(p, y_cv).log_loss
            if "hgb" not in best or ll < best["hgb"][1]:
                best["hgb"] = (params, ll, p)
    if "blend" in cands:
        # Weight chosen on the uncalibrated fold predictions: cheap and still out of time.
        (lp, _, lpred), (hp_, _, hpred) = best["logreg"], best["hgb"]
        w, ll = min(
            ((w, scores(w * lpred + (1 - w) * hpred, y_cv).log_loss) for w in budget.blend_weights),
            key=lambda t: t[1],
        )
        best["blend"] = ({"C": lp["C"], "hgb": hp_["hgb"], "w": w}, ll, np.empty(0))

    reports: list[CandidateReport] = []
    fitted: dict[str, Pipeline] = {}
    X_valid, y_valid = X[valid_rows], y[valid_rows]
    for name in cands:
        params, cv_ll, _ = best[name]
        model = run.fit(name, params, train_rows, f"fit {name} on training seasons")
        fitted[name] = model
        valid = scores(model.predict_proba(X_valid)[:, 1], y_valid)
        reports.append(CandidateReport(name, params, round(cv_ll, 6), valid))
    winner = min(reports, key=lambda r: (r.valid.log_loss, r.valid.brier))
    final_rows = np.concatenate([train_rows, valid_rows]) if refit else train_rows
    final = (
        run.fit(winner.name, winner.params, final_rows, f"refit {winner.name} on all seasons")
        if refit
        else fitted[winner.name]
    )

    onnx_bytes, parity = b"", None
    if export:
        run.step("export to ONNX and check parity")
        onnx_bytes = to_onnx_bytes(final, X.shape[1])
        parity = check_parity(final, OnnxModel.from_bytes(onnx_bytes), X_valid)
    if progress is not None:
        progress(1.0, f"done: {winner.name}")

    final_seasons = sorted(set(seasons[final_rows].tolist()))
    sample = reference_sample(
        X[final_rows], y[final_rows], lambda rows: final.predict_proba(rows)[:, 1], names,
        feature_set=feature_set, seasons=final_seasons, seed=seed,
    )  # fmt: skip
    return TrainResult(
        model_kind=winner.name,
        pipeline=final,
        onnx_bytes=onnx_bytes,
        params={
            "model": winner.name,
            **winner.params,
            "seed": seed,
            "train_seasons": tr_seasons,
            "valid_seasons": va_seasons,
            "fit_seasons": final_seasons,
            "cv_fold_seasons": fold_seasons,
            "refit_on_valid": refit,
            "elo": msgspec.structs.asdict(elo_params),
            "form_n": FORM_N,
            **({} if rosters is None else {"rosters": msgspec.to_builtins(rosters.params)}),
        },
        metrics={
            "valid": msgspec.to_builtins(winner.valid),
            "cv_log_loss": winner.cv_log_loss,
            "candidates": msgspec.to_builtins(reports),
            "onnx_parity_max_abs_diff": parity,
            "onnx_bytes": len(onnx_bytes),
            "n_fit_rows": int(final_rows.size),
        },
        feature_names=names,
        feature_set_version=feature_set,
        data_hash=snapshot_hash(used) if rosters is None else rosters.data_hash(snapshot_hash(used)),
        training_seconds=round(time.perf_counter() - started, 3),
        reference=feature_reference(X[final_rows], names),
        candidates=reports,
        sample=sample,
        X_valid=X_valid,
        y_valid=y_valid,
        X_fit=X[final_rows],
    )


async def register_result(
    registry: ModelRegistry, name: str, result: TrainResult, *, lineage: dict[str, Any] | None = None
) -> ModelVersion:
    """Record a trained (and exported) model as the next version of ``name`` (``lineage``: where
    it came from beyond data and code, e.g. the retraining trigger)."""
    if not result.onnx_bytes:
        raise InvalidInput("this result was trained with export=False: there is no ONNX artifact to register")
    return await registry.register(
        name,
        result.onnx_bytes,
        model_kind=result.model_kind,
        data_hash=result.data_hash,
        feature_set_version=result.feature_set_version,
        feature_names=result.feature_names,
        params=result.params,
        metrics=result.metrics,
        reference=result.reference,
        training_seconds=result.training_seconds,
        sample=msgspec.msgpack.encode(result.sample),
        lineage=lineage,
    )
