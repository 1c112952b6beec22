"""msgspec validation errors in words: ``<param>: <what is wrong> (accepted: ...)``.

The accepted part is read from the JSON schema the value was checked against (bounds,
choices, examples), so it says what the schema says. Used where a request is validated:
the MCP front end (a tool's arguments) and the actor base (a message off the bus), so a
raw NATS client gets the same answer as an MCP client.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_PATTERNS = {
    r"^[^\x00-\x1f\x7f]*$": "printable characters (no control characters)",
    r"^\d{4}-\d{2}-\d{2}$": "a date YYYY-MM-DD",
    r"^\s*\d{4}\s*(?:[-/]\s*(?:\d{2}|\d{4}))?\s*$": "a season like '2023' or '2022-23'",
}
ENUM_SHOWN = 40


def explain(exc: msgspec.ValidationError, schema: dict[str, Any], args: Any) -> tuple[str, str]:
    """One msgspec validation error as (param, ``<param>: <what is wrong> (accepted: ...)``).

    ``schema`` is the JSON schema the value was checked against, ``args`` the value itself
    (for the "got ..." part; ``None`` when it is not at hand).
    """
    m = _AT.match(str(exc))
    what, path = (m.group("what"), m.group("path") or "") if m else (str(exc), "")
    steps = _steps(path)
    field = _FIELD.search(what)
    if what.startswith("Object missing required field") and field:
        steps, what = [*steps, field.group("name")], "missing (it is required)"
    elif what.startswith("Object contains unknown field") and field:
        steps, what = [*steps, field.group("name")], "unknown field"
    node = _node(schema, steps)
    if what == "unknown field":
        accepted = ", ".join(_object_props(_node(schema, steps[:-1]) or {})) or "no fields"
    else:
        accepted = describe(node) if node is not None else ""
        what = what.replace("`", "")
        what = what[:1].lower() + what[1:]
        pattern = _pattern_of(node) if node is not None else None
        if what.startswith("expected str matching regex") and pattern in _PATTERNS:
            what = "expected " + _PATTERNS[pattern]
        value = _value(args, steps)
        if value is not _MISSING and "got" not in what and _show(value) not in what:
            what += f", got {_show(value)}"
    name = _path_text(steps) or "arguments"
    return name, f"{name}: {what}" + (f" (accepted: {accepted})" if accepted else "")


_MISSING = object()


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        out.append(int(index) if index else name)
    return out


def _path_text(steps: list[str | int]) -> str:
    text = ""
    for s in steps:
        text += f"[{s}]" if isinstance(s, int) else (f".{s}" if text else str(s))
    return clip(text)


def clip(text: str, n: int = 64) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _object_props(node: dict[str, Any]) -> list[str]:
    if "properties" in node:
        return list(node["properties"])
    for branch in node.get("anyOf", []):
        if "properties" in branch:
            return list(branch["properties"])
    return []


def _node(schema: dict[str, Any], steps: list[str | int]) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for step in steps:
        if node is None:
            return None
        node = _child(node, step)
    return node


def _child(node: dict[str, Any], step: str | int) -> dict[str, Any] | None:
    if isinstance(step, int):
        if "items" in node:
            return node["items"]
    elif step in node.get("properties", {}):
        return node["properties"][step]
    for branch in node.get("anyOf", []):
        found = _child(branch, step)
        if found is not None:
            return found
    return None


def _pattern_of(node: dict[str, Any]) -> str | None:
    if "pattern" in node:
        return str(node["pattern"])
    for branch in node.get("anyOf", []):
        if "pattern" in branch:
            return str(branch["pattern"])
    return None


def _value(args: Any, steps: list[str | int]) -> Any:
    v = args
    for step in steps:
        try:
            v = v[step]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return v


def _show(v: Any) -> str:
    """A value as the error names it: short, never the whole of a hostile input."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        digits = len(str(abs(v))) if abs(v) < 10**40 else 41
        return str(v) if digits <= 20 else f"an integer of {'more than 40' if digits > 40 else digits} digits"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return repr(v) if len(v) <= 40 else f"a string of {len(v)} characters"
    if isinstance(v, list):
        return f"a list of {len(v)} item{'' if len(v) == 1 else 's'}"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def describe(node: dict[str, Any]) -> str:
    """What a schema node accepts, in words: 'an integer from 1 to 50, e.g. 10'."""
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        text = " or ".join(_kind(b) for b in branches)
        if len(branches) < len(node["anyOf"]):
            text += " (or null / omitted)"
    else:
        text = _kind(node)
    examples = node.get("examples")
    if examples:
        text += ", e.g. " + ", ".join(json.dumps(e) for e in examples[:2])
    return text


def _kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        values = list(map(str, node["enum"]))
        more = f" (and {len(values) - ENUM_SHOWN} more)" if len(values) > ENUM_SHOWN else ""
        return "one of " + ", ".join(values[:ENUM_SHOWN]) + more
    t = node.get("type")
    if t == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        if lo is not None and hi is not None:
            return f"an integer from {lo} to {hi}"
        return (
            "an integer" + (f" >= {lo}" if lo is not None else "") + (f" <= {hi}" if hi is not None else "")
        )
    if t == "number":
        return "a number"
    if t == "boolean":
        return "true or false"
    if t == "string":
        pattern = node.get("pattern")
        shape = _PATTERNS.get(pattern, f"matching {pattern}") if pattern else "any characters"
        lo, hi = node.get("minLength", 0), node.get("maxLength")
        size = f"{lo} to {hi}" if hi is not None and hi != lo else (str(hi) if hi else f"at least {lo}")
        size += " characters"
        return f"text of {size}, {shape}"
    if t == "array":
        lo, hi = node.get("minItems", 0), node.get("maxItems")
        size = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        return f"a list of {size} items, each {_kind(node.get('items', {}))}"
    if t == "object":
        props = list(node.get("properties", {}))
        return "an object with " + (", ".join(props) if props else "any fields")
    return "a value"


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Every ``$ref`` replaced by its definition (no message is recursive, so this ends)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
        return {k: walk(v) for k, v in node.items() if k != "$defs"}

    return walk(schema)
