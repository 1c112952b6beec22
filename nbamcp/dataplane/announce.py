"""The owner's side of the games dataset: the stats worker tells the others what its store holds.

``Announcer.announce`` finds the played games the other workers have not been told
about as they are now (``nbamcp.data.announced``: new games, corrected rows), then

1. writes each season they belong to, whole, into the data bucket (``games.<season>``,
   only when the bucket's version differs: publishing again is a no-op);
2. publishes ``GamesIngested`` on the durable stream with the rows themselves (at most
   ``CHUNK`` games per event, a dedup id per chunk: a retried announcement is stored
   once), for the consumers that act on news rather than on the whole history (the
   monitor's feedback join);
3. only then marks the games announced in the stats worker's own store: a crash
   between the store's commit and this step announces again, never silence.

Games the anomaly screen holds (``nbamcp.data.held``) are left out of both until an admin
accepts them: then their season's version changes and they go out as news like any result.

The schedule (the games not played yet, ``nbamcp.dataplane.schedule``) goes into the same
bucket on every announcement: a game played since leaves it when its result comes in.

With ``full=True`` (on start, and every ``[data] reconcile_s``) every season is
compared with the bucket too: a bucket that lost its state (a new server) gets the
whole history again; the receivers compare versions, so for them nothing changed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.durable import DurableStream
from nbamcp.bus.kv import KeyValue
from nbamcp.data.announced import record, unannounced
from nbamcp.data.games import load_games, partition_version, partitions
from nbamcp.data.held import open_new_holds
from nbamcp.data.schedule import load_schedule
from nbamcp.data.store import Store
from nbamcp.dataplane.schedule import publish_schedule
from nbamcp.endpoints import GAMES_DATASET as GAMES
from nbamcp.messages import GameRow, GamesIngested, GamesPartition, decoder_for, encode
from nbamcp.streams import publish_durable

log = structlog.get_logger(__name__)

CHUNK = 2000  # games per GamesIngested: ~150 KB, well inside one message


async def bucket_version(kv: KeyValue, key: str) -> str | None:
    """The version the bucket holds under the partition ``key`` (None: none, or unreadable)."""
    entry = await kv.get(GAMES.key(key))
    if entry is None:
        return None
    try:
        return str(decoder_for(GamesPartition).decode(entry.value).version)
    except msgspec.MsgspecError:
        return None  # written by something else: overwrite it


async def publish_partitions(kv: KeyValue, seasons: Mapping[str, Sequence[GameRow]]) -> list[str]:
    """Write each season whose rows the bucket does not have; returns the keys written."""
    written = []
    for key, rows in sorted(seasons.items()):
        version = partition_version(rows)
        if await bucket_version(kv, key) == version:
            continue
        partition = GamesPartition(key=key, version=version, rows=list(rows))
        await kv.put(GAMES.key(key), encode(partition))
        written.append(key)
    return written


def news_events(news: Sequence[GameRow]) -> list[tuple[GamesIngested, str]]:
    """``news`` as GamesIngested events (date order, CHUNK games each), with their dedup ids."""
    ordered = sorted(news, key=lambda g: (g.date, g.game_id))
    out = []
    for start in range(0, len(ordered), CHUNK):
        rows = ordered[start : start + CHUNK]
        event = GamesIngested(
            game_ids=[g.game_id for g in rows],
            teams=sorted({t for g in rows for t in (g.home, g.away)}),
            date_from=rows[0].date,
            date_to=rows[-1].date,
            rows=rows,
        )
        out.append((event, "games:" + hashlib.sha256(encode(event)).hexdigest()[:32]))
    return out


class Announcer:
    def __init__(self, store: Store, kv: KeyValue, events: DurableStream) -> None:
        self.store = store
        self.kv = kv
        self.events = events
        # One announcement at a time (ingests, the reconcile timer); an ingest holds it while it
        # writes and screens, so no announcement sees its games before their holds.
        self.lock = asyncio.Lock()
        self.announced = 0
        self.partitions_written = 0

    async def announce(self, *, request_id: str, full: bool = False) -> int:
        """Tell the other workers what they do not know; returns how many games were news."""
        async with self.lock:
            held = await open_new_holds(self.store)
            by_season = partitions(g for g in await load_games(self.store.conn) if g.game_id not in held)
            todo = await unannounced(self.store, by_season)
            news = todo.news
            keys = sorted(by_season) if full else sorted(todo.versions)
            written = await publish_partitions(self.kv, {k: by_season[k] for k in keys})
            for event, msg_id in news_events(news):
                await publish_durable(
                    self.events, ep.GAMES_INGESTED, event, request_id=request_id, msg_id=msg_id
                )
            await record(self.store, todo)
            written += await publish_schedule(self.kv, await load_schedule(self.store.conn))
            self.announced += len(news)
            self.partitions_written += len(written)
            if news or written:
                log.info(
                    "stats.announced", games=len(news), partitions=len(written), bucket=self.kv.settings.name,
                    full=full,
                )  # fmt: skip
            return len(news)
