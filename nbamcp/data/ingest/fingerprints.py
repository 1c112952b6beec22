"""Fingerprints of ingested files: re-ingesting an unchanged file is a look-up, not a re-read.

A file is skipped when the store already ingested the same bytes (sha256) with
the same layout, season type and loader version, and none of its rows was held
back only for being dated in the future (those may be valid now). The report then
repeats the earlier counts as unchanged, with the same quality issues.
``force=True`` on ``ingest_paths`` re-reads regardless.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiosqlite
import msgspec

from nbamcp.data.ingest.report import FileReport

# Bump when a loader's rules change: files are then re-read once.
LOADER_VERSION = 1
# Layouts whose result depends on the store's other contents, never skipped.
NEVER_SKIP = frozenset({"nba_player_gamelog"})


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


async def previous(
    conn: aiosqlite.Connection, sha: str, layout: str, season_type: str | None
) -> tuple[int, FileReport] | None:
    """(run id, report) of an earlier ingest of these bytes that can stand for a new one."""
    async with conn.execute(
        "SELECT run_id, report FROM ingest_files WHERE sha256 = ? AND layout = ? AND season_type = ? "
        "AND loader_version = ? AND future_rows = 0",
        (sha, layout, season_type or "", LOADER_VERSION),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return int(row[0]), msgspec.json.decode(row[1], type=FileReport)


async def remember(
    conn: aiosqlite.Connection, sha: str, report: FileReport, run_id: int, future_rows: int
) -> None:
    await conn.execute(
        "INSERT OR REPLACE INTO ingest_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sha, report.layout, report.season_type or "", LOADER_VERSION, report.path, run_id, future_rows,
         msgspec.json.encode(report).decode()),
    )  # fmt: skip


def replay(prev: FileReport, prev_run: int, source: str, sha: str, elapsed: float) -> FileReport:
    kept = prev.inserted + prev.updated + prev.unchanged
    return FileReport(
        path=source, layout=prev.layout, season_type=prev.season_type, rows_read=prev.rows_read,
        inserted=0, updated=0, unchanged=kept, quarantined=prev.quarantined, new_game_ids=[],
        quality=[msgspec.structs.replace(i, file=source) for i in prev.quality], elapsed_s=round(elapsed, 4),
        summary=(
            f"{prev.layout} {source}: unchanged since run {prev_run} (same sha256 {sha[:12]}), not re-read; "
            f"added 0, {kept} unchanged, {prev.quarantined} quarantined"
        ),
        related={},
    )  # fmt: skip
