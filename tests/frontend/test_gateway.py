"""The gateway: waiting for embedded workers, and bus failures turned into clear errors."""

from __future__ import annotations

import asyncio

import pytest

from nbamcp import endpoints as ep
from nbamcp.bus import InMemoryBus, Msg
from nbamcp.errors import RemoteError, Unavailable
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.readiness import WorkerBoard
from nbamcp.messages import ErrorReply, FindPlayerRequest, PlayerSearch, encode


@pytest.fixture
async def bus():
    b = InMemoryBus()
    yield b
    await b.close()


async def test_calls_wait_for_workers_that_are_still_starting(bus: InMemoryBus) -> None:
    board = WorkerBoard(["stats", "inference"])
    gw = Gateway(bus, timeout_s=5, expected_workers=board.names, board=board, startup_timeout_s=5)
    call = asyncio.create_task(gw.call(ep.FIND_PLAYER, FindPlayerRequest(query="x")))
    await asyncio.sleep(0)  # the call is now parked on the board: nobody subscribes yet

    async def answer(msg: Msg) -> None:
        await msg.respond(encode(PlayerSearch(query="x", matches=[])))

    await bus.subscribe("nba.stats.find_player", answer, queue="stats")
    board.ready("stats")  # inference is still starting: the stats call does not wait for it
    async with asyncio.timeout(5):
        assert await call == PlayerSearch(query="x", matches=[])


async def test_workers_that_never_start_give_a_clear_error(bus: InMemoryBus) -> None:
    board = WorkerBoard(["stats"])
    board.starting("stats", "importing")
    gw = Gateway(bus, timeout_s=5, expected_workers=[], board=board, startup_timeout_s=0.01)
    with pytest.raises(Unavailable, match=r"stats worker did not become ready within 0\.01s.*importing"):
        await gw.call(ep.FIND_PLAYER, FindPlayerRequest(query="x"))


async def test_a_worker_that_failed_to_start_is_named_with_why(bus: InMemoryBus) -> None:
    board = WorkerBoard(["stats"])
    board.failed("stats", "the store is locked")
    gw = Gateway(bus, timeout_s=5, expected_workers=[], board=board, startup_timeout_s=5)
    with pytest.raises(Unavailable, match="stats worker failed to start: the store is locked"):
        await gw.call(ep.FIND_PLAYER, FindPlayerRequest(query="x"))


async def test_no_worker_and_error_replies(bus: InMemoryBus) -> None:
    gw = Gateway(bus, timeout_s=5, expected_workers=[])
    with pytest.raises(Unavailable, match="is the 'stats' worker running"):
        await gw.call(ep.FIND_PLAYER, FindPlayerRequest(query="x"))

    async def refuse(msg: Msg) -> None:
        await msg.respond(encode(ErrorReply(code="not_found", message="no such player")))

    await bus.subscribe("nba.stats.find_player", refuse)
    with pytest.raises(RemoteError) as err:
        await gw.call(ep.FIND_PLAYER, FindPlayerRequest(query="x"))
    assert err.value.code == "not_found" and err.value.message == "no such player"
