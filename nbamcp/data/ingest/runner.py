"""``ingest_paths``: files (or directories of files) into the store, with a quality report.

Per file: parse and check in a worker thread (csv module, no pandas), then write
in ONE transaction with ``executemany``. Bad rows go to ``quarantine`` with their
rule and reason, never into the data tables. Running a file twice changes
nothing; a file with more rows adds only those. The run, with its report, is
recorded in ``ingest_runs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import gc
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nbamcp.data.franchises import normalize
from nbamcp.data.ingest import (
    fingerprints,
    gamelog,
    games538,
    player_gamelog,
    player_info,
    player_seasons,
    team_seasons,
)
from nbamcp.data.ingest.checks import Checks, Row, RowError
from nbamcp.data.ingest.games_writer import write_games
from nbamcp.data.ingest.layouts import LAYOUTS, ORDER, check_forced, detect, header_issues, parse_fmt
from nbamcp.data.ingest.report import FileReport, IngestReport, SkippedFile, build_run_report
from nbamcp.data.ingest.upsert import upsert
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput
from nbamcp.messages import Rescore

log = structlog.get_logger(__name__)

# (fraction done, what is happening): the CLI's bar, the stats worker's MCP progress events.
IngestProgress = Callable[[float, str], Awaitable[None]]


class Table(msgspec.Struct):
    """A table to ingest: a file, or records from a live response."""

    source: str
    layout: str
    season_type: str | None
    header: list[str]
    rows: Iterable[list[str]] | None = None  # raw CSV rows after the header
    path: Path | None = None


class _Parsed(msgspec.Struct):
    checks: Checks
    rows_read: int
    payload: Any


def _records(table: Table, checks: Checks, counter: list[int]) -> Iterator[tuple[int, Row]]:
    """(row number, {column: value}); row 1 is the header. Wrong-width rows are quarantined."""
    lower = LAYOUTS[table.layout].lower
    header = [h.strip().lower() if lower else h.strip() for h in table.header]
    width = len(header)

    def rows() -> Iterator[list[str]]:
        if table.rows is not None:
            yield from table.rows
            return
        assert table.path is not None
        with table.path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            next(reader, None)
            yield from reader

    for row_no, row in enumerate(rows(), start=2):
        if not row:
            continue
        counter[0] += 1
        if len(row) != width:
            err = RowError("schema", "column_count", f"{len(row)} fields, the header has {width}")
            checks.reject(row_no, err, row)
            continue
        yield row_no, dict(zip(header, row, strict=True))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while a file's rows are built: it found nothing to free
    and cost ~25% of the parse time (measured, 538 file); reference counting still frees."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _parse(table: Table, today: dt.date, name_to_id: dict[str, str]) -> _Parsed:
    with _no_gc():
        return _parse_rows(table, today, name_to_id)


def _parse_rows(table: Table, today: dt.date, name_to_id: dict[str, str]) -> _Parsed:
    checks = Checks(table.source)
    counter = [0]
    recs = _records(table, checks, counter)
    payload: Any
    match table.layout:
        case "games_538":
            payload = games538.load(recs, checks, today)
        case "nba_team_gamelog":
            payload = gamelog.load(recs, checks, today)
        case "bref_totals" | "bref_advanced":
            kind = "totals" if table.layout == "bref_totals" else "advanced"
            payload = [
                player_seasons.load(
                    recs, checks, today, kind=kind, season_type=table.season_type or "regular"
                )
            ]
        case "nba_player_gamelog":
            by_type = player_gamelog.to_bref_rows(recs, checks, name_to_id)
            payload = [
                player_seasons.load(rows, checks, today, kind="totals", season_type=stype)
                for stype, rows in sorted(by_type.items())
            ]
        case "raptor":
            payload = player_info.load_raptor(recs, checks, today)
        case "bref_player_info":
            payload = player_info.load_info(recs, checks, today)
        case "bref_team_seasons":
            payload = team_seasons.load(recs, checks, today)
        case _:  # pragma: no cover - layouts and this match are kept in step
            raise InvalidInput(f"no loader for layout {table.layout}")
    missing, extra = header_issues(table.layout, table.header)
    if missing:
        checks.flag("schema", "missing_columns", f"not in the header: {', '.join(missing)}")
    if extra:
        checks.flag("schema", "extra_columns", f"ignored: {', '.join(extra)}", severity="info")
    return _Parsed(checks, counter[0], payload)


async def player_names(store: Store) -> dict[str, str]:
    """Normalized name -> player id, for names that belong to exactly one player."""
    seen: dict[str, str | None] = {}
    for pid, name in await store.fetchall("SELECT player_id, name FROM players WHERE name IS NOT NULL"):
        key = normalize(name)
        seen[key] = None if key in seen and seen[key] != pid else pid
    return {k: v for k, v in seen.items() if v is not None}


async def _write_players(conn: Any, players: dict[str, tuple[str, int]], *, overwrite: bool) -> int:
    """Add players; ``overwrite`` (Basketball-Reference) also corrects names. Returns players added."""
    if not players:
        return 0
    existing = {
        r[0]: (r[1], r[2])
        for r in await (await conn.execute("SELECT player_id, name, hall_of_fame FROM players")).fetchall()
    }
    rows = []
    for pid, (name, hof) in players.items():
        old = existing.get(pid)
        if old is not None and not overwrite:
            name, hof = old[0] or name, old[1]
        elif old is not None:
            hof = max(hof, old[1])
        rows.append((pid, name, hof))
    await upsert(conn, "players", ("player_id",), ("name", "hall_of_fame"), rows)
    return sum(1 for pid in players if pid not in existing)


async def _write(
    store: Store, table: Table, parsed: _Parsed, rescored: list[Rescore]
) -> tuple[int, int, int, list[str], dict[str, int]]:
    """Returns (inserted, updated, unchanged, new game ids, related counts); inside a transaction.
    Known games told with another score are added to ``rescored``."""
    conn = store.conn
    p = parsed.payload
    if table.layout in ("games_538", "nba_team_gamelog"):
        w = await write_games(conn, p, parsed.checks)
        rescored.extend(Rescore(gid, hp, ap, src) for gid, hp, ap, src in w.rescored)
        return w.inserted, w.updated, w.unchanged, w.new_game_ids, {}
    if table.layout in ("bref_totals", "bref_advanced", "nba_player_gamelog"):
        ins = upd = same = added = 0
        for ps in p:
            added += await _write_players(conn, ps.players, overwrite=table.layout != "nba_player_gamelog")
            c = await upsert(
                conn, "player_seasons", player_seasons.KEYS, ps.cols, ps.rows,
                where="season_type = ?", args=(ps.season_type,),
                fill_from=len(player_seasons.COMMON),
            )  # fmt: skip
            ins, upd, same = ins + c.inserted, upd + c.updated, same + c.unchanged
        return ins, upd, same, [], {"players_added": added}
    if table.layout == "raptor":
        added = await _write_players(conn, p.players, overwrite=False)
        c = await upsert(conn, "raptor", ("player_id", "season"), player_info.RAPTOR_COLS, p.rows)
        return c.inserted, c.updated, c.unchanged, [], {"players_added": added}
    if table.layout == "bref_player_info":
        c = await upsert(conn, "players", ("player_id",), ("pos", "height_in", "weight_lb"), p.rows)
        return c.inserted, c.updated, c.unchanged, [], {}
    c = await upsert(conn, "team_seasons_bref", ("franchise_id", "season"), team_seasons.COLS, p.rows)
    return c.inserted, c.updated, c.unchanged, [], {}


async def ingest_tables(
    store: Store,
    tables: Sequence[Table],
    *,
    today: dt.date | None = None,
    skipped: Sequence[SkippedFile] = (),
    force: bool = False,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest already-identified tables (files or live responses) as one run; ``progress`` hears
    of each table before it is read and after it is written."""
    today = today or dt.date.today()
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    async with store.transaction() as conn:
        cur = await conn.execute("INSERT INTO ingest_runs (started_at) VALUES (?)", (started,))
        run_id = int(cur.lastrowid or 0)
    ordered = sorted(tables, key=lambda t: ORDER.index(t.layout))
    files = await _run_tables(store, ordered, run_id, today, force, progress)
    if any(f.inserted or f.updated for f in files):
        await store.analyze()  # the planner's statistics follow the data (indexes chosen by them)
    store.bump()
    report = build_run_report(run_id, started, time.perf_counter() - t0, files, list(skipped))
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE ingest_runs SET finished_at = ?, report = ?, quality = ? WHERE run_id = ?",
            (
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                msgspec.json.encode(report).decode(),
                msgspec.json.encode(report.quality).decode(),
                run_id,
            ),
        )
    log.info("ingest.done", run_id=run_id, summary=report.summary)
    return report


class _Prepared(msgspec.Struct):
    """A table read and checked (or recognised as already ingested), ready to write."""

    t0: float
    sha: str | None
    parsed: _Parsed | None = None
    replayed: FileReport | None = None


async def _prepare(store: Store, table: Table, today: dt.date, force: bool) -> _Prepared:
    t0 = time.perf_counter()
    sha = None
    if table.path is not None and table.layout not in fingerprints.NEVER_SKIP:
        sha = await asyncio.to_thread(fingerprints.file_sha256, table.path)
        prev = (
            None if force else await fingerprints.previous(store.conn, sha, table.layout, table.season_type)
        )
        if prev is not None:
            replayed = fingerprints.replay(prev[1], prev[0], table.source, sha, time.perf_counter() - t0)
            return _Prepared(t0, sha, replayed=replayed)
    names = await player_names(store) if table.layout == "nba_player_gamelog" else {}
    return _Prepared(t0, sha, parsed=await asyncio.to_thread(_parse, table, today, names))


async def _commit(store: Store, table: Table, prep: _Prepared, run_id: int) -> FileReport:
    if prep.replayed is not None:
        return prep.replayed
    parsed = prep.parsed
    assert parsed is not None
    async with store.transaction() as conn:
        rescored: list[Rescore] = []
        ins, upd, same, new_ids, related = await _write(store, table, parsed, rescored)
        await conn.executemany(
            "INSERT OR IGNORE INTO quarantine (run_id, source, row_no, rule, reason, raw) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (run_id, table.source, n, rule, reason, raw)
                for n, rule, reason, raw in parsed.checks.quarantine
            ],
        )
        q = parsed.checks.quarantined
        what = "games" if table.layout in ("games_538", "nba_team_gamelog") else "rows"
        summary = (
            f"{table.layout} {table.source}: {parsed.rows_read} rows read; added {ins} {what}, "
            f"{upd} updated, {same} unchanged, {q} quarantined"
        )
        report = FileReport(
            path=table.source, layout=table.layout, season_type=table.season_type, rows_read=parsed.rows_read,
            inserted=ins, updated=upd, unchanged=same, quarantined=q, new_game_ids=new_ids,
            quality=parsed.checks.issues(table.source), elapsed_s=round(time.perf_counter() - prep.t0, 4),
            summary=summary, related=related, rescored=rescored,
        )  # fmt: skip
        if prep.sha is not None:
            future = sum(1 for _, rule, _, _ in parsed.checks.quarantine if rule == "future_date")
            await fingerprints.remember(conn, prep.sha, report, run_id, future)
    return report


async def _run_tables(
    store: Store,
    tables: list[Table],
    run_id: int,
    today: dt.date,
    force: bool,
    progress: IngestProgress | None = None,
) -> list[FileReport]:
    """Read, check and write the tables one after the other.

    Reading file N+1 while writing file N was tried: under the GIL it measured no
    faster on these 2-core machines, so the simple order stays.
    """
    files: list[FileReport] = []
    for i, table in enumerate(tables):
        name = Path(table.source).name
        if progress is not None:
            await progress(i / len(tables), f"{i + 1}/{len(tables)} {name}: reading")
        prep = await _prepare(store, table, today, force)
        files.append(await _commit(store, table, prep, run_id))
        if progress is not None:
            await progress((i + 1) / len(tables), f"{i + 1}/{len(tables)} {name}: {files[-1].summary}")
    return files


def _expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise InvalidInput(f"{p} does not exist (give CSV files or directories of them)")
    return out


def _read_header(path: Path) -> list[str] | None:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f), None)


async def ingest_paths(
    store: Store,
    paths: Sequence[Path | str],
    *,
    fmt: str = "auto",
    today: dt.date | None = None,
    force: bool = False,
    skipped: Sequence[SkippedFile] = (),
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest CSV files; a directory means every file under it, recursively.

    ``fmt`` is "auto" (detect each file's layout from its header) or a layout
    name from ``LAYOUTS`` (optionally ``bref_totals:playoffs``): then every file
    must be in it. Files that are not CSV or whose header matches no layout are
    listed in ``skipped`` with the reason. A file already ingested with the same
    content is not re-read (see ``fingerprints``) unless ``force``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    forced, forced_type = parse_fmt(fmt)
    tables: list[Table] = []
    skipped = list(skipped)  # files the caller refused (see nbamcp.data.ingest.paths)
    for path in _expand([Path(p) for p in paths]):
        if path.suffix.lower() != ".csv":
            skipped.append(SkippedFile(str(path), f"not a .csv file ({path.suffix or 'no suffix'})"))
            continue
        try:
            header = _read_header(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            skipped.append(SkippedFile(str(path), f"unreadable as UTF-8 CSV: {exc}"))
            continue
        if not header:
            skipped.append(SkippedFile(str(path), "empty file (no header)"))
            continue
        layout: str | None
        if forced:
            check_forced(forced, header, path)
            layout, stype = forced, forced_type
            if layout in ("bref_totals", "bref_advanced") and stype is None:
                stype = detect(header, path)[1]
        else:
            layout, stype = detect(header, path)
        if layout is None:
            skipped.append(SkippedFile(str(path), f"unrecognised header: {', '.join(header[:8])}"))
            continue
        tables.append(Table(str(path), layout, stype, header, path=path))
    return await ingest_tables(store, tables, today=today, skipped=skipped, force=force, progress=progress)
