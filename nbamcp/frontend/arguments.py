"""Tool arguments: the published input schema of a request Struct, and validation against it.

A tool's input is a request Struct from ``nbamcp.messages`` (the one the worker decodes), so
the bounds a client reads in ``inputSchema`` are the bounds both the front end and the worker
enforce. Validation is msgspec's (``convert`` into the Struct); its failures become ONE line
a model can act on (``nbamcp.messages.validation``), never a pydantic dump.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from nbamcp.errors import InvalidInput
from nbamcp.messages.validation import clip, explain, inline_refs

# A JSON-encoded list or object sent as a string (Claude Desktop does this) is decoded
# first, up to this size; anything longer is left to fail validation as a string.
JSON_STRING_MAX = 65_536


def input_schema(
    struct_type: type[msgspec.Struct],
    *,
    hidden: Iterable[str] = (),
    overrides: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The Struct's JSON schema as a tool's ``inputSchema``: refs inlined, the tag and
    ``hidden`` fields (filled in by the front end) left out, a description on every property."""
    schema = inline_refs(msgspec.json.schema(struct_type))
    tag = getattr(struct_type, "__struct_config__", None)
    drop = set(hidden) | ({tag.tag_field} if tag is not None and tag.tag_field else set())
    props = {k: _described(v) for k, v in schema.get("properties", {}).items() if k not in drop}
    for name, override in (overrides or {}).items():
        props[name] = override(props[name])
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [r for r in schema.get("required", []) if r not in drop]
    if required:
        out["required"] = required
    return out


def _described(prop: dict[str, Any]) -> dict[str, Any]:
    """msgspec puts an optional field's description on its non-null branch: lift it up."""
    if "description" in prop or "anyOf" not in prop:
        return prop
    for branch in prop["anyOf"]:
        if "description" in branch:
            lifted = {k: branch[k] for k in ("description", "examples") if k in branch}
            return {**lifted, **prop}
    return prop


def parse_arguments(
    struct_type: type[msgspec.Struct],
    schema: dict[str, Any],
    arguments: Mapping[str, Any],
    *,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Any:
    """``arguments`` as a ``struct_type``, or InvalidInput naming the parameter and what it accepts."""
    props: dict[str, Any] = schema.get("properties", {})
    unknown = sorted(k for k in arguments if k not in props)
    if unknown:
        name = clip(unknown[0])
        raise InvalidInput(
            f"{name}: unknown parameter (accepted: {', '.join(props) or 'no parameters'})",
            details={"param": name},
        )
    args = {k: _json_string(v, props[k]) for k, v in arguments.items()}
    if prepare is not None:
        args = prepare(args)
    try:
        return msgspec.convert(args, struct_type)
    except msgspec.ValidationError as exc:
        param, text = explain(exc, schema, args)
        raise InvalidInput(text, details={"param": param}) from None


def _json_string(value: Any, prop: dict[str, Any]) -> Any:
    """A list or object sent JSON-encoded in a string, decoded; anything else as it came."""
    if not isinstance(value, str) or len(value) > JSON_STRING_MAX or not _wants_container(prop):
        return value
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return parsed if isinstance(parsed, list | dict) else value


def _wants_container(prop: dict[str, Any]) -> bool:
    kinds = [prop.get("type"), *(b.get("type") for b in prop.get("anyOf", []))]
    return ("array" in kinds or "object" in kinds) and "string" not in kinds
