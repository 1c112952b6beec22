"""Protocol-level answers the SDK leaves to the server, as server middleware.

- ``tools/call`` naming no tool of ours, ``prompts/get`` naming no prompt, missing a
  required argument or passing one that is not a short printable string: JSON-RPC
  ``-32602`` (invalid params) with a message saying what is accepted, instead of the
  SDK's tool error or its JSON-RPC code 0.
- ``initialize`` / ``server/discover``: the server's ``instructions`` are written at that
  moment (they say what the data holds, which changes with every ingest), not frozen when
  the transport starts.

The SDK's middleware seam (``MCPServer.middleware``) is made for this: it sees every
request before validation and may refuse it or rewrite the result.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from nbamcp.errors import ErrorCode
from nbamcp.messages.fields import NAME_MAX

_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")
HANDSHAKES = ("initialize", "server/discover")  # the answers that carry the instructions


def _invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"{ErrorCode.INVALID_INPUT}: {message}")


def _name(params: Any) -> str:
    name = params.get("name") if isinstance(params, dict) else None
    if not isinstance(name, str):
        raise _invalid("name: missing (accepted: the name of a tool or prompt, see tools/list, prompts/list)")
    return name


def _short(text: str) -> str:
    return repr(text) if len(text) <= 64 else f"{text[:64]!r}... ({len(text)} characters)"


class ProtocolGuard:
    """Server middleware: ``server.middleware.append(ProtocolGuard(server, instructions))``."""

    def __init__(self, server: MCPServer, instructions: Callable[[], Awaitable[str]]) -> None:
        self._server = server
        self._instructions = instructions

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call":
            await self._check_tool(ctx.params)
        elif ctx.method == "prompts/get":
            await self._check_prompt(ctx.params)
        try:
            result = await call_next(ctx)
        except ValueError as exc:
            if ctx.method != "prompts/get" or isinstance(exc, MCPError):
                raise
            # A prompt that refused its arguments: the SDK would answer JSON-RPC code 0.
            raise _invalid(str(exc).splitlines()[0]) from None
        if ctx.method in HANDSHAKES and isinstance(result, dict):
            result["instructions"] = await self._instructions()
        return result

    async def _check_tool(self, params: Any) -> None:
        name = _name(params)
        # A look-up by name, as the SDK's own dispatch does: ``list_tools()`` builds a pydantic
        # model of every tool (~30 per call), too much to pay on every call for a name check.
        # The manager is the SDK's private attribute: without it (another SDK), the listing.
        manager = getattr(self._server, "_tool_manager", None)
        if manager is not None and manager.get_tool(name) is not None:
            return
        tools = [t.name for t in await self._server.list_tools()]
        if manager is None and name in tools:
            return
        raise _invalid(f"name: no tool named {_short(name)} (accepted: {', '.join(tools)})")

    async def _check_prompt(self, params: Any) -> None:
        name = _name(params)
        prompts = {p.name: p for p in await self._server.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            raise _invalid(f"name: no prompt named {_short(name)} (accepted: {', '.join(prompts)})")
        args = params.get("arguments") or {}
        if not isinstance(args, dict):
            raise _invalid("arguments: expected an object of strings")
        known = {a.name: a for a in prompt.arguments or []}
        accepted = ", ".join(known) or "no arguments"
        for key, value in args.items():
            if key not in known:
                raise _invalid(f"{_short(key)}: unknown argument of {name} (accepted: {accepted})")
            if not isinstance(value, str) or not value.strip():
                raise _invalid(f"{key}: expected a non-empty string (accepted: {known[key].description})")
            if len(value) > NAME_MAX or not _PRINTABLE.match(value):
                raise _invalid(
                    f"{key}: {_short(value)} is not a name (accepted: 1 to {NAME_MAX} printable "
                    f"characters, {known[key].description})"
                )
        missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in args]
        if missing:
            raise _invalid(f"{missing[0]}: missing, {name} requires it ({known[missing[0]].description})")
