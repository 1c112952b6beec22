"""Backups of a home: consistent while a writer is busy, verified before a restore writes anything,
refused when one byte is off, pruned to the last N; and the CLI's one-line errors."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import msgspec
import pytest

from nbamcp.config import Config
from nbamcp.errors import IntegrityError, InvalidInput
from nbamcp.ml.artifacts import ArtifactStore
from nbamcp.ops.backup import (
    MANIFEST,
    _digest,
    backup_home,
    list_backups,
    prune,
    read_manifest,
    restore_home,
    verify_backup,
)
from tests.ops.conftest import nbamcp


def config_for(home: Path) -> Config:
    return msgspec.convert({"paths": {"home": str(home)}}, Config)


def make_home(home: Path) -> Config:
    """A home with a WAL database, an artifact and a keys file (what a real one holds, small)."""
    config = config_for(home)
    home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(config.predlog_path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, p REAL)")
        db.executemany("INSERT INTO predictions (p) VALUES (?)", [(i / 100,) for i in range(100)])
    ArtifactStore(config.artifacts_dir).put(b"an onnx model, pretend")
    config.keys_path.write_text('{"keys": []}')
    return config


def rows(path: Path) -> list[tuple[int, float]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, p FROM predictions ORDER BY id").fetchall()


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_backup_while_writing_holds_the_committed_rows_only(tmp_path: Path) -> None:
    config = make_home(tmp_path / "home")
    writer = sqlite3.connect(config.predlog_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO predictions (p) VALUES (0.5)")  # uncommitted while the backup runs
    try:
        path = backup_home(config, tmp_path / "backups")
    finally:
        writer.execute("COMMIT")
        writer.close()
    m = verify_backup(path, config)
    assert {e.path for e in m.files} == {
        "predlog.sqlite",
        "keys.json",
        *(f"artifacts/{p}" for p in files_under(config.artifacts_dir)),
    }
    assert len(rows(path / "predlog.sqlite")) == 100
    assert not (path / "predlog.sqlite-wal").exists()  # self-contained

    restored = config_for(tmp_path / "restored")
    restore_home(path, restored)
    assert rows(restored.predlog_path) == rows(path / "predlog.sqlite")
    assert ArtifactStore(restored.artifacts_dir).get(m.files[1].path.rsplit("/", 1)[1])
    assert restored.keys_path.read_text() == '{"keys": []}'
    assert os.stat(restored.keys_path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("victim", ["predlog.sqlite", "keys.json", "artifact", MANIFEST])
def test_one_byte_changed_is_refused_before_anything_is_written(tmp_path: Path, victim: str) -> None:
    config = make_home(tmp_path / "home")
    path = backup_home(config, tmp_path / "backups")
    if victim == "artifact":
        victim = next(e.path for e in read_manifest(path).files if e.kind == "artifact")
    target = path / victim
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with pytest.raises(IntegrityError, match="damaged"):
        restore_home(path, config_for(fresh))
    assert files_under(fresh) == []  # nothing written


def test_a_damaged_artifact_in_the_home_fails_the_backup(tmp_path: Path) -> None:
    config = make_home(tmp_path / "home")
    (artifact,) = (p for p in config.artifacts_dir.rglob("*") if p.is_file())
    artifact.write_bytes(b"not what was stored")
    with pytest.raises(IntegrityError, match="does not match its sha256"):
        backup_home(config, tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []  # the partial folder is gone too


def test_missing_extra_and_unsafe_files_are_refused(tmp_path: Path) -> None:
    config = make_home(tmp_path / "home")
    path = backup_home(config, tmp_path / "backups")
    (path / "stray.txt").write_text("x")
    with pytest.raises(IntegrityError, match=r"does not list: stray\.txt"):
        verify_backup(path, config)
    (path / "stray.txt").unlink()
    (path / "keys.json").unlink()
    with pytest.raises(IntegrityError, match=r"keys\.json is missing"):
        verify_backup(path, config)
    # A manifest that is whole (its digest right) but names a path outside the home.
    m = read_manifest(path)
    evil = msgspec.structs.replace(m, files=(msgspec.structs.replace(m.files[0], path="../evil"), *m.files))
    evil = msgspec.structs.replace(evil, digest=_digest(evil))
    (path / MANIFEST).write_bytes(msgspec.json.encode(evil))
    with pytest.raises(IntegrityError, match=r"unsafe path '\.\./evil'"):
        verify_backup(path, config)


def test_restore_refuses_a_home_in_use_unless_forced_and_drops_stale_wal(tmp_path: Path) -> None:
    config = make_home(tmp_path / "home")
    path = backup_home(config, tmp_path / "backups")
    with sqlite3.connect(config.predlog_path) as db:
        db.execute("DELETE FROM predictions")
    with pytest.raises(InvalidInput, match="not empty"):
        restore_home(path, config)
    wal = Path(f"{config.predlog_path}-wal")
    wal.write_bytes(b"stale")
    restore_home(path, config, force=True)
    assert not wal.exists()
    assert len(rows(config.predlog_path)) == 100


def test_retention_keeps_the_last_n(tmp_path: Path) -> None:
    config = make_home(tmp_path / "home")
    dest = tmp_path / "backups"
    made = [backup_home(config, dest, now=1_800_000_000.0 + i) for i in range(4)]
    (dest / ".partial-nbamcp-20270101T000000.000000Z").mkdir()  # a crashed backup is no backup
    assert list_backups(dest) == made
    assert prune(dest, 2) == made[:2]
    assert list_backups(dest) == made[2:]


def test_cli_backup_check_restore_and_a_damaged_backup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_home(home)
    dest = tmp_path / "backups"
    for _ in range(3):
        done = nbamcp(home, "backup", str(dest), "--keep", "2")
        assert done.returncode == 0, done.stderr
    assert len(list_backups(dest)) == 2
    assert "Backup written to" in done.stdout and "Deleted the older backup" in done.stdout

    done = nbamcp(home, "restore", str(dest), "--check")  # a folder of backups: the latest
    assert done.returncode == 0 and "intact" in done.stdout, done.stderr
    done = nbamcp(home, "restore", str(dest))  # the home is in use
    assert done.returncode == 1 and "nbamcp: invalid_input: the home" in done.stderr

    latest = list_backups(dest)[-1]
    db = latest / "predlog.sqlite"
    data = bytearray(db.read_bytes())
    data[-1] ^= 0xFF
    db.write_bytes(bytes(data))
    done = nbamcp(tmp_path / "empty", "restore", str(latest))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("nbamcp: integrity: the backup at") and "predlog.sqlite" in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "empty").exists()

    done = nbamcp(home, "backup")  # no DEST and no [backup] dir
    assert done.returncode == 1
    assert "give the backup folder" in done.stderr
