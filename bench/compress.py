"""Compression benchmark: the roster-aware game model, plain, compact and distilled.

    .venv/bin/python bench/compress.py [--rounds 5] [--repeats 2000] [--store PATH] [--json]

Trains the roster model (feature set fs2) the way ``nbamcp train`` would: seasons
2001-2021, selection on 2022-2023 (no refit, so 2022-2023 stay held out for the
Brier of every form), on the games and player
seasons of the project's store (``--store``, default the configured one; a
temporary store is ingested from NBAMCP_DATA_DIR's games and player tables when it
lacks them). Then, for the ONNX forms of that model:

  original   skl2onnx's plain export (TreeEnsembleClassifier, ai.onnx.ml 3)
  compact    the same trees as ai.onnx.ml 5 TreeEnsemble (what the trainer writes)
  distilled  a logistic regression fitted to the teacher's logit

size, max/mean |dP| against the original's probabilities (every fit and validation
row), held-out Brier and log loss, and one-row onnxruntime latency (one intra-op
thread): wall and CPU time per call, medians of ``--repeats`` calls, the forms
interleaved round by round with two floors measured in the same rounds: an
onnxruntime graph that only copies its input (the runtime's own cost of a call)
and the distilled formula in bare numpy. Results go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import onnx
from onnx import TensorProto, helper
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbamcp.config import load_config
from nbamcp.data.games import read_played_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.players import read_player_seasons
from nbamcp.data.store import open_store
from nbamcp.errors import Unavailable
from nbamcp.log import configure_logging
from nbamcp.ml.compress import distill_linear
from nbamcp.ml.metrics import scores
from nbamcp.ml.onnx_export import to_onnx_bytes
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.rosters import build_roster_book
from nbamcp.ml.train import train

TRAIN = range(2001, 2022)
VALID = [2022, 2023]


async def _ingest(store_path: Path, paths: list[Path]) -> None:
    store = await open_store(store_path)
    try:
        await ingest_paths(store, paths)
    finally:
        await store.close()


def store_data(store: Path | None, tmp: Path) -> tuple[list, list, str]:
    """The store's games and player seasons (the trainer's read path) and the store used."""
    config = load_config()
    path = store or config.store_path
    try:
        games = asyncio.run(read_played_games(path))
        players = asyncio.run(read_player_seasons(path))
        if not players:
            raise Unavailable("no player seasons")
        return games, players, str(path)
    except Unavailable:
        path = tmp / "store.sqlite"
        data = config.data_dir
        asyncio.run(_ingest(path, [data / "games", data / "players"]))
        games, players = asyncio.run(read_played_games(path)), asyncio.run(read_player_seasons(path))
        return games, players, f"{path} (built from {data})"


def copy_graph(n_features: int) -> bytes:
    """The runtime floor: a graph that returns its input."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_features])
    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["probabilities"])], "floor", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds per call of ``fn`` (CPU: the batch's process time / repeats)."""
    for _ in range(20):
        fn()
    walls = []
    cpu0 = time.process_time()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), (time.process_time() - cpu0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--store", type=Path, help="store.sqlite to read (default: the configured one)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = ap.parse_args()
    configure_logging("warning")  # logs to stderr: stdout carries the results only

    with tempfile.TemporaryDirectory() as tmp:
        games, players, store_used = store_data(args.store, Path(tmp))
    t0 = time.perf_counter()
    book = build_roster_book(players)
    result = train(games, train_seasons=TRAIN, valid_seasons=VALID, seed=0, rosters=book, refit=False)
    train_s = time.perf_counter() - t0
    teacher, n = result.pipeline, len(result.feature_names)
    with threadpool_limits(limits=1):
        student = distill_linear(teacher, result.X_fit)
    forms = {
        "original": to_onnx_bytes(teacher, n, compact=False),
        "compact": to_onnx_bytes(teacher, n),
        "distilled": to_onnx_bytes(student, n),
    }
    models = {k: OnnxModel.from_bytes(v) for k, v in forms.items()}
    X_all = np.vstack([result.X_fit, result.X_valid])
    ref = models["original"].predict_proba(X_all)
    row = result.X_valid[:1]

    floor_ort = OnnxModel.from_bytes(copy_graph(n))._session  # the raw session: no wrapper checks
    imp, sc, clf = (student.named_steps[k] for k in ("impute", "scale", "clf"))
    w, b = clf.coef_.ravel(), float(clf.intercept_[0])
    z_row = sc.transform(imp.transform(row)).ravel()
    cases: dict[str, Callable[[], object]] = {
        **{k: (lambda m=m: m.predict_proba(row)) for k, m in models.items()},
        "floor: onnxruntime copy": lambda: floor_ort.run(None, {"X": row}),
        "floor: numpy logistic": lambda: 1.0 / (1.0 + np.exp(-(z_row @ w + b))),
    }
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(args.rounds):  # interleaved: every case once per round
        for k, fn in cases.items():
            runs[k].append(timed(fn, args.repeats))
    latency = {
        k: {"wall_us": round(min(r[0] for r in v) * 1e6, 2), "cpu_us": round(min(r[1] for r in v) * 1e6, 2)}
        for k, v in runs.items()
    }
    out_forms = {}
    for k, m in models.items():
        diff = np.abs(m.predict_proba(X_all) - ref)
        out_forms[k] = {
            "onnx_bytes": len(forms[k]),
            "max_abs_diff_vs_original": float(diff.max()),
            "mean_abs_diff_vs_original": float(diff.mean()),
            "valid": msgspec.to_builtins(scores(m.predict_proba(result.X_valid), result.y_valid)),
            **latency[k],
        }
    out = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "store": store_used,
        "games": len(games),
        "player_rows": len(players),
        "model": result.model_kind,
        "feature_set": result.feature_set_version,
        "train_seconds": round(train_s, 1),
        "rows_compared": len(X_all),
        "forms": out_forms,
        "floors": {k: latency[k] for k in cases if k.startswith("floor")},
        "rounds": args.rounds,
        "repeats": args.repeats,
        "onnx_ml_opset": {k: _ml_opset(v) for k, v in forms.items()},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"store {store_used}: {len(games)} games, {len(players)} player rows")
    print(f"{result.model_kind} ({result.feature_set_version}) trained {TRAIN.start}-{TRAIN.stop - 1}, "
          f"held out {VALID[0]}-{VALID[-1]}: {out['train_seconds']} s")  # fmt: skip
    head = ("form", "bytes", "max |dP|", "mean |dP|", "Brier", "log loss", "wall us", "CPU us")
    print(f"{head[0]:<26}" + "".join(f"{h:>12}" for h in head[1:]))
    for k, f in out_forms.items():
        v = f["valid"]
        diffs = f"{f['max_abs_diff_vs_original']:.1e}", f"{f['mean_abs_diff_vs_original']:.1e}"
        cells = (
            f["onnx_bytes"],
            *diffs,
            f"{v['brier']:.5f}",
            f"{v['log_loss']:.5f}",
            f["wall_us"],
            f["cpu_us"],
        )
        print(f"{k:<26}" + "".join(f"{c:>12}" for c in cells))
    for k, f in out["floors"].items():
        print(f"{k:<26}" + " " * 60 + f"{f['wall_us']:>12}{f['cpu_us']:>12}")


def _ml_opset(data: bytes) -> int | None:
    return next(
        (o.version for o in onnx.load_from_string(data).opset_import if o.domain == "ai.onnx.ml"), None
    )


if __name__ == "__main__":
    main()
