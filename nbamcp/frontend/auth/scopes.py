"""Which scope each tool, resource and prompt needs.

``read``: stats tools, resources, prompts. ``predict``: the prediction tools (``schedule`` too: it predicts
every game it lists).
``admin``: whatever changes the server (ingest, train, promote, accept held games) and the
operator's tools (usage). ``metrics``: ``/metrics`` only. A tool nobody listed
needs ``read`` when it declares itself read-only, else ``admin``: a new tool
that changes state is never open to a read key by accident.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations

PREDICT_TOOLS = frozenset({"predict_game", "predict_games", "schedule"})  # schedule: each game predicted
ADMIN_TOOLS = frozenset({"ingest_games", "train_model", "promote_model", "usage", "accept_games"})
# Methods that run the server's own code; listing them is open to every key.
RESOURCE_METHODS = frozenset({"resources/read", "prompts/get"})


def tool_scope(name: str, annotations: ToolAnnotations | None) -> str:
    if name in ADMIN_TOOLS:
        return "admin"
    if name in PREDICT_TOOLS:
        return "predict"
    if annotations is not None and annotations.read_only_hint is True:
        return "read"
    return "admin"


def forbidden_text(what: str, needed: str, scopes: list[str], key_id: str) -> str:
    have = ", ".join(scopes) or "none"
    return (
        f"forbidden: {what} needs the {needed!r} scope; this key ({key_id}) has {have}. "
        f"Ask the operator for a key with {needed!r} (`nbamcp keys create --scopes ...,{needed}`)."
    )
