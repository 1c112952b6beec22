"""A crash journal for prediction events: a plain file write before the reply, replayed on restart.

The prediction log's events go to the durable stream in groups, after the reply
(``nbamcp.serving.event_log``): the reply never waits for a commit or a PubAck.
What a process killed outright (SIGKILL, the OOM killer) still holds in memory
would be lost, so each answered request's events are first appended here with one
``os.write`` into the page cache (microseconds, no fsync: it survives the process,
not a power cut), before the reply leaves.

Files: under the worker's journal folder, a lock named by the process
(``OWNER.lock``, held with ``flock`` for the process's life) and its *segments*
(``OWNER.NUMBER.seg``). Records go to the open segment; when every group written
to it is stored and nothing newer waits, it is emptied with one ``ftruncate``
once it holds ``TRUNCATE_BYTES`` (a new file per group cost ~150 us of CPU for
the open and the unlink, measured; a record's write costs ~2 us). Under steady
load it may never be empty at such a moment: past ``SEGMENT_BYTES`` it is closed
and the next one opened, and a closed segment is deleted once its groups are
stored. A segment holding an event whose publish failed is kept. At its next
start a worker takes the locks nobody holds (their process is gone) and publishes
every event of their segments again: the dedup id (request, model, version, game)
and the log's unique key keep each event stored once, however often it is sent.
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
SEGMENT_BYTES = 4 << 20  # a segment is closed past this size at its next group
# The open segment is emptied once this much of it is stored (not after every group: an
# ftruncate is a metadata write, ~13 us of CPU and more of waiting on a loaded disk). What a
# crash leaves below it is sent again and stored once (the dedup id).
TRUNCATE_BYTES = 64 << 10
_Record = tuple[str, list[PredictionEvent]]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


class EventJournal:
    """This process's journal in ``directory`` (created): ``append``, ``group``, ``stored``, ``close``."""

    def __init__(
        self,
        directory: Path,
        owner: str,
        *,
        segment_bytes: int = SEGMENT_BYTES,
        truncate_bytes: int = TRUNCATE_BYTES,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.owner = f"{owner}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.segment_bytes = segment_bytes
        self.truncate_bytes = truncate_bytes
        self._lock = os.open(directory / f"{self.owner}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else holds it
        self._number = 0
        self._fd = -1
        self._path = self._segment(0)
        self._size = 0  # bytes in the open segment
        self._ungrouped = 0  # records appended since the last group
        self._open: dict[Path, int] = {}  # segment -> its groups not stored yet
        self._keep: set[Path] = set()  # segments with an event that could not be stored
        self.appended = 0  # records
        self.truncations = 0

    def _segment(self, number: int) -> Path:
        return self.directory / f"{self.owner}.{number:08d}.seg"

    def append(self, request_id: str, events: Sequence[PredictionEvent]) -> None:
        """Write one request's events (one record, one system call) to the open segment."""
        if self._fd < 0:
            self._fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC, 0o600)
        body = _encoder.encode((request_id, list(events)))
        record = len(body).to_bytes(_HEADER, "big") + body
        os.write(self._fd, record)
        self._size += len(record)
        self._ungrouped += 1
        self.appended += 1

    def group(self) -> Path:
        """The records appended since the last group go out as one: the segment they are in (hand it
        to ``stored``). A full segment is closed here; the next append starts the next one."""
        path = self._path
        self._open[path] = self._open.get(path, 0) + 1
        self._ungrouped = 0
        if self._size >= self.segment_bytes and self._fd >= 0:
            os.close(self._fd)
            self._fd, self._size = -1, 0
            self._number += 1
            self._path = self._segment(self._number)
        return path

    def stored(self, segment: Path, *, complete: bool) -> None:
        """A group of ``segment`` is stored (``complete``: every event of it). A closed segment goes
        once all its groups are; the open one is emptied (one ftruncate) when nothing in it waits."""
        if not complete:
            self._keep.add(segment)  # sent again by the next start (the dedup id stores it once)
        left = self._open[segment] - 1
        if left:
            self._open[segment] = left
            return
        del self._open[segment]
        if segment in self._keep:
            return
        if segment != self._path:
            with contextlib.suppress(FileNotFoundError):
                segment.unlink()
        elif self._fd >= 0 and not self._ungrouped and self._size >= self.truncate_bytes:
            os.ftruncate(self._fd, 0)  # O_APPEND: the next record starts at 0 again
            self._size = 0
            self.truncations += 1

    def close(self) -> None:
        """A clean stop: files go when nothing is left to send (else the next start replays them)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._open and not self._keep and not self._ungrouped:
            for seg in self.directory.glob(f"{self.owner}.*.seg"):
                seg.unlink()
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
                with contextlib.suppress(FileNotFoundError):
                    seg.unlink()
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
