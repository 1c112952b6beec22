"""The games a serving worker computes features from, and its snapshot of them in its own home.

``LiveGames`` is a replica of the games dataset (``nbamcp.dataplane.replica``) with
the live feature state built from it (``LiveFeatures``):

- on start it loads the worker's snapshot (``<worker>-features.snapshot``: the
  feature state, the games, and which revision / version of each season it was
  built from) when the snapshot's code fingerprint is this code's, then replays
  the data bucket from there: seasons it has are skipped, what changed since is
  applied. With no (usable) snapshot the replay is the whole history and the
  state is built once from it. ``ready`` is set when the replay is applied;
- then it follows the bucket: new results after the latest one move the state
  forward in place; anything else (a correction, an older game) rebuilds it from
  every game in a thread and swaps it in when done;
- the snapshot is written again a few seconds after a change (and on stop).

Serving feature set fs2 (``[features] served``) it also replays the rosters dataset
(``nbamcp.dataplane.roster_replica``) first, and computes the features with the
``RosterBook`` of what it holds: a snapshot made with other roster priors is not
loaded, and a roster change (a trade, a live roster, new player tables) rebuilds the
state with the new book, in a thread, swapped in when done.

One instance per worker; changes (of games or rosters) are applied one at a time, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nbamcp.bus.kv import KeyValue
from nbamcp.bus.stores import Stores
from nbamcp.config import Config
from nbamcp.dataplane import data_bucket
from nbamcp.dataplane.replica import GameReplica, GamesChange, ReplicaState
from nbamcp.dataplane.roster_replica import RosterReplica
from nbamcp.dataplane.schedule import ScheduleReplica
from nbamcp.errors import Unavailable
from nbamcp.messages import GameRow
from nbamcp.serving.live_features import LiveFeatures, fingerprint

log = structlog.get_logger(__name__)

INCREMENTAL_MAX = 2_000  # more new games than this are built in a thread, not in the event loop
SAVE_DELAY_S = 5.0  # a snapshot waits this long after a change for the next one (an ingest writes several)

Spawn = Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]
OnChange = Callable[[GamesChange], Awaitable[None]]


class _SnapshotFile(msgspec.Struct, frozen=True):
    fingerprint: str
    identity: str
    partitions: dict[str, tuple[int, str]]
    features: bytes  # LiveFeatures.dump()
    rosters: str = ""  # the roster priors' version the features were computed with (fs2)


class LiveGames:
    def __init__(
        self,
        kv: KeyValue,
        snapshot: Path,
        *,
        spawn: Spawn,
        on_change: OnChange | None = None,
        feature_set: str = "fs1",
    ) -> None:
        self._kv = kv
        self.snapshot_path = snapshot
        self._spawn = spawn
        self._on_change = on_change
        self.feature_set = feature_set
        self._fingerprint = fingerprint(feature_set)
        self.rosters = RosterReplica(kv) if feature_set == "fs2" else None
        self.live = self._empty()
        self.replica = GameReplica(kv)
        self._lock = asyncio.Lock()  # one change (games or rosters) at a time
        self.roster_rebuilds = 0
        # The games not played yet (no date given: the teams' next meeting): replayed, not snapshot.
        self.schedule = ScheduleReplica(kv)
        self.restored = False  # the state came from the snapshot
        self.rebuilds = 0
        self.saved = 0
        self._dirty = False
        self._save_task: asyncio.Task[None] | None = None
        # Set after each applied change: tests and benchmarks await it instead of sleeping.
        self.changed = asyncio.Event()

    @property
    def ready(self) -> asyncio.Event:
        return self.replica.caught_up

    def _empty(self, games: list[GameRow] | None = None) -> LiveFeatures:
        """Features of ``games`` (none) with the rosters held now (fs2) or none (fs1)."""
        if self.rosters is None:
            return LiveFeatures(games or ())
        return LiveFeatures(games or (), self.rosters.book(), self.rosters.version)

    async def open(self) -> None:
        """Load the snapshot when there is a usable one; the replay starts with ``run``."""
        loaded = await asyncio.to_thread(self._load)
        if loaded is not None:
            state, live = loaded
            self.live = live
            self.replica = GameReplica(self._kv, games=live.games, state=state)
            self.restored = True
            log.info("live_games.restored", games=len(live), path=str(self.snapshot_path))
        else:
            self.live = self._empty()  # the rosters are replayed by now (fs2)

    def _load(self) -> tuple[ReplicaState, LiveFeatures] | None:
        try:
            raw = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("live_games.snapshot_unreadable", path=str(self.snapshot_path), error=str(exc))
            return None
        try:
            snap = msgspec.msgpack.decode(raw, type=_SnapshotFile)
            if snap.fingerprint != self._fingerprint:
                log.info("live_games.snapshot_stale", made_by=snap.fingerprint, now=self._fingerprint)
                return None
            rosters = "" if self.rosters is None else self.rosters.version
            if snap.rosters != rosters:
                log.info("live_games.snapshot_stale", rosters=snap.rosters, now=rosters)
                return None
            live = LiveFeatures.load(snap.features)
            live.rosters_version = rosters
            return ReplicaState(snap.identity, dict(snap.partitions)), live
        except Exception as exc:  # boundary: a bad snapshot costs a rebuild, never the start
            log.warning("live_games.snapshot_unusable", path=str(self.snapshot_path), error=repr(exc))
            return None

    async def run(self) -> None:
        """Replay then follow the games dataset (spawned by the worker; runs until cancelled)."""
        await self.replica.run(self._apply)

    async def run_rosters(self) -> None:
        """Replay then follow the rosters dataset (fs2; spawned before ``open``)."""
        if self.rosters is not None:
            await self.rosters.run(self._rosters_changed)

    async def _rosters_changed(self, seasons: list[int]) -> None:
        if not self.ready.is_set():
            return  # before the games' replay ends: the replay's end checks the version
        async with self._lock:
            await self._rebuild(f"rosters of {len(seasons)} season(s) changed", rosters=True)
            self._dirty = True
            self._save_soon()
            self.changed.set()
            self.changed = asyncio.Event()

    async def _apply(self, change: GamesChange) -> None:
        async with self._lock:
            await self._apply_games(change)

    async def _apply_games(self, change: GamesChange) -> None:
        replay = not self.ready.is_set()  # the replay's one change, before the worker is ready
        if change:
            if change.appends_after(self.live.latest_date) and len(change.added) <= INCREMENTAL_MAX:
                self.live.add(change.added)
            else:
                why = (
                    f"{len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed"
                )
                await self._rebuild(why)
            if self._on_change is not None:
                await self._on_change(change)
            log.info("live_games.changed", added=len(change.added), changed=len(change.changed),
                     removed=len(change.removed), latest=self.live.latest_date)  # fmt: skip
        if replay and self.rosters is not None and self.live.rosters_version != self.rosters.version:
            # Rosters that changed while the games replayed (or since the snapshot was built).
            await self._rebuild("rosters changed during the replay", rosters=True)
            self.restored = False  # what serves is not the snapshot's: the next start needs this one
        # Revisions that moved (a recreated bucket) are worth a write too: the next start skips
        # them. Not for the in-process twin: it is a new bucket at every start anyway.
        moved = (self.replica.decoded or self.replica.relabelled) and self._kv.kind != "memory"
        if change or (replay and (not self.restored or moved)):
            self._dirty = True
            if replay:
                await self.save()  # the next start begins from the replay's result
            else:
                self._save_soon()
        self.changed.set()
        self.changed = asyncio.Event()

    async def _rebuild(self, why: str, *, rosters: bool = False) -> None:
        games = self.replica.games()
        self.live = await asyncio.to_thread(self._empty, games)  # the swap, once it is built
        self.rebuilds += 1
        self.roster_rebuilds += rosters
        log.info("live_games.rebuilt", why=why, games=len(games), rosters=self.live.rosters_version)

    def _save_soon(self) -> None:
        if self._save_task is None or self._save_task.done():
            self._save_task = self._spawn(self._save_later(), "snapshot")

    async def _save_later(self) -> None:
        await asyncio.sleep(SAVE_DELAY_S)  # several changes of one ingest share one write
        await self.save()

    async def save(self) -> None:
        """Write the snapshot if something changed since the last one."""
        if not self._dirty:
            return
        self._dirty = False
        state = self.replica.state
        live = self.live
        snap = _SnapshotFile(
            self._fingerprint, state.identity, dict(state.partitions), live.dump(), live.rosters_version
        )
        data = msgspec.msgpack.encode(snap)
        await asyncio.to_thread(_write_atomic, self.snapshot_path, data)
        self.saved += 1
        log.info("live_games.saved", path=str(self.snapshot_path), bytes=len(data), games=len(self.live))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


async def open_live_games(
    stores: Stores, config: Config, *, worker: str, spawn: Spawn, on_change: OnChange | None = None
) -> LiveGames:
    """A worker's LiveGames, replayed and ready (Unavailable after ``[data] replay_timeout_s``)."""
    kv = await stores.kv(data_bucket(config))
    games = LiveGames(
        kv, config.snapshot_path(worker), spawn=spawn, on_change=on_change, feature_set=config.features.served
    )
    timeout = config.data.replay_timeout_s
    try:
        async with asyncio.timeout(timeout):
            if games.rosters is not None:  # the rosters first: the games' features are computed with them
                spawn(games.run_rosters(), "rosters")
                await games.rosters.caught_up.wait()
                if not games.rosters.priors:
                    log.warning(
                        "live_games.no_rosters", worker=worker,
                        why="serving fs2 but the rosters dataset is empty: roster features are unknown "
                        "(imputed) until the stats worker publishes them ([features] served, player tables)",
                    )  # fmt: skip
            await games.open()
            spawn(games.run(), "games")
            spawn(games.schedule.run(), "schedule")
            await games.ready.wait()
            await games.schedule.caught_up.wait()
    except TimeoutError:
        raise Unavailable(
            f"the datasets did not replay within {timeout:g}s (data.replay_timeout_s): "
            f"is the {kv.settings.name} bucket reachable?"
        ) from None
    return games
