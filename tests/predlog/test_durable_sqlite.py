"""What only the SQLite outbox has: surviving a killed process, pruning, its schema, one per bus."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
from pathlib import Path

import aiosqlite
import pytest

from nbamcp.actor import open_context
from nbamcp.bus import durable_sqlite
from nbamcp.bus.durable_sqlite import SqliteEvents
from nbamcp.bus.memory import InMemoryBus
from nbamcp.bus.outbox_writer import OutboxWriter
from nbamcp.config import Config, PathsConfig
from nbamcp.errors import BusClosed, Unavailable
from nbamcp.subjects import EVENTS_GAMES, EVENTS_PREDICTION
from tests.predlog.conftest import TEST_SETTINGS

REPO = Path(__file__).resolve().parents[2]

# A process that publishes as fast as it can and reports each publish that returned,
# after acking the first 50 events as the consumer "w".
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from nbamcp.bus.durable_sqlite import SqliteEvents
    from nbamcp.config import Config
    from nbamcp.streams import settings_from

    async def main(path):
        ev = await SqliteEvents.open(path, settings=settings_from(Config()))
        for i in range(60):
            await ev.publish("nba.events.prediction", f"e{i}".encode())
        c = await ev.consumer("w", "nba.events.prediction")
        got = []
        while len(got) < 50:
            got += await c.fetch(50 - len(got), 1.0)
        await c.ack_all(got)
        print("acked 50", flush=True)
        i = 60
        while True:
            batch = [ev.publish("nba.events.prediction", f"e{i + k}".encode()) for k in range(8)]
            await asyncio.gather(*batch)
            print(f"stored {i + 7}", flush=True)
            i += 8

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_a_killed_process_loses_no_stored_event_and_no_ack(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(path), cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    last_stored = -1
    try:
        async with asyncio.timeout(30):
            assert (await proc.stdout.readline()).strip() == b"acked 50"
            while last_stored < 400:
                line = (await proc.stdout.readline()).decode().split()
                assert line and line[0] == "stored", line
                last_stored = int(line[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    ev = await SqliteEvents.open(path, settings=TEST_SETTINGS)
    try:
        consumer = await ev.consumer("w", EVENTS_PREDICTION)
        got: list[bytes] = []
        async with asyncio.timeout(10):
            while True:
                batch = await consumer.fetch(500, timeout=0.2)
                if not batch:
                    break
                got += [m.data for m in batch]
                await consumer.ack_all(batch)
    finally:
        await ev.close()
    # Every publish that had returned is there; the 50 acked ones are not delivered again.
    assert got[0] == b"e50"
    assert [f"e{i}".encode() for i in range(50, last_stored + 1)] == got[: last_stored + 1 - 50]


async def test_events_every_consumer_is_done_with_are_pruned(tmp_path: Path) -> None:
    ev = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    try:
        for i in range(20):
            await ev.publish(EVENTS_PREDICTION if i % 2 else EVENTS_GAMES, str(i).encode())
        everything = await ev.consumer("all")
        games = await ev.consumer("games", EVENTS_GAMES)
        await everything.ack_all(await everything.fetch(20, timeout=1.0))
        await ev.prune()
        assert await ev.stored() == 20  # "games" has not acked yet
        await games.ack_all(await games.fetch(20, timeout=1.0))
        await ev.prune()
        assert await ev.stored() == 0
        ack = await ev.publish(EVENTS_GAMES, b"new")
        assert ack.seq == 21  # sequence numbers never go back, even after pruning
        [m] = await games.fetch(5, timeout=1.0)
        assert m.data == b"new"
    finally:
        await ev.close()


async def test_an_outbox_from_newer_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA user_version = 99")
        await conn.commit()
    with pytest.raises(Unavailable, match="newer than this code"):
        await SqliteEvents.open(path, settings=TEST_SETTINGS)


async def test_publish_after_close_is_refused(tmp_path: Path) -> None:
    ev = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    await ev.close()
    await ev.close()  # idempotent
    with pytest.raises(BusClosed):
        await ev.publish(EVENTS_GAMES, b"late")


async def test_a_process_context_holds_one_outbox_in_its_home(tmp_path: Path) -> None:
    config = Config(paths=PathsConfig(home=str(tmp_path)))
    async with open_context(InMemoryBus(), config) as ctx:
        assert ctx.events.kind == "sqlite" and config.events_path.exists()
        consumer = await ctx.events.consumer("c", EVENTS_GAMES)
        await ctx.events.publish(EVENTS_GAMES, b"hello")
        async with asyncio.timeout(5):
            [m] = await consumer.fetch(1, timeout=5.0)
        assert m.data == b"hello"
        await consumer.close()
    # Closed with the context (the launcher's process ends).
    with pytest.raises(BusClosed):
        await ctx.events.publish(EVENTS_GAMES, b"closed")


async def test_consumers_that_keep_up_read_the_newest_events_from_memory_as_from_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.sqlite"
    subjects = [EVENTS_PREDICTION, EVENTS_GAMES]

    async def read_all(ev: SqliteEvents, name: str, filter: str, n: int) -> list[tuple[int, str, bytes]]:
        c = await ev.consumer(name, filter)
        got = []
        while len(got) < n:
            msgs = await c.fetch(7, 5.0)  # small batches: reads that start mid-way through the tail
            assert msgs, f"{name}: {len(got)} of {n}"
            got += [(m.seq, m.subject, m.data) for m in msgs]
        await c.close()
        return got

    ev = await SqliteEvents.open(path, settings=TEST_SETTINGS)
    try:
        for i in range(60):
            await ev.publish(subjects[i % 3 == 0], f"e{i}".encode(), headers={"k": str(i)}, msg_id=f"m{i}")
        await ev.publish(EVENTS_PREDICTION, b"again", msg_id="m1")  # a duplicate: not stored again
        before = ev.tail_reads
        live = {
            "exact": await read_all(ev, "exact", EVENTS_PREDICTION, 40),
            "wild": await read_all(ev, "wild", "nba.events.>", 60),
        }
        assert ev.tail_reads > before
    finally:
        await ev.close()
    # The same consumers' reads from the file alone (a new process: nothing in memory).
    ev = await SqliteEvents.open(path, settings=TEST_SETTINGS)
    try:
        stored = {
            "exact": await read_all(ev, "exact2", EVENTS_PREDICTION, 40),
            "wild": await read_all(ev, "wild2", "nba.events.>", 60),
        }
        assert ev.tail_reads == 0
    finally:
        await ev.close()
    assert live == stored
    assert [d for _, _, d in live["wild"]] == [f"e{i}".encode() for i in range(60)]


async def test_a_prune_keeps_the_memory_copy_but_never_serves_pruned_events_from_it(tmp_path: Path) -> None:
    """The newest events stay in memory across a prune (it used to empty the copy, which then grew
    back: a saw-tooth of RSS), while what the prune removed never comes back from memory."""
    ev = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    try:
        for i in range(30):
            await ev.publish(EVENTS_PREDICTION, f"e{i}".encode())
        fast = await ev.consumer("fast", EVENTS_PREDICTION)
        slow = await ev.consumer("slow", EVENTS_PREDICTION)
        await fast.ack_all(await fast.fetch(30, timeout=1.0))
        await slow.ack_all(await slow.fetch(20, timeout=1.0))
        await ev.prune()
        assert await ev.stored() == 10  # "slow" is not done with the last 10
        before = ev.tail_reads
        rest = await slow.fetch(30, timeout=1.0)
        assert [m.data for m in rest] == [f"e{i}".encode() for i in range(20, 30)]
        assert ev.tail_reads == before + 1  # from memory, as before the prune
        # A new consumer starts at the oldest STORED event, not at the pruned ones still in memory.
        late = await ev.consumer("late", EVENTS_PREDICTION)
        assert [m.data for m in await late.fetch(50, timeout=1.0)] == [m.data for m in rest]
    finally:
        await ev.close()


async def test_the_memory_copy_stays_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durable_sqlite, "_TAIL", 8)
    monkeypatch.setattr(durable_sqlite, "_TAIL_SLACK", 2)
    ev = await SqliteEvents.open(tmp_path / "events.sqlite", settings=TEST_SETTINGS)
    try:
        sizes = []
        for i in range(40):
            await ev.publish(EVENTS_GAMES, f"e{i}".encode())
            sizes.append(len(ev._tail))
        assert max(sizes) == 10 and min(sizes[10:]) == 8
        c = await ev.consumer("c", EVENTS_GAMES)
        got = [m.data for m in await c.fetch(100, timeout=1.0)]
        assert got == [f"e{i}".encode() for i in range(40)]  # the older ones from the file
    finally:
        await ev.close()


def test_a_group_is_a_few_statements_with_consecutive_seqs_and_each_msg_id_once(tmp_path: Path) -> None:
    # Two statements per event made the writer wait for the GIL at every step under load and
    # fall behind (docs/benchmarks.md); a group must cost a bounded number of statements.
    w = OutboxWriter(tmp_path / "events.sqlite")
    assert w.open() == 0
    assert w.conn is not None
    first, _, _ = w.commit([(EVENTS_PREDICTION, b"x", None, "old")], [], None)
    assert first == [(1, False)]
    statements: list[str] = []
    w.conn.set_trace_callback(statements.append)
    n = 1_234  # more than one multi-row insert's rows
    appends: list[tuple[str, bytes, bytes | None, str | None]] = [
        (EVENTS_GAMES if i % 7 else EVENTS_PREDICTION, f"e{i}".encode(), b"h" if i % 2 else None, f"m{i}")
        for i in range(n)
    ]
    appends[10] = (EVENTS_PREDICTION, b"again", None, "old")  # stored by the commit before
    appends[20] = (EVENTS_PREDICTION, b"again", None, "m5")  # earlier in this group
    appends[30] = (EVENTS_PREDICTION, b"no id", None, None)  # no id: always stored
    appends[31] = (EVENTS_PREDICTION, b"no id", None, None)
    out, ts, low = w.commit(appends, [("predlog", EVENTS_PREDICTION, 1)], time.time() - 3600)
    w.conn.set_trace_callback(None)
    assert len(statements) <= 12, statements
    assert out[10] == (1, True) and out[20] == (out[5][0], True)
    fresh = [seq for seq, dup in out if not dup]
    assert fresh == list(range(2, 2 + n - 2))
    stored = w.conn.execute(
        "SELECT seq, subject, data, headers, msg_id, ts FROM events ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in stored] == fresh  # seq 1 is pruned: every consumer's floor has passed it
    by_seq = {r[0]: r for r in stored}
    for (subject, data, headers, msg_id), (seq, dup) in zip(appends, out, strict=True):
        if not dup:
            assert by_seq[seq][1:5] == (subject, data, headers, msg_id) and by_seq[seq][5] == ts
    assert low == 1
    again, _, _ = w.commit(
        [(EVENTS_PREDICTION, b"x", None, "m999"), (EVENTS_PREDICTION, b"y", None, "new")], [], None
    )
    assert again == [(out[999][0], True), (n, False)]
    w.close()
