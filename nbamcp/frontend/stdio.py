"""MCP over stdio without a thread hop per message.

The SDK's ``stdio_server()`` reads and writes through ``anyio.wrap_file``: every
line read and every line written is a trip to a worker thread and back (two hops
per request, plus the flush). It also takes explicit streams, and that is the seam
used here: stdin and stdout are driven by the event loop itself (asyncio pipe
transports), so a request line is parsed, and a reply written, in the loop's own
turn. ``bench/predict.py`` measures the difference against the stock transport.

As the SDK does, the process's fds 0 and 1 are claimed while serving: the wire
moves to private duplicates, fd 0 reads the null device and fd 1 writes to stderr,
so a stray ``print`` (or a child process) cannot corrupt the protocol; both are
restored on exit. Where a standard stream is not a pipe, socket or terminal (a
regular file), the loop cannot watch it: the SDK's own transport serves instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator, Iterator

import structlog
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

log = structlog.get_logger(__name__)

# The SDK's own reader has no line limit; a JSON-RPC line is one message, however long.
LINE_LIMIT = 64 * 2**20


def _watchable(fd: int) -> bool:
    """Whether the event loop can watch ``fd`` (pipes, sockets, terminals; not regular files)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Lines:
    """The lines of a stream, as ``str`` (what the SDK's reader iterates over)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class _Writer:
    """``write`` and ``flush`` (what the SDK's writer calls) over a pipe transport."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()  # waits only when the pipe is full (back-pressure)


@contextlib.contextmanager
def _claimed(fd: int, diversion: int) -> Iterator[int]:
    """A private duplicate of ``fd`` (the wire); ``fd`` itself points at ``diversion`` meanwhile."""
    private = os.dup(fd)
    os.set_inheritable(private, False)
    os.dup2(diversion, fd)
    try:
        yield private
    finally:
        os.dup2(private, fd)
        os.close(private)


@contextlib.asynccontextmanager
async def _loop_streams() -> AsyncIterator[tuple[_Lines, _Writer]]:
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as fds:
        null = os.open(os.devnull, os.O_RDONLY)
        fds.callback(os.close, null)
        wire_in = fds.enter_context(_claimed(0, null))
        wire_out = fds.enter_context(_claimed(1, 2))
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        # File objects over the claimed descriptors (no I/O happens here); closefd=False: the
        # claim owns them and restores fds 0 and 1 from them.
        in_file = os.fdopen(wire_in, "rb", buffering=0, closefd=False)
        out_file = os.fdopen(wire_out, "wb", buffering=0, closefd=False)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), in_file
        )
        write_transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out_file)
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        try:
            yield _Lines(reader), _Writer(writer)
        finally:
            with contextlib.suppress(Exception):  # the client may have gone: nothing left to flush to
                await asyncio.wait_for(writer.drain(), timeout=1.0)
            write_transport.close()
            read_transport.close()


async def run_stdio(server: MCPServer) -> None:
    """Serve ``server`` on this process's stdin/stdout, the event loop driving both."""
    if not (_watchable(0) and _watchable(1)):
        log.info("stdio.sdk_transport", reason="stdin or stdout is not a pipe, socket or terminal")
        await server.run_stdio_async()
        return
    lowlevel = server._lowlevel_server  # the SDK's run_stdio_async does exactly this with its own streams
    async with _loop_streams() as (lines, out), stdio_server(stdin=lines, stdout=out) as (read, write):  # type: ignore[arg-type]
        await lowlevel.run(read, write, lowlevel.create_initialization_options())
