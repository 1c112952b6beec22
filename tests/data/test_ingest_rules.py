"""Quarantine rules, incremental ingestion, source conflicts and file handling, on crafted files."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from nbamcp.data.ingest import ingest_paths
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput
from tests.data import raw
from tests.data.conftest import TODAY


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]] | list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return path


async def quarantined(store: Store) -> dict[int, tuple[str, str]]:
    rows = await store.fetchall("SELECT row_no, rule, reason FROM quarantine ORDER BY row_no")
    return {r[0]: (r[1], r[2]) for r in rows}


def games_header(data: Path) -> list[str]:
    return list(raw.games538(data)[0].keys())


async def test_bad_538_rows_are_quarantined_with_their_reason(
    empty_store: Store, data_dir: Path, tmp_path: Path
) -> None:
    good = [dict(r) for r in raw.games538(data_dir)[-5:]]  # the last games of the 2023 playoffs
    bad = [
        {**good[0], "score2": "0"},  # row 7: zero score
        {**good[0], "date": "2024-12-25", "season": "2025"},  # row 8: future relative to TODAY
        {**good[0], "team1": "XYZ"},  # row 9: unknown code
        dict(good[1]),  # row 10: exact duplicate of row 3
        {**good[2], "score1": "1", "score2": "2"},  # row 11: conflicting duplicate of row 4
        {**good[0], "score1": "100", "score2": "100", "date": "2023-05-01"},  # row 12: tie
        {**good[0], "score1": "abc", "date": "2023-05-02"},  # row 13: not an integer
        {**good[0], "date": "2021-01-01"},  # row 14: not in season 2023
        {**good[0], "team2": good[0]["team1"], "date": "2023-05-03"},  # row 15: same team
    ]
    path = write_csv(tmp_path / "games.csv", games_header(data_dir), good + bad)
    with path.open("a", newline="") as f:
        f.write("2023-05-04,2023,0\n")  # row 16: wrong number of fields
    report = await ingest_paths(empty_store, [path], today=TODAY)
    f = report.files[0]
    assert (f.rows_read, f.inserted, f.quarantined) == (15, 5, 10)
    q = await quarantined(empty_store)
    assert {n: rule for n, (rule, _) in q.items()} == {
        7: "zero_score", 8: "future_date", 9: "unknown_team_code", 10: "duplicate_row",
        11: "conflicting_duplicate", 12: "tied_score", 13: "not_integer", 14: "season_date_mismatch",
        15: "same_team", 16: "column_count",
    }  # fmt: skip
    assert "XYZ" in q[9][1] and "2024-12-01" in q[8][1]
    assert report.quality.by_rule["zero_score"] == 1 and report.quality.errors == 10
    assert (await empty_store.fetchone("SELECT COUNT(*) FROM games"))[0] == 5
    # The future game is accepted once its date has passed.
    later = await ingest_paths(empty_store, [path], today=dt.date(2025, 1, 1))
    assert later.files[0].inserted == 1 and later.new_game_ids[0].startswith("2024-12-25-")


async def test_incremental_file_adds_only_the_new_games(
    empty_store: Store, data_dir: Path, tmp_path: Path
) -> None:
    header, rows = games_header(data_dir), raw.games538(data_dir)
    first = await ingest_paths(empty_store, [write_csv(tmp_path / "a.csv", header, rows[:1000])], today=TODAY)
    assert first.inserted == 1000 and "added 1000 games" in first.files[0].summary
    second = await ingest_paths(
        empty_store, [write_csv(tmp_path / "a.csv", header, rows[:1500])], today=TODAY
    )
    f = second.files[0]
    assert (f.inserted, f.updated, f.unchanged) == (500, 0, 1000)
    assert "added 500 games" in f.summary and len(second.new_game_ids) == 500
    assert second.new_game_ids[0].startswith(rows[1000]["date"])
    again = await ingest_paths(empty_store, [tmp_path / "a.csv"], today=TODAY)
    assert again.inserted == 0 and again.new_game_ids == [] and again.unchanged == 1500


async def test_gamelog_lone_and_inconsistent_rows(empty_store: Store, data_dir: Path, tmp_path: Path) -> None:
    log = raw.gamelog(data_dir)
    header = list(log[0].keys())

    def game(gid: str) -> list[dict[str, str]]:
        return [dict(r) for r in log if r["game_id"] == gid]

    rows = game("0022200001") + game("0022200002") + game("0022200004")  # rows 2..7
    rows[5] = {**rows[5], "wl": "W" if rows[5]["wl"] == "L" else "L"}  # game 4: W/L contradicts the score
    rows.append(game("0022200003")[0])  # row 8: a lone row (its partner is missing)
    rows.append(dict(rows[0]))  # row 9: an exact duplicate of row 2
    rows.append({**game("0022200012")[0], "matchup": "garbage"})  # row 10: unparseable matchup
    path = write_csv(tmp_path / "log.csv", header, rows)
    report = await ingest_paths(empty_store, [path], today=TODAY)
    f = report.files[0]
    assert f.layout == "nba_team_gamelog" and f.inserted == 2 and f.quarantined == 5
    q = await quarantined(empty_store)
    assert {n: rule for n, (rule, _) in q.items()} == {
        6: "inconsistent_game",
        7: "inconsistent_game",
        8: "lone_row",
        9: "duplicate_row",
        10: "bad_matchup",
    }
    assert "only one team row" in q[8][1]
    g = await empty_store.fetchone("SELECT * FROM games WHERE nba_game_id = '0022200001'")
    assert (g["home"], g["away"], g["home_pts"], g["away_pts"], g["sources"]) == (
        "BOS",
        "PHI",
        126,
        117,
        "nba_api",
    )


async def test_conflicting_scores_between_sources_are_quarantined(
    empty_store: Store, data_dir: Path, tmp_path: Path
) -> None:
    games = [r for r in raw.games538(data_dir) if r["date"] == "2022-10-18"]
    assert len(games) == 2
    await ingest_paths(
        empty_store, [write_csv(tmp_path / "g.csv", games_header(data_dir), games)], today=TODAY
    )
    log = [dict(r) for r in raw.gamelog(data_dir) if r["game_date"] == "2022-10-18"]
    for r in log:
        if r["team_abbreviation"] == "BOS":
            r["pts"] = "127"  # 538 says 126
    report = await ingest_paths(empty_store, [write_csv(tmp_path / "l.csv", list(log[0]), log)], today=TODAY)
    f = report.files[0]
    assert (f.inserted, f.updated, f.quarantined) == (0, 1, 2)
    q = await quarantined(empty_store)
    assert {rule for rule, _ in q.values()} == {"score_conflict"}
    assert "126-117" in next(iter(q.values()))[1]
    kept = await empty_store.fetchone("SELECT home_pts, sources, nba_game_id FROM games WHERE home = 'BOS'")
    assert tuple(kept) == (126, "538", None)


async def test_bad_player_rows(empty_store: Store, data_dir: Path, tmp_path: Path) -> None:
    src = raw.players(data_dir, "totals", "regular")
    header = list(src[0].keys())
    good = [dict(r) for r in src[:3]]
    bad = [
        {**good[1], "Year": "2023", "MP": "-5"},  # row 5: negative minutes
        {**good[1], "Year": "2022", "PTS": "1"},  # row 6: points do not add up
        {**good[1], "Year": "2021", "Tm": "ZZZ"},  # row 7: unknown team code
        dict(good[2]),  # row 8: duplicate
        {**good[1], "Year": "2020", "FG%": "1.7"},  # row 9: percentage out of range
        {**good[1], "Year": "2019", "G": "0"},  # row 10: games played out of range
    ]
    path = write_csv(tmp_path / "player_totals_regular_x.csv", header, good + bad)
    report = await ingest_paths(empty_store, [path], today=TODAY)
    f = report.files[0]
    assert (f.layout, f.season_type, f.inserted, f.quarantined) == ("bref_totals", "regular", 3, 6)
    q = await quarantined(empty_store)
    assert {n: rule for n, (rule, _) in q.items()} == {
        5: "negative_minutes", 6: "points_mismatch", 7: "unknown_team_code", 8: "duplicate_row",
        9: "percentage_range", 10: "games_played_range",
    }  # fmt: skip
    assert "MP=-5" in q[5][1]


async def test_file_handling_skips_and_bad_arguments(
    empty_store: Store, data_dir: Path, tmp_path: Path
) -> None:
    top = tmp_path / "in"
    sub = top / "deeper"
    sub.mkdir(parents=True)
    (top / "notes.txt").write_text("hello")
    write_csv(top / "other.csv", ["a", "b"], [["1", "2"]])
    (top / "empty.csv").write_text("")
    write_csv(sub / "g.csv", games_header(data_dir), raw.games538(data_dir)[:3])
    report = await ingest_paths(empty_store, [top], today=TODAY)
    assert [f.layout for f in report.files] == ["games_538"] and report.inserted == 3
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"notes.txt", "other.csv", "empty.csv"}
    assert "unrecognised header" in reasons["other.csv"] and "not a .csv" in reasons["notes.txt"]
    with pytest.raises(InvalidInput, match="does not exist"):
        await ingest_paths(empty_store, [tmp_path / "missing.csv"])
    with pytest.raises(InvalidInput, match="accepted: auto"):
        await ingest_paths(empty_store, [sub], fmt="excel")
    with pytest.raises(InvalidInput, match="missing columns"):
        await ingest_paths(empty_store, [sub / "g.csv"], fmt="bref_totals")
    forced = await ingest_paths(empty_store, [sub / "g.csv"], fmt="games_538", today=TODAY)
    assert forced.unchanged == 3
