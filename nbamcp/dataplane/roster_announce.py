"""The owner's side of the rosters dataset: the stats worker publishes the roster model's strengths.

Only the stats worker reads the player tables and the ``rosters`` table (live rosters and
trades, ``nbamcp.data.live_rosters``). It builds the ``RosterBook`` from them
(``build_roster_book``: projections from earlier seasons, the season-table rosters, live
snapshots on top, each in effect from its date) and writes what every other worker needs of
each season, its ``RosterPriors`` (the strengths, not the players), into the data bucket under
``rosters.<season>``; a season whose bytes the bucket already holds is not written again.
The receivers (``nbamcp.dataplane.roster_replica``) rebuild the same book from them:
``RosterBook.from_priors`` gives the same features bit for bit (tested).

Building the book costs ~2 s on the full player tables, so it is built only when its inputs
changed (their hash, kept by the announcer); ``full=True`` compares every season with the bucket
anyway (a server that lost its state gets them again). A season that drops out of the book
(player rows removed) keeps its last entry: the receivers' features of it do not change.
"""

from __future__ import annotations

import asyncio
import hashlib

import msgspec
import structlog

from nbamcp.bus.kv import KeyValue
from nbamcp.data.players import PlayerSeason, load_player_seasons
from nbamcp.data.rosters import RosterEntry, load_rosters
from nbamcp.data.store import Store
from nbamcp.endpoints import ROSTERS_DATASET as ROSTERS
from nbamcp.messages import RosterPriors, encode
from nbamcp.ml.rosters import build_roster_book, snapshots_from_entries

log = structlog.get_logger(__name__)

_enc = msgspec.msgpack.Encoder(order="deterministic")


def inputs_hash(players: list[PlayerSeason], entries: list[RosterEntry]) -> str:
    """What the book is built from, as one hash: the same rows, the same book."""
    h = hashlib.sha256(_enc.encode(players))
    h.update(_enc.encode(entries))
    return h.hexdigest()


def book_priors(players: list[PlayerSeason], entries: list[RosterEntry]) -> list[RosterPriors]:
    """Every season's priors of the book the store's rows give (CPU: run it in a thread)."""
    if not players:
        return []
    return build_roster_book(players, extra=snapshots_from_entries(entries)).priors()


class RosterAnnouncer:
    def __init__(self, store: Store, kv: KeyValue) -> None:
        self.store = store
        self.kv = kv
        self.lock = asyncio.Lock()
        self._built: tuple[str, list[RosterPriors]] | None = None  # (inputs hash, priors)
        self.seasons_written = 0
        self.builds = 0

    @property
    def priors(self) -> list[RosterPriors]:
        """Every season's priors of the last book built ([] before the first announcement)."""
        return [] if self._built is None else list(self._built[1])

    async def announce(self, *, full: bool = False) -> list[int]:
        """Write the seasons whose priors changed (every season's checked with ``full``); returns
        the seasons written."""
        async with self.lock:
            players = await load_player_seasons(self.store.conn)
            entries = await load_rosters(self.store.conn)
            digest = inputs_hash(players, entries)
            if self._built is not None and self._built[0] == digest and not full:
                return []
            if self._built is None or self._built[0] != digest:
                self._built = (digest, await asyncio.to_thread(book_priors, players, entries))
                self.builds += 1
            written = []
            for priors in self._built[1]:
                key = ROSTERS.key(str(priors.season))
                data = encode(priors)
                entry = await self.kv.get(key)
                if entry is not None and entry.value == data:
                    continue
                await self.kv.put(key, data)
                written.append(priors.season)
            self.seasons_written += len(written)
            if written:
                log.info(
                    "stats.rosters_announced", seasons=len(written), first=written[0], last=written[-1],
                    live_entries=len(entries), bucket=self.kv.settings.name,
                )  # fmt: skip
            return written
