"""The receivers' side of the games dataset: every game, replayed from the data bucket, then followed.

``GameReplica.run(on_change)`` watches the bucket's ``games.*`` entries: first
the latest value of every season (the replay), then each new value as the stats
worker writes it. It keeps the rows by season and hands ``on_change`` what
differs from what it had: games added, games whose row changed (a correction),
games gone. The whole replay is ONE change, delivered before ``caught_up`` is set,
so a worker builds its state once and is ready after that.

A replica can start from a snapshot (``ReplicaState`` plus the games it had): an
entry at the revision it already applied is skipped without being decoded, one
whose version (the content's hash, read without the rows) it already has only moves the revision, so a
restart costs what changed, not the whole history. When the bucket is another
incarnation than the snapshot's (the server lost its state and the stats worker
wrote it again) the revisions mean nothing, but the versions still do: the same
seasons match and nothing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from nbamcp.bus.kv import KeyValue, KvEntry
from nbamcp.data.games import partition_key
from nbamcp.dataplane.follow import DatasetFollower
from nbamcp.endpoints import GAMES_DATASET as GAMES
from nbamcp.messages import GameRow, GamesPartition


@dataclass
class ReplicaState:
    """What a replica has applied: the bucket's incarnation and, per partition, (revision, version)."""

    identity: str = ""
    partitions: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GamesChange:
    added: list[GameRow]  # not seen before
    changed: list[GameRow]  # seen, with another row now (the new row)
    removed: list[GameRow]  # gone from the dataset

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def teams(self) -> list[str]:
        return sorted({t for g in (*self.added, *self.changed, *self.removed) for t in (g.home, g.away)})

    def appends_after(self, latest: str | None) -> bool:
        """Only new games, all after ``latest``: a state that moves forward in time can take them."""
        return (
            not self.changed
            and not self.removed
            and all(latest is None or g.date > latest for g in self.added)
        )


OnChange = Callable[[GamesChange], Awaitable[None]]


class _PartitionHead(msgspec.Struct, frozen=True, tag_field="type", tag="GamesPartition"):
    """A GamesPartition's version, its rows skipped unread (msgspec passes over unknown fields)."""

    version: str


_head = msgspec.msgpack.Decoder(_PartitionHead)


class GameReplica:
    def __init__(
        self, kv: KeyValue, *, games: Iterable[GameRow] = (), state: ReplicaState | None = None
    ) -> None:
        self.kv = kv
        self.state = state or ReplicaState()
        self.relabelled = 0  # entries skipped at a new revision of a version already held
        self._rows: dict[str, dict[str, GameRow]] = {}
        for g in games:
            self._rows.setdefault(partition_key(g), {})[g.game_id] = g
        self._follower = DatasetFollower(
            kv, GAMES, self._apply, _merge, skip=self._known, identity=self.state.identity,
            on_identity=self._reincarnated, size=lambda: {"games": len(self)},
        )  # fmt: skip
        self.caught_up = self._follower.caught_up

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def games(self) -> list[GameRow]:
        """Every game, in (date, game_id) order."""
        out = [g for rows in self._rows.values() for g in rows.values()]
        out.sort(key=lambda g: (g.date, g.game_id))
        return out

    @property
    def decoded(self) -> int:
        return self._follower.decoded

    @property
    def skipped(self) -> int:
        """Entries already applied (a snapshot's), not decoded."""
        return self._follower.skipped

    async def run(self, on_change: OnChange) -> None:
        """Replay, then follow, until cancelled; a lost watch is opened again (with back-off)."""
        await self._follower.run(on_change)

    def _reincarnated(self, identity: str) -> None:
        # Its revisions are not the ones we applied; the versions (content hashes) still hold.
        versions = {k: (0, version) for k, (_, version) in self.state.partitions.items()}
        self.state = ReplicaState(identity, versions)

    def _known(self, key: str, entry: KvEntry) -> bool:
        known = self.state.partitions.get(key)
        if known is None:
            return False
        if known[0] == entry.revision:
            return True
        # Another revision of a season held already (another incarnation of the bucket: the
        # in-process twin's at every start): its version alone, read without the ~1,300 rows, says
        # whether anything changed; a serving worker's start read all 77 seasons whole.
        try:
            version = _head.decode(entry.value).version
        except msgspec.MsgspecError:
            return False  # the whole decode says what is wrong with it
        if version != known[1]:
            return False
        self.state.partitions[key] = (entry.revision, version)
        self.relabelled += 1
        return True

    def _apply(self, key: str, entry: KvEntry, partition: GamesPartition | None) -> GamesChange | None:
        if partition is None:
            gone = self._rows.pop(key, {})
            self.state.partitions.pop(key, None)
            return GamesChange([], [], list(gone.values())) if gone else None
        known = self.state.partitions.get(key)
        self.state.partitions[key] = (entry.revision, partition.version)
        if known is not None and known[1] == partition.version:
            return None
        current = self._rows.get(key, {})
        rows = {g.game_id: g for g in partition.rows}
        self._rows[key] = rows
        change = GamesChange(
            added=[g for gid, g in rows.items() if gid not in current],
            changed=[g for gid, g in rows.items() if gid in current and current[gid] != g],
            removed=[g for gid, g in current.items() if gid not in rows],
        )
        return change or None


def _merge(changes: list[GamesChange]) -> GamesChange:
    return GamesChange(
        added=[g for c in changes for g in c.added],
        changed=[g for c in changes for g in c.changed],
        removed=[g for c in changes for g in c.removed],
    )
