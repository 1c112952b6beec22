"""A crash journal for prediction events: a plain file write before the reply, replayed on restart.

The prediction log's events go to the durable stream in groups, after the reply
(``nbamcp.serving.event_log``): the reply never waits for a commit or a PubAck.
What a process killed outright (SIGKILL, the OOM killer) still holds in memory
would be lost, so each answered request's events are first appended here with one
``os.write`` into the page cache (microseconds, no fsync: it survives the process,
not a power cut), before the reply leaves.

Files: one *segment* per group under the worker's journal folder, named by the
process (``OWNER.lock``, held with ``flock`` for the process's life) and a number.
A group's segment is sealed when the group goes out and deleted once every event of
it is stored; a group with a failed publish keeps its segment. At its next start a
worker takes the locks nobody holds (their process is gone) and publishes every
event of their segments again: the dedup id (request, model, version, game) and the
log's unique key keep each event stored once, however often it is sent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import structlog

from nbamcp.messages import PredictionEvent

log = structlog.get_logger(__name__)

_HEADER = 4  # bytes of a record's length, big-endian
_Record = tuple[str, list[PredictionEvent]]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


class EventJournal:
    """This process's journal in ``directory`` (created): ``append``, ``seal``, ``done``, ``close``."""

    def __init__(self, directory: Path, owner: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.owner = f"{owner}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = os.open(directory / f"{self.owner}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else holds it
        self._number = 0
        self._fd = -1
        self._path: Path | None = None
        self.appended = 0  # records

    def _segment(self, number: int) -> Path:
        return self.directory / f"{self.owner}.{number:08d}.seg"

    def append(self, request_id: str, events: Sequence[PredictionEvent]) -> None:
        """Write one request's events (one record, one system call) to the open segment."""
        if self._fd < 0:
            self._path = self._segment(self._number)
            self._fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC, 0o600)
        body = _encoder.encode((request_id, list(events)))
        os.write(self._fd, len(body).to_bytes(_HEADER, "big") + body)
        self.appended += 1

    def seal(self) -> Path | None:
        """Close the open segment (its group is going out); the next append starts a new one."""
        path, self._path = self._path, None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._number += 1
        return path

    @staticmethod
    def done(segment: Path) -> None:
        """Every event of ``segment`` is stored: it is no longer needed."""
        with contextlib.suppress(FileNotFoundError):
            segment.unlink()

    def close(self) -> None:
        """A clean stop: the lock goes when no segment is left (else the next start replays them)."""
        self.seal()
        left = list(self.directory.glob(f"{self.owner}.*.seg"))
        if not left:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"{self.owner}.lock").unlink()
        os.close(self._lock)
        self._lock = -1


def read_segment(path: Path) -> list[_Record]:
    """The records of a segment; a torn last record (the process died mid-write) is skipped."""
    data = path.read_bytes()
    out: list[_Record] = []
    pos = 0
    while pos + _HEADER <= len(data):
        size = int.from_bytes(data[pos : pos + _HEADER], "big")
        body = data[pos + _HEADER : pos + _HEADER + size]
        if len(body) < size:
            log.warning("event_journal.torn_record", path=str(path), at=pos)
            break
        try:
            out.append(_decoder.decode(body))
        except msgspec.DecodeError as exc:
            log.warning("event_journal.bad_record", path=str(path), at=pos, error=str(exc))
            break
        pos += _HEADER + size
    return out


class Orphan:
    """The journal of a process that is gone, locked by this one until ``release``."""

    def __init__(self, lock: Path, fd: int) -> None:
        self.lock = lock
        self._fd = fd
        owner = lock.name.removesuffix(".lock")
        self.segments = sorted(lock.parent.glob(f"{owner}.*.seg"))

    def records(self) -> Iterator[_Record]:
        for seg in self.segments:
            yield from read_segment(seg)

    def release(self, *, replayed: bool) -> None:
        """Delete the journal (its events are stored) or keep it for the next start."""
        if replayed:
            for seg in self.segments:
                EventJournal.done(seg)
            with contextlib.suppress(FileNotFoundError):
                self.lock.unlink()
        os.close(self._fd)


def orphans(directory: Path) -> list[Orphan]:
    """Journals in ``directory`` whose process is gone (nobody holds their lock), now locked here."""
    found = []
    for lock in sorted(directory.glob("*.lock")) if directory.is_dir() else []:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:  # another starting process replayed it meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # alive
            os.close(fd)
            continue
        if not lock.exists():  # replayed and removed between the listing and the lock
            os.close(fd)
            continue
        found.append(Orphan(lock, fd))
    return found
