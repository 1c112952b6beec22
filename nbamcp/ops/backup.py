"""Backups of one home, taken while the server runs, and their verified restore.

What a home holds that cannot be rebuilt: every SQLite file (``Config``'s paths:
the stats store, the registry, the trainer's retraining record and job queue, the
prediction log, the monitor's book, the usage counters, the in-process event outbox),
the content-addressed model artifacts and the API keys. Derived state (feature
snapshots, the serving workers' model cache) is left out: the workers rebuild it on start.

A backup is a folder ``nbamcp-<UTC stamp>`` with the files under their paths in the
home and ``manifest.json``: each file's size and sha256, and the manifest's own
digest. SQLite files are copied with SQLite's online backup API (one consistent
snapshot per file while writers go on; WAL lets them) and checked with
``PRAGMA quick_check``; the files are copied one after the other, in an order that
keeps them coherent (``databases``). The folder is written as ``.partial-<name>`` and renamed when
complete, so a crashed backup never looks like one. The registry is copied before
the artifacts: artifacts are never deleted, so every version the copied registry
names has its artifact in the backup.

``restore`` verifies the whole backup (manifest digest, every file's size and sha256,
no path outside the home) before it writes anything, then copies each file beside its
target (hashing again while copying) and renames them into place, dropping stale
``-wal`` / ``-shm`` files that would otherwise be replayed over the restored database.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Literal

import msgspec
import structlog

from nbamcp import __version__
from nbamcp.config import Config
from nbamcp.errors import IntegrityError, InvalidInput

log = structlog.get_logger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
INDEX = "index.json"  # a backup of every worker's home (`nbamcp backup --bus`): one part per worker
PARTIAL = ".partial-"
_NAME = re.compile(r"^nbamcp-\d{8}T\d{6}\.\d{6}Z$")
_CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

Kind = Literal["sqlite", "artifact", "file"]


class FileEntry(msgspec.Struct, frozen=True):
    path: str  # relative to the home, POSIX separators
    kind: Kind
    size: int
    sha256: str


class Manifest(msgspec.Struct, frozen=True):
    format: int
    name: str
    created_at: float  # Unix time the backup started
    nbamcp_version: str
    home: str  # the home it was taken from (informative only)
    label: str  # who took it: "cli", or the worker instance on a bus command
    files: tuple[FileEntry, ...]
    digest: str = ""  # sha256 of this manifest encoded with digest = ""


class PartEntry(msgspec.Struct, frozen=True):
    worker: str
    instance: str
    part: str  # the folder of the part (a home backup) inside the set
    digest: str  # that part's manifest digest


class SetIndex(msgspec.Struct, frozen=True):
    format: int
    name: str
    created_at: float
    parts: tuple[PartEntry, ...]
    digest: str = ""


def _digest(m: Manifest | SetIndex) -> str:
    body = msgspec.json.encode(msgspec.structs.replace(m, digest=""))
    return hashlib.sha256(body).hexdigest()


def write_index(folder: Path, name: str, created_at: float, parts: tuple[PartEntry, ...]) -> SetIndex:
    index = SetIndex(FORMAT, name, created_at, tuple(sorted(parts, key=lambda p: (p.worker, p.instance))))
    index = msgspec.structs.replace(index, digest=_digest(index))
    tmp = folder / f".{INDEX}.tmp"
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(index)))
    os.replace(tmp, folder / INDEX)
    return index


def read_index(src: Path) -> SetIndex:
    try:
        index = msgspec.json.decode((src / INDEX).read_bytes(), type=SetIndex)
    except msgspec.MsgspecError as exc:
        raise IntegrityError(f"the backup at {src} is damaged: its {INDEX} does not decode ({exc})") from None
    if index.format != FORMAT:
        raise InvalidInput(f"the backup at {src} has format {index.format}; this nbamcp reads {FORMAT}")
    if _digest(index) != index.digest:
        raise IntegrityError(f"the backup at {src} is damaged: its {INDEX} does not match its digest")
    return index


def choose_part(src: Path, part: str | None) -> Path:
    """The home backup to restore from the backup at ``src``: itself, or the worker part named ``part``."""
    if (src / MANIFEST).is_file():
        if part:
            raise InvalidInput(f"{src} is the backup of one home: it has no parts (drop --part)")
        return src
    index = read_index(src)
    names = ", ".join(f"{p.worker} ({p.instance})" for p in index.parts)
    if not part:
        raise InvalidInput(f"{src} holds one part per worker: choose one with --part ({names})")
    found = [p for p in index.parts if part in (p.worker, p.instance, p.part)]
    if len(found) != 1:
        what = "several parts match" if found else "no part matches"
        raise InvalidInput(f"{what} {part!r} in {src}: name one of {names} (an instance if several)")
    chosen = src / found[0].part
    if read_manifest(chosen).digest != found[0].digest:
        raise IntegrityError(f"the backup at {src} is damaged: part {found[0].part} is not the one it lists")
    return chosen


def backup_name(now: float) -> str:
    micros = round(now * 1e6) % 1_000_000
    return "nbamcp-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{micros:06d}Z"


# ---- what a home holds ---------------------------------------------------------------------------------
def databases(config: Config) -> dict[str, Path]:
    """Every SQLite file a home may hold, by its name in a backup, in the order they are copied.

    The in-process event outbox first: its consumers' positions are then never ahead of what
    the consumers' own files hold (an event acked after the outbox's copy is delivered again
    after a restore, and stored idempotently). The trainer's job queue before its retraining
    record (a job acked after the queue's copy comes back and is found done), that record
    before the registry (every version it names is in the copied registry). The registry
    before the artifacts (below)."""
    paths = (
        config.events_path,
        config.train_queue_path,
        config.predlog_path,
        config.monitor_path,
        config.usage_path,
        config.alerts_path,
        config.store_path,
        config.retrain_path,
        config.registry_path,
    )
    return {p.name: p for p in paths}


KEYS_NAME = "keys.json"
ARTIFACTS_NAME = "artifacts"


def _target(config: Config, rel: str) -> Path:
    """Where the file ``rel`` of a backup goes in ``config``'s home (checked: never outside it)."""
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        raise IntegrityError(f"the backup names an unsafe path {rel!r}")
    if rel == KEYS_NAME:
        return config.keys_path
    dbs = databases(config)
    if rel in dbs:
        return dbs[rel]
    if parts[0] == ARTIFACTS_NAME and len(parts) > 1:
        return config.artifacts_dir.joinpath(*parts[1:])
    raise IntegrityError(f"the backup holds {rel!r}, which is no file of a home")


def _entry(rel: str, kind: Kind, path: Path) -> FileEntry:
    sha, size = _sha256_file(path)
    return FileEntry(rel, kind, size, sha)


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# ---- backup ----------------------------------------------------------------------------------------------
def _copy_sqlite(src: Path, dst: Path) -> None:
    # A read connection of our own: SQLite's online backup API copies one consistent snapshot
    # while the workers' connections keep writing (WAL).
    # mode=rw: never create a file that vanished; read-only would fail on a WAL file without -shm.
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=rw", uri=True)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            (ok,) = target.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise IntegrityError(f"the copy of {src} fails SQLite's quick_check: {ok}")
            # A self-contained file: no -wal beside it in the backup.
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    finally:
        source.close()


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _artifacts(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        # Skip the store's temporary files (a write in progress is renamed into place when whole).
        if path.is_file() and not path.name.endswith(".tmp") and not path.name.startswith("."):
            yield path


def backup_home(
    config: Config, dest: Path, *, name: str | None = None, label: str = "cli", now: float | None = None
) -> Path:
    """Back ``config``'s home up into the new folder ``dest/name`` (default ``nbamcp-<UTC stamp>``);
    its path. Safe while the server runs."""
    started = time.time() if now is None else now
    name = name or backup_name(started)
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f"{PARTIAL}{name}"
    final = dest / name
    if final.exists():
        raise InvalidInput(f"{final} exists already")
    partial.mkdir()
    entries: list[FileEntry] = []
    try:
        # The registry first, the artifacts after it (see the module docstring).
        for rel, path in databases(config).items():
            if path.is_file():
                _copy_sqlite(path, partial / rel)
                entries.append(_entry(rel, "sqlite", partial / rel))
        for path in _artifacts(config.artifacts_dir):
            rel = (
                PurePosixPath(ARTIFACTS_NAME) / path.relative_to(config.artifacts_dir).as_posix()
            ).as_posix()
            _copy_file(path, partial / rel)
            entry = _entry(rel, "artifact", partial / rel)
            if _HEX64.fullmatch(path.name) and entry.sha256 != path.name:
                # Content addressed: a file whose bytes are not its name is damaged; a backup of it is none.
                raise IntegrityError(f"the artifact {path} does not match its sha256: it is damaged")
            entries.append(entry)
        if config.keys_path.is_file():
            # Written by an atomic rename: a plain copy is always one whole version of the file.
            _copy_file(config.keys_path, partial / KEYS_NAME)
            os.chmod(partial / KEYS_NAME, 0o600)
            entries.append(_entry(KEYS_NAME, "file", partial / KEYS_NAME))
        manifest = Manifest(FORMAT, name, started, __version__, str(config.home), label, tuple(entries))
        manifest = msgspec.structs.replace(manifest, digest=_digest(manifest))
        (partial / MANIFEST).write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
        _fsync_tree(partial)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info(
        "backup.done", path=str(final), files=len(entries), bytes=sum(e.size for e in entries), label=label
    )
    return final


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# ---- verify and restore ------------------------------------------------------------------------------------
def read_manifest(src: Path) -> Manifest:
    """The manifest of the backup at ``src``, its own digest checked."""
    path = src / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{src} is not an nbamcp backup (no {MANIFEST})")
    try:
        manifest = msgspec.json.decode(path.read_bytes(), type=Manifest)
    except msgspec.MsgspecError as exc:
        raise IntegrityError(
            f"the backup at {src} is damaged: its {MANIFEST} does not decode ({exc})"
        ) from None
    if manifest.format != FORMAT:
        raise InvalidInput(f"the backup at {src} has format {manifest.format}; this nbamcp reads {FORMAT}")
    if _digest(manifest) != manifest.digest:
        raise IntegrityError(f"the backup at {src} is damaged: its {MANIFEST} does not match its digest")
    return manifest


def verify_backup(src: Path, config: Config) -> Manifest:
    """Check every file of the backup at ``src`` against its manifest (``IntegrityError`` if one differs)."""
    manifest = read_manifest(src)
    listed = set()
    for entry in manifest.files:
        _target(config, entry.path)  # refuses unsafe or unknown paths
        listed.add(entry.path)
        path = src / entry.path
        if not path.is_file():
            raise IntegrityError(f"the backup at {src} is damaged: {entry.path} is missing")
        sha, size = _sha256_file(path)
        if size != entry.size or sha != entry.sha256:
            raise IntegrityError(
                f"the backup at {src} is damaged: {entry.path} is {size} bytes with sha256 {sha[:12]}..., "
                f"the manifest says {entry.size} bytes, {entry.sha256[:12]}..."
            )
    extra = sorted(
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_file() and p.name != MANIFEST and p.relative_to(src).as_posix() not in listed
    )
    if extra:
        raise IntegrityError(
            f"the backup at {src} holds files its manifest does not list: {', '.join(extra[:5])}"
        )
    return manifest


def resolve_source(src: Path) -> Path:
    """A backup folder, or the latest complete backup in a folder of backups."""
    if (src / MANIFEST).is_file() or (src / INDEX).is_file():
        return src
    found = list_backups(src)
    if not found:
        raise InvalidInput(f"{src} is neither an nbamcp backup nor a folder holding one")
    return found[-1]


def restore_home(src: Path, config: Config, *, force: bool = False) -> Manifest:
    """Restore the backup at ``src`` into ``config``'s home; the server must be stopped.

    Everything is verified before the first write; existing files are refused unless ``force``.
    """
    manifest = verify_backup(src, config)
    targets = [(e, _target(config, e.path)) for e in manifest.files]
    present = [t for _, t in targets if t.exists()]
    present += [p for p in databases(config).values() if p.exists() and p not in {t for _, t in targets}]
    if present and not force:
        raise InvalidInput(
            f"the home {config.home} is not empty ({', '.join(str(p) for p in present[:3])}, ...): "
            "stop the server, then restore with --force to replace what is there"
        )
    staged: list[tuple[Path, Path]] = []
    try:
        for entry, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.restore-tmp")
            sha = _copy_hashed(src / entry.path, tmp)
            if sha != entry.sha256:  # changed between the check and the copy
                raise IntegrityError(f"{entry.path} changed while it was being restored from {src}")
            staged.append((tmp, target))
        # A database the backup lacks must not survive beside the restored ones: the home is the backup's.
        for path in databases(config).values():
            if path.exists() and path not in {t for _, t in targets}:
                path.unlink()
        for tmp, target in staged:
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            os.replace(tmp, target)
        if (config.keys_path).exists():
            os.chmod(config.keys_path, 0o600)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    log.info("restore.done", source=str(src), home=str(config.home), files=len(manifest.files))
    return manifest


def _copy_hashed(src: Path, dst: Path) -> str:
    h = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()


# ---- retention ---------------------------------------------------------------------------------------------
def list_backups(dest: Path) -> list[Path]:
    """The complete backups in ``dest``, oldest first (their names sort by time)."""
    if not dest.is_dir():
        return []
    return sorted(
        p
        for p in dest.iterdir()
        if p.is_dir() and _NAME.match(p.name) and ((p / MANIFEST).is_file() or (p / INDEX).is_file())
    )


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete all but the latest ``keep`` backups in ``dest``; the deleted ones."""
    if keep < 1:
        raise InvalidInput(f"keep must be at least 1, got {keep}")
    old = list_backups(dest)[:-keep]
    for path in old:
        shutil.rmtree(path)
        log.info("backup.pruned", path=str(path))
    return old


def total_bytes(manifest: Manifest) -> int:
    return sum(e.size for e in manifest.files)
