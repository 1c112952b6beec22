"""Times the season replay (``nbamcp replay``) on a fresh home.

    .venv/bin/python bench/season.py [--from 2022-10-18] [--to 2023-04-09] [--budget tiny] [--json]

A fresh temporary home (or ``--home``) is seeded by the replay itself with the games before
``--from`` of NBAMCP_DATA_DIR/games/games_538_1947_2023.csv and a champion trained on them,
then every game date up to ``--to`` goes through the loop: predict, ingest, join, retrain,
gate. Prints the replay's report with the wall-clock seconds of the whole run (seeding
included) and of the replayed days alone, and the process's max RSS. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from nbamcp.config import load_config
from nbamcp.log import configure_logging
from nbamcp.replay import format_report, replay


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="date_from", default="2022-10-18")
    p.add_argument("--to", dest="date_to", default="2023-04-09")
    p.add_argument("--budget", default="tiny", choices=["default", "small", "tiny"])
    p.add_argument("--min-new-results", type=int, help="default: retrain.min_new_results")
    p.add_argument("--home", help="default: a temporary folder")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    config = load_config(None)
    configure_logging("warning", fmt=config.log.format)
    data = Path(os.environ.get("NBAMCP_DATA_DIR", config.paths.data_dir or "../shared/data"))
    games = data / "games" / "games_538_1947_2023.csv"
    with tempfile.TemporaryDirectory(prefix="nbamcp-season-") as tmp:
        home = Path(args.home or tmp)
        config = msgspec.structs.replace(
            config, paths=msgspec.structs.replace(config.paths, home=str(home), data_dir=str(data))
        )
        started = time.perf_counter()
        r = anyio.run(
            lambda: replay(
                config,
                [games],
                date_from=args.date_from,
                date_to=args.date_to,
                budget=args.budget,
                min_new_results=args.min_new_results,
            )
        )
        total = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        out = msgspec.to_builtins(r) | {"total_seconds": round(total, 1), "max_rss_mb": round(rss_mb)}
        print(msgspec.json.encode(out).decode())
    else:
        print(format_report(r))
        print(f"Total {total:.1f} s (replayed days {r.seconds:.1f} s), max RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
