"""MCP completions (``completion/complete``) for the prompts' and resource templates' arguments.

Team and player names come from the stats worker (``nba.stats.complete``: a prefix look-up
in sorted indexes); stat names, seasons, model names and versions are known here. An
argument with nothing to offer answers an empty list, never an error.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import Completion, CompletionArgument, PromptReference, ResourceTemplateReference

from nbamcp import endpoints as ep
from nbamcp.errors import NbaError
from nbamcp.frontend.coverage import CoverageBook
from nbamcp.frontend.gateway import Gateway
from nbamcp.messages import CompleteRequest
from nbamcp.messages.fields import NAME_MAX, STAT_ALIASES, STAT_NAMES

MAX_VALUES = 100  # the protocol's limit per answer
TIMEOUT_S = 2.0
# Which kind of value each argument takes, by prompt name or resource template.
KINDS: dict[str, dict[str, str]] = {
    "game_preview": {"home": "team", "away": "team"},
    "scouting_report": {"player": "player"},
    "nba://leaders/{season}/{stat}": {"season": "season", "stat": "stat"},
    "nba://models/{name}/{version}": {"name": "model", "version": "version"},
}
VERSIONS = ("champion", "challenger", "latest")


def _prefixed(values: list[str], typed: str) -> Completion:
    t = typed.strip().lower()
    hits = [v for v in values if v.lower().startswith(t)]
    return Completion(values=hits[:MAX_VALUES], total=len(hits), has_more=len(hits) > MAX_VALUES)


def register_completions(server: MCPServer, gw: Gateway, book: CoverageBook) -> None:
    async def names(kind: str, typed: str) -> Completion:
        try:
            r = await gw.call(
                ep.COMPLETE, CompleteRequest(kind="team" if kind == "team" else "player", prefix=typed),
                timeout_s=TIMEOUT_S,
            )  # fmt: skip
        except NbaError:  # the stats worker is starting or gone: nothing to offer yet
            return Completion(values=[], total=0, has_more=False)
        return Completion(values=r.values, total=r.total, has_more=r.total > len(r.values))

    def seasons() -> list[str]:
        cov = book.current
        spans = [t for t in cov.tables if t.table == "player_seasons"] if cov else []
        if not spans:
            return []
        first, last = min(t.first_season for t in spans), max(t.last_season for t in spans)
        return [str(s) for s in range(last, first - 1, -1)]

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument, context: Any
    ) -> Completion:
        key = ref.name if isinstance(ref, PromptReference) else ref.uri
        kind = KINDS.get(key, {}).get(argument.name)
        typed = argument.value[:NAME_MAX]
        if kind in ("team", "player"):
            return await names(kind, typed)
        if kind == "stat":
            return _prefixed([*STAT_NAMES, *sorted(STAT_ALIASES)], typed)
        if kind == "season":
            return _prefixed(seasons(), typed)
        if kind == "model":
            return _prefixed(["game"], typed)
        if kind == "version":
            return _prefixed(list(VERSIONS), typed)
        return Completion(values=[], total=0, has_more=False)
