"""``nbamcp ingest``: ingest files (or a live season's games or rosters) into the store, offline.

A running server learns of new results through its ``ingest_games`` tool,
which also announces them on the bus; this command only writes the store.
"""

from __future__ import annotations

import msgspec

from nbamcp.config import Config
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.live import ingest_live_games
from nbamcp.data.live_rosters import RosterReport, ingest_live_rosters
from nbamcp.data.store import open_store
from nbamcp.errors import InvalidInput
from nbamcp.messages import IngestReport


async def run_ingest(
    config: Config, paths: list[str], fmt: str, live: int | None, as_json: bool, rosters: int | None = None
) -> str:
    if not paths and live is None and rosters is None:
        raise InvalidInput("nothing to ingest: give files or folders, --live SEASON or --live-rosters SEASON")
    async with await open_store(config.store_path) as store:
        reports: list[IngestReport | RosterReport] = []
        if paths:
            reports.append(await ingest_paths(store, paths, fmt=fmt))
        if live is not None:
            reports.append(await ingest_live_games(store, live))
        if rosters is not None:
            reports.append(await ingest_live_rosters(store, rosters))
    if as_json:
        return msgspec.json.encode(reports[0] if len(reports) == 1 else reports).decode()
    return "\n".join(r.summary for r in reports)
