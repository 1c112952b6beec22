"""Ingesting all of the shared data: counts against the raw CSV, merge of 2022-23, idempotency."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import msgspec

from nbamcp.data.ingest import IngestReport, ingest_paths
from nbamcp.data.ingest.rules import RULES
from nbamcp.data.store import Store, open_store
from tests.data import raw
from tests.data.conftest import TODAY


def _file(report: IngestReport, name: str):
    return next(f for f in report.files if f.path.endswith(name))


async def test_every_file_is_ingested_with_counts_from_the_raw_csv(
    full_ingest: tuple[Path, IngestReport], data_dir: Path, store: Store
) -> None:
    _, report = full_ingest
    assert [s.path.endswith("README.md") for s in report.skipped] == [True]
    assert len(report.files) == 9

    games = _file(report, "games_538_1947_2023.csv")
    assert games.layout == "games_538"
    assert games.rows_read == len(raw.games538(data_dir)) == 73114
    assert games.inserted == raw.good_538_games(data_dir) == 73113
    assert games.quarantined == 1 and len(games.new_game_ids) == games.inserted

    log = _file(report, "team_gamelog_2022-23.csv")
    assert (log.rows_read, log.inserted, log.updated, log.quarantined) == (
        len(raw.gamelog(data_dir)),
        0,
        1230,
        0,
    )

    for kind in ("totals", "advanced"):
        for st in ("regular", "playoffs"):
            f = _file(report, f"player_{kind}_{st}_1990_2024.csv")
            assert f.layout == f"bref_{kind}" and f.season_type == st
            assert f.rows_read == f.inserted == len(raw.players(data_dir, kind, st)), f.path
    assert _file(report, "raptor_by_player_1977_2022.csv").inserted == 19159
    assert _file(report, "player_info.csv").inserted == 3052
    assert _file(report, "team_seasons_1990_2024.csv").inserted == 1023

    n = (await store.fetchone("SELECT COUNT(*) FROM games"))[0]
    assert n == 73113 == len(report.new_game_ids)
    totals = raw.players(data_dir, "totals", "regular") + raw.players(data_dir, "totals", "playoffs")
    assert (await store.fetchone("SELECT COUNT(*) FROM player_seasons"))[0] == len(totals)
    tot_rows = sum(1 for r in totals if r["Tm"] == "TOT")
    assert (await store.fetchone("SELECT COUNT(*) FROM player_seasons WHERE is_total = 1"))[0] == tot_rows
    hof = {r["Pk"] for r in totals if r["Player"].endswith("*")}
    stored_hof = {r[0] for r in await store.fetchall("SELECT player_id FROM players WHERE hall_of_fame = 1")}
    assert stored_hof == hof
    assert (await store.fetchone("SELECT COUNT(*) FROM players WHERE name LIKE '%*'"))[0] == 0


async def test_quality_report_counts_rules_and_is_stored(
    full_ingest: tuple[Path, IngestReport], store: Store
) -> None:
    _, report = full_ingest
    q = report.quality
    assert q.by_rule["zero_score"] == 1  # 1972-10-26 VIR 2-0 DNR, a forfeit
    assert q.by_rule["team_twice_on_date"] == 2  # ATL and MIA on 2008-03-07 (the protested game)
    assert q.by_rule["duplicate_row"] == 0 and q.by_rule["score_conflict"] == 0
    assert q.errors == q.rows_quarantined == 1
    # Every category is checked (zero counts included), not only the rules that fired.
    cats = {RULES[r][0] for r in q.by_rule if r in RULES}
    assert {
        "schema",
        "types",
        "nulls",
        "ranges",
        "duplicates",
        "integrity",
        "conflicts",
        "impossible",
    } <= cats
    row = await store.fetchone("SELECT source, row_no, rule, reason, raw FROM quarantine")
    assert row["rule"] == "zero_score" and row["row_no"] == 13344
    assert json.loads(row["raw"])["team1"] == "VIR"
    stored = await store.fetchone(
        "SELECT report, quality FROM ingest_runs WHERE run_id = ?", (report.run_id,)
    )
    assert msgspec.json.decode(stored["report"], type=IngestReport) == report


async def test_2022_23_from_538_and_nba_api_is_one_game_each(store: Store, data_dir: Path) -> None:
    rows = await store.fetchall(
        "SELECT sources, nba_game_id FROM games WHERE season = 2023 AND season_type = 'regular'"
    )
    assert len(rows) == 1230
    assert Counter(r["sources"] for r in rows) == {"538,nba_api": 1230}
    ids = {r["nba_game_id"] for r in rows}
    assert ids == {r["game_id"] for r in raw.gamelog(data_dir)}
    # The two neutral-site games keep 538's orientation and flag.
    neutral = await store.fetchall("SELECT game_id FROM games WHERE season = 2023 AND neutral = 1")
    assert sorted(r[0] for r in neutral) == ["2022-12-17-MIA-SAS-1", "2023-01-19-CHI-DET-1"]


async def test_doubleheaders_get_seq_2_and_ids_are_stable(store: Store) -> None:
    rows = await store.fetchall("SELECT game_id FROM games WHERE game_id LIKE '%-2' ORDER BY game_id")
    assert [r[0] for r in rows] == [
        "1954-03-08-BLB-ATL-2",
        "1970-02-08-ATL-CHI-2",
        "1976-01-24-BKN-VIR-2",
        "1979-03-23-BKN-PHI-2",
        "1983-04-13-LAL-SAS-2",
    ]
    row = await store.fetchone("SELECT home_code, away_code, home, away FROM games WHERE game_id = ?",
                               ("2016-04-13-MEM-GSW-1",))  # fmt: skip
    assert tuple(row) == ("GSW", "MEM", "GSW", "MEM")
    playin = await store.fetchone("SELECT COUNT(*) FROM games WHERE playin = 1")
    assert playin[0] == 18  # six play-in games in each of 2021, 2022 and 2023


async def test_second_ingest_of_the_same_files_changes_nothing(
    full_ingest: tuple[Path, IngestReport], data_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(full_ingest[0], copy)
    async with await open_store(copy) as store:
        before = (await store.fetchone("SELECT COUNT(*) FROM quarantine"))[0]
        kept = sum(f.rows_read for f in full_ingest[1].files) - 2460 // 2 - full_ingest[1].quarantined
        # Same bytes: recognised by their sha256, not re-read.
        again = await ingest_paths(store, [data_dir], today=TODAY)
        assert (again.inserted, again.updated, again.unchanged, again.new_game_ids) == (0, 0, kept, [])
        assert all("not re-read" in f.summary for f in again.files)
        assert again.quality.by_rule["zero_score"] == 1  # the earlier findings still stand
        # Forced: every row is read, checked and compared again, with the same outcome.
        forced = await ingest_paths(store, [data_dir], today=TODAY, force=True)
        assert (forced.inserted, forced.updated, forced.unchanged, forced.new_game_ids) == (0, 0, kept, [])
        assert all(f.inserted == 0 and "rows read" in f.summary for f in forced.files)
        assert (await store.fetchone("SELECT COUNT(*) FROM games"))[0] == 73113
        assert (await store.fetchone("SELECT COUNT(*) FROM quarantine"))[0] == before
        assert "added 0" in forced.summary
