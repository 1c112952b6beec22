"""Training and inference benchmark for the game model.

    .venv/bin/python bench/train.py [--repeats 2000] [--json]

Measures, in one run:

- training time (search + selection + refit + ONNX export) on seasons 2001-2023
  (train 2001-2021, select on 2022-2023, refit through 2023; every earlier game
  only warms the ratings up) and its peak memory (tracemalloc peak of a second,
  traced run, plus the process's max RSS);
- P(home win) latency for 1 row and for 1,000 rows: sklearn ``predict_proba``
  vs onnxruntime (``OnnxModel``, one intra-op thread), for the trained model
  and its distilled linear student;
- the floor: the same logistic formula in bare numpy on one row (no framework).

Training and sklearn run with ``--threads`` OpenMP/BLAS threads (default 1,
as the trainer does). Latencies are medians over ``--repeats`` calls. Games come
from the project's store, read the way the trainer reads them (``--store``,
default the configured ``store.sqlite`` under NBAMCP_HOME); when that store has no
games, a temporary one is built by ingesting NBAMCP_DATA_DIR/games first. Results
go to stdout (this is a CLI, not the MCP server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import msgspec
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbamcp.config import load_config
from nbamcp.data.games import GameRow, read_played_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import open_store
from nbamcp.errors import Unavailable
from nbamcp.log import configure_logging
from nbamcp.ml.compress import distill_linear
from nbamcp.ml.onnx_export import median_latency, to_onnx_bytes
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.train import train

TRAIN = range(2001, 2022)
VALID = [2022, 2023]


async def _ingest(store_path: Path, games_dir: Path) -> None:
    store = await open_store(store_path)
    try:
        await ingest_paths(store, [games_dir])
    finally:
        await store.close()


def store_games(store: Path | None, tmp: Path) -> tuple[list[GameRow], str, float]:
    """The store's games (the trainer's read path), the store used, and the read time in seconds."""
    config = load_config()
    path = store or config.store_path
    t0 = time.perf_counter()
    try:
        games = asyncio.run(read_played_games(path))
    except Unavailable:
        path = tmp / "store.sqlite"
        asyncio.run(_ingest(path, config.data_dir / "games"))
        t0 = time.perf_counter()
        games = asyncio.run(read_played_games(path))
        return games, f"{path} (built from {config.data_dir / 'games'})", time.perf_counter() - t0
    return games, str(path), time.perf_counter() - t0


async def worker_job(home: Path, threads: int) -> tuple[float, int, str]:
    """The same training as a trainer-worker job on the in-memory bus: wall time from the request
    to the final progress event (store read, training, registration), events seen, final state."""
    from nbamcp.actor import open_context
    from nbamcp.bus.base import Msg
    from nbamcp.bus.memory import InMemoryBus
    from nbamcp.config import Config, PathsConfig, TrainerConfig
    from nbamcp.messages import TrainJobRequest, TrainProgress, decode, encode
    from nbamcp.subjects import TRAIN_JOBS, train_progress
    from workers.trainer import TrainerWorker

    bus = InMemoryBus()
    settings = TrainerConfig(
        auto_train=False, train_from=TRAIN.start, valid_seasons=len(VALID), threads=threads
    )
    config = msgspec.structs.replace(Config(), paths=PathsConfig(home=str(home)), trainer=settings)
    stack = contextlib.AsyncExitStack()
    trainer = TrainerWorker(await stack.enter_async_context(open_context(bus, config)))
    await trainer.start()
    events: list[TrainProgress] = []
    done = asyncio.Event()

    async def on_progress(msg: Msg) -> None:
        events.append(decode(msg.data, TrainProgress))
        if events[-1].state != "running":
            done.set()

    await bus.subscribe(train_progress("bench"), on_progress)
    t0 = time.perf_counter()
    await bus.request(TRAIN_JOBS, encode(TrainJobRequest(job_id="bench")), timeout=60)
    async with asyncio.timeout(1200):
        await done.wait()
    wall = time.perf_counter() - t0
    await trainer.stop()
    await stack.aclose()
    await bus.close()
    return wall, len(events), events[-1].state


def _train(games: list, threads: int | None) -> object:
    return train(games, train_seasons=TRAIN, valid_seasons=VALID, seed=0, n_threads=threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    ap.add_argument(
        "--threads", type=int, default=1, help="OpenMP/BLAS threads for training and sklearn (0: default)"
    )
    ap.add_argument("--store", type=Path, help="store.sqlite to read (default: the configured one)")
    ap.add_argument("--worker", action="store_true", help="also run the training as a trainer-worker job")
    args = ap.parse_args()
    configure_logging("warning")  # logs to stderr: stdout carries the results only
    threads = args.threads or None

    tmp = tempfile.TemporaryDirectory()
    games, store_used, load_s = store_games(args.store, Path(tmp.name))
    t0 = time.perf_counter()
    result = _train(games, threads)
    train_s = time.perf_counter() - t0
    tracemalloc.start()
    _train(games, threads)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job = None
    if args.worker:
        store_path = Path(store_used.split(" (built from")[0])
        home = Path(tmp.name) / "home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "store.sqlite").symlink_to(store_path.resolve())  # the trainer reads its home's store
        job = asyncio.run(worker_job(home, args.threads))
    tmp.cleanup()

    X = result.X_valid
    rng = np.random.default_rng(0)
    batch = X[rng.integers(0, len(X), 1000)]
    row = X[:1]
    student = distill_linear(result.pipeline, result.X_fit)
    models = {
        result.model_kind: (result.pipeline, result.onnx_bytes),
        "distilled logreg": (student, to_onnx_bytes(student, X.shape[1])),
    }

    # Floor: the student's formula in bare numpy, already imputed and scaled.
    imp, sc, clf = (student.named_steps[k] for k in ("impute", "scale", "clf"))
    w, b = clf.coef_.ravel(), float(clf.intercept_[0])
    z_row = sc.transform(imp.transform(row)).ravel()

    def floor() -> float:
        return 1.0 / (1.0 + np.exp(-(z_row @ w + b)))

    floor_s = median_latency(floor, repeats=args.repeats)
    rows = []
    limit = threadpool_limits(limits=threads)
    for name, (skl, data) in models.items():
        onnx = OnnxModel.from_bytes(data)
        for label, x, reps in (
            ("1 row", row, args.repeats),
            ("1000 rows", batch, max(args.repeats // 20, 20)),
        ):
            s_skl = median_latency(lambda m=skl, x=x: m.predict_proba(x), repeats=reps)
            s_ort = median_latency(lambda m=onnx, x=x: m.predict_proba(x), repeats=reps)
            rows.append(
                {
                    "model": name,
                    "case": label,
                    "onnx_bytes": len(data),
                    "sklearn_us": round(s_skl * 1e6, 2),
                    "onnxruntime_us": round(s_ort * 1e6, 2),
                    "speedup": round(s_skl / s_ort, 1),
                    "ort_vs_floor": round(s_ort / floor_s, 1) if label == "1 row" else None,
                }
            )
    limit.unregister()
    out = {
        "threads": threads,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "store": store_used,
        "games": len(games),
        "load_games_seconds": round(load_s, 2),
        "train_seasons": f"{TRAIN.start}-{TRAIN.stop - 1}",
        "valid_seasons": f"{VALID[0]}-{VALID[-1]}",
        "winner": result.model_kind,
        "train_seconds": round(train_s, 2),
        "tracemalloc_peak_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(maxrss_mb, 1),
        "valid": result.metrics["valid"],
        "parity_max_abs_diff": result.metrics["onnx_parity_max_abs_diff"],
        "floor_1row_us": round(floor_s * 1e6, 3),
        "worker_job": None
        if job is None
        else {
            "wall_seconds": round(job[0], 2),
            "vs_direct_load_plus_train": round(job[0] / (load_s + train_s), 2),
            "progress_events": job[1],
            "state": job[2],
        },
        "inference": rows,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"store {out['store']}: {out['games']} games read in {out['load_games_seconds']} s")
    print(f"training {out['train_seasons']} (select on {out['valid_seasons']}, refit through 2023)")
    print(f"  winner {out['winner']}  time {out['train_seconds']} s  tracemalloc peak "
          f"{out['tracemalloc_peak_mb']} MB  max RSS {out['max_rss_mb']} MB")  # fmt: skip
    print(f"  ONNX parity max |dP| {out['parity_max_abs_diff']:.2e}")
    if job is not None:
        w = out["worker_job"]
        print(
            f"  as a trainer-worker job (memory bus; store read + train + register): {w['wall_seconds']} s,"
            f" {w['vs_direct_load_plus_train']}x the direct read + train; {w['progress_events']} progress"
            f" events, {w['state']}"
        )
    print(f"floor (numpy logistic, 1 row): {out['floor_1row_us']} us\n")
    head = ("model", "case", "ONNX bytes", "sklearn us", "ORT us", "speedup", "ORT/floor")
    print(f"{head[0]:<18} {head[1]:<10} " + " ".join(f"{h:>10}" for h in head[2:]))
    for r in rows:
        ratio = "" if r["ort_vs_floor"] is None else f"{r['ort_vs_floor']}x"
        cells = (r["onnx_bytes"], r["sklearn_us"], r["onnxruntime_us"], f"{r['speedup']}x", ratio)
        print(f"{r['model']:<18} {r['case']:<10} " + " ".join(f"{c:>10}" for c in cells))


if __name__ == "__main__":
    main()
