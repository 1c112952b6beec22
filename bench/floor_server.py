"""The floors of the stdio benchmarks: one tiny MCP server over stdio, the official SDK only.

    .venv/bin/python bench/floor_server.py CAPTURES.json

- ``noop``: an ``async def`` tool that returns "ok" (the bare floor);
- one tool per captured case (``harness.fair_name(case)``) returning the captured
  ``CallToolResult`` as it is, under the output schema the real tool publishes:
  the fair floor. Arguments sent to it are accepted and ignored (the SDK drops
  unknown ones), so the request is the real request's size too.

Imports nothing of nbamcp: what it costs is the SDK's and the client's share alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fair_name


def fair_tool(case: str, captured: dict[str, Any]) -> Tool:
    result = CallToolResult.model_validate(captured["result"])

    async def fair() -> CallToolResult:
        """Returns a captured result."""
        return result

    tool = Tool.from_function(fair, name=fair_name(case))
    # As nbamcp's tools do: the published schema is set, the CallToolResult goes out untouched.
    tool.fn_metadata.output_schema = captured["schema"]
    return tool


def main() -> None:
    captures = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else {}
    server = MCPServer("floors", tools=[fair_tool(case, c) for case, c in captures.items()])

    @server.tool()
    async def noop() -> str:
        """Does nothing."""
        return "ok"

    anyio.run(server.run_stdio_async)


if __name__ == "__main__":
    main()
