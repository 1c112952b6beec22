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

A line the server cannot read (invalid JSON, a lone surrogate, nesting past the parser's
limit, an integer too long to convert, JSON that is no JSON-RPC message) is answered with a
JSON-RPC error (-32700 / -32600) carrying the request's id when it can be read: the SDK's
reader drops such a line without a word, and its client then waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import mcp_types as types
import pydantic
import structlog
from mcp.server.mcpserver import MCPServer

# The SDK's stdio_server pairs its reader and writer with these streams (they carry the
# sender's contextvars to the receiver); the same pair is used here.
from mcp.shared._context_streams import ContextReceiveStream, ContextSendStream, create_context_streams
from mcp.shared.message import SessionMessage

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


# Where a request's id is looked for in a line that did not parse: before its params (a
# string inside the params must not be taken for it), as a short string or integer.
_ID = re.compile(r'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\\x00-\x1f]|\\.){0,128}")')
_ID_SCAN = 1 << 20  # a line longer than this is not parsed a second time to find its id
_ERROR_TEXT = 300


def _request_id(line: str) -> str | int | None:
    """The id of the request on ``line`` when it can be read cheaply; None otherwise."""
    found: Any = None
    if len(line) <= _ID_SCAN:
        # Python's parser reads what the SDK's refuses (lone surrogates); ints are not converted.
        with contextlib.suppress(ValueError, RecursionError):
            message = json.loads(line, parse_int=lambda digits: 0 if len(digits) > 18 else int(digits))
            if isinstance(message, dict):
                found = message.get("id")
                return found if isinstance(found, str | int) and not isinstance(found, bool) else None
    head = line[: line.find('"params"')] if '"params"' in line else line[:4096]
    m = _ID.search(head)
    if m is None:
        return None
    with contextlib.suppress(ValueError, RecursionError):
        found = json.loads(m.group(1))
    return found if isinstance(found, str | int) else None


def _refusal(line: str, exc: Exception) -> types.JSONRPCError:
    """The error reply to a line that is not a JSON-RPC message: what is wrong, in one line."""
    what = str(exc)
    if isinstance(exc, pydantic.ValidationError) and exc.errors():
        first = exc.errors()[0]
        what = str(first.get("msg", what))
        invalid_json = first.get("type") == "json_invalid"
    else:
        invalid_json = False
    if invalid_json:
        code, text = types.PARSE_ERROR, "invalid JSON: " + what.removeprefix("Invalid JSON: ")
    else:
        code, text = types.INVALID_REQUEST, "not a JSON-RPC request, notification or response: " + what
    return types.JSONRPCError(
        jsonrpc="2.0", id=_request_id(line), error=types.ErrorData(code=code, message=text[:_ERROR_TEXT])
    )


@contextlib.asynccontextmanager
async def _message_streams(
    lines: _Lines, out: _Writer
) -> AsyncIterator[
    tuple[ContextReceiveStream[SessionMessage | Exception], ContextSendStream[SessionMessage]]
]:
    """The SDK's ``stdio_server`` over ``lines`` and ``out``, except that a line it cannot read
    is answered (see the module's docstring) instead of dropped."""
    read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_reader = create_context_streams[SessionMessage](0)

    async def reader() -> None:
        try:
            async with read_writer:
                async for line in lines:
                    if not line.strip():
                        continue  # a blank line between messages is no request
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except Exception as exc:  # anything the SDK's parser refuses: answered, not raised
                        refusal = _refusal(line, exc)
                        log.info(
                            "stdio.unreadable_line", code=refusal.error.code, error=refusal.error.message
                        )
                        await write_stream.send(SessionMessage(refusal))
                        continue
                    await read_writer.send(SessionMessage(message))
        except anyio.ClosedResourceError:  # the server closed its streams: nothing left to feed
            await anyio.lowlevel.checkpoint()

    async def writer() -> None:
        try:
            async with write_reader:
                async for sm in write_reader:
                    await out.write(sm.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n")
                    await out.flush()
        except anyio.ClosedResourceError:
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        yield read_stream, write_stream


async def run_stdio(server: MCPServer) -> None:
    """Serve ``server`` on this process's stdin/stdout, the event loop driving both."""
    if not (_watchable(0) and _watchable(1)):
        log.info("stdio.sdk_transport", reason="stdin or stdout is not a pipe, socket or terminal")
        await server.run_stdio_async()
        return
    lowlevel = server._lowlevel_server  # the SDK's run_stdio_async does exactly this with its own streams
    async with _loop_streams() as (lines, out), _message_streams(lines, out) as (read, write):
        await lowlevel.run(read, write, lowlevel.create_initialization_options())
