"""Tools from request Structs: one ``ToolSpec`` per tool, built into the SDK's ``Tool``.

A spec names the request Struct the tool takes (its published ``inputSchema`` and its
validation, see ``arguments``), the result Struct it answers with (its ``outputSchema``),
a title, a description and honest annotations. Every call gets a request id and a
deadline; every failure comes back as an MCP tool error (``isError``) whose text starts
with the stable code (``invalid_input: limit: ...``). The tool returns that result
itself, so the SDK's "Error executing tool X:" prefix (added only to raised errors) never
applies, and no exception text or traceback reaches the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import ConfigDict

from nbamcp.errors import ErrorCode, NbaError
from nbamcp.frontend.arguments import input_schema, parse_arguments
from nbamcp.frontend.drain import InFlight
from nbamcp.log import bind_request, current_request_id, new_request_id
from nbamcp.messages.validation import inline_refs

log = structlog.get_logger(__name__)

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def admin(*, idempotent: bool, destructive: bool = False) -> ToolAnnotations:
    """A tool that changes the server's state (ingests, trains, moves an alias)."""
    return ToolAnnotations(
        read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=False
    )


Run = Callable[[Any, Context], Awaitable[CallToolResult]]


class NoArguments(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The input of a tool that takes none."""


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input: type[msgspec.Struct]  # the request Struct (fields the caller sets, minus ``hidden``)
    run: Run  # (validated request, MCP context) -> result
    output: type[msgspec.Struct] | None = None
    annotations: ToolAnnotations = field(default_factory=lambda: READ_ONLY)
    hidden: frozenset[str] = frozenset()  # Struct fields the front end fills in (client, actor, ...)
    # Per parameter, a change to its published schema (the stat aliases added to an enum).
    schema_overrides: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # aliases, before validation
    deadline_s: float | None = 0.0  # 0: the server's per-call deadline; None: none (cancellable work)


class _Arguments(ArgModelBase):
    """The raw arguments, passed on whole: ``parse_arguments`` checks them against the Struct."""

    model_config = ConfigDict(extra="allow")

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.model_extra or {})}


def output_schema(struct_type: type[msgspec.Struct]) -> dict[str, Any]:
    """The Struct's JSON schema with every ``$ref`` inlined (MCP wants an object at the root).

    Nullable fields stay ``anyOf`` of single types ({"type": "null"} one of them): type
    lists are legal JSON Schema but not portable (the Inspector's --strict flags them).
    """
    return inline_refs(msgspec.json.schema(struct_type))


def tool_result(value: msgspec.Struct, text: str, extra: Sequence[ContentBlock] = ()) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text), *extra],
        structured_content=msgspec.to_builtins(value),
    )


def error_result(exc: NbaError, request_id: str) -> CallToolResult:
    """The code first, then what was wrong and what is accepted, then the request id."""
    hint = ""
    if exc.details.get("suggestions"):
        hint = f" Closest matches: {exc.details['suggestions']}."
    text = f"{exc.code}: {exc.message}{hint} (request id {request_id})"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def clean_doc(text: str) -> str:
    """A description without docstring indentation, paragraphs as single lines."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


class _Deadline(NbaError):
    code = ErrorCode.TIMEOUT


def build_tool(
    spec: ToolSpec,
    *,
    deadline_s: float,
    before: Callable[[], Awaitable[None]] | None = None,
    inflight: InFlight | None = None,
) -> Tool:
    """The SDK tool for ``spec``. ``before`` (waiting for the workers to start) runs outside
    the call's deadline: a call made during the first start's ingestion waits for it.
    ``inflight`` counts the call while it runs (a stop drains them) and refuses it once the
    front end is stopping."""
    track = inflight.track if inflight is not None else contextlib.nullcontext
    schema = input_schema(spec.input, hidden=spec.hidden, overrides=spec.schema_overrides)
    deadline = deadline_s if spec.deadline_s == 0.0 else spec.deadline_s

    async def call(ctx: Context, arguments: dict[str, Any]) -> CallToolResult:
        # The policy middleware (nbamcp/frontend/policy.py) opened the request: keep its id.
        rid = current_request_id() or new_request_id()
        with bind_request(rid, tool=spec.name):
            try:
                request = parse_arguments(spec.input, schema, arguments, prepare=spec.prepare)
                with track():
                    if before is not None:
                        await before()
                    scope = asyncio.timeout(deadline)
                    try:
                        async with scope:
                            return await spec.run(request, ctx)
                    except TimeoutError:
                        if not scope.expired():
                            raise
                        raise _Deadline(
                            f"{spec.name} did not finish within {deadline:g}s (server.call_deadline_s)"
                        ) from None
            except NbaError as exc:
                log.info("tool.error", code=exc.code, error=exc.message)
                return error_result(exc, rid)
            except Exception:
                # Tool boundary: a bug must not reach the client as a traceback or the
                # SDK's bare "Error executing tool"; the log keeps the traceback.
                log.exception("tool.crashed")
                return error_result(NbaError(f"internal error in the {spec.name} tool"), rid)

    metadata = FuncMetadata(arg_model=_Arguments)
    if spec.output is not None:
        # Published, not validated here: the SDK passes our CallToolResult through untouched.
        metadata.output_schema = output_schema(spec.output)
    return Tool(
        fn=call,
        name=spec.name,
        title=spec.title,
        description=clean_doc(spec.description),
        parameters=schema,
        fn_metadata=metadata,
        is_async=True,
        context_kwarg="ctx",
        annotations=spec.annotations,
    )
