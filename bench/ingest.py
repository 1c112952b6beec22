"""Benchmark: ingest all of the shared data into a fresh store, then again (idempotent runs).

Three timings: a fresh ingest; a re-run of the same files (recognised by sha256,
not re-read); a forced re-run (every row parsed, checked and compared again).
Each is shown as rows/s and as a ratio to a floor measured in the same round:
reading every CSV row with the csv module plus writing the raw rows with one
``executemany`` per file (the least any ingest must do).

    .venv/bin/python bench/ingest.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbamcp.data.ingest import ingest_paths  # noqa: E402
from nbamcp.data.store import open_store  # noqa: E402
from nbamcp.log import configure_logging  # noqa: E402


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("NBAMCP_DATA_DIR")
    return Path(env) if env else ROOT / ".." / "shared" / "data"


async def floor(data: Path, db: Path) -> tuple[float, int]:
    """csv read + one executemany per file into an untyped table: the least any ingest does."""
    import aiosqlite

    files = sorted(data.rglob("*.csv"))  # noqa: ASYNC240 - a benchmark, nothing else runs
    t0 = time.perf_counter()
    conn = await aiosqlite.connect(db, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    rows_total = 0
    for i, path in enumerate(files):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
        rows_total += len(rows)
        cols = ", ".join(f"c{j}" for j in range(len(header)))
        await conn.execute(f"CREATE TABLE t{i} ({cols})")
        await conn.execute("BEGIN")
        await conn.executemany(f"INSERT INTO t{i} VALUES ({', '.join('?' * len(header))})", rows)
        await conn.execute("COMMIT")
    await conn.close()
    return time.perf_counter() - t0, rows_total


async def one_round(data: Path, tmp: Path, k: int) -> dict[str, float]:
    floor_s, rows = await floor(data, tmp / f"floor{k}.db")
    store = await open_store(tmp / f"nba{k}.db")
    try:
        t0 = time.perf_counter()
        first = await ingest_paths(store, [data])
        t1 = time.perf_counter()
        second = await ingest_paths(store, [data])
        t2 = time.perf_counter()
        third = await ingest_paths(store, [data], force=True)
        t3 = time.perf_counter()
    finally:
        await store.close()
    for r in (second, third):
        assert r.inserted == 0 and r.updated == 0, r.summary
    return {"rows": rows, "floor": floor_s, "fresh": t1 - t0, "again": t2 - t1, "forced": t3 - t2,
            "read": first.rows_read}  # fmt: skip


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    configure_logging("warning")  # logs to stderr; results below go to stdout
    data = data_dir(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [await one_round(data, Path(tmp), k) for k in range(args.repeat)]
    med = {key: statistics.median(r[key] for r in runs) for key in ("floor", "fresh", "again", "forced")}
    rows = runs[0]["read"]
    print(f"data: {data.resolve()}  ({rows} rows in CSV files, {args.repeat} rounds, medians)")
    print(f"floor (csv read + raw executemany): {med['floor']:.2f} s  ({rows / med['floor']:,.0f} rows/s)")
    for key, label in (
        ("fresh", "fresh ingest"),
        ("again", "re-run, same files"),
        ("forced", "re-run, force=True"),
    ):
        t = med[key]
        print(f"{label:20} {t:6.2f} s  ({rows / t:>9,.0f} rows/s)  = {t / med['floor']:.2f}x floor")


if __name__ == "__main__":
    asyncio.run(main())
