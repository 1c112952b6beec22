"""Strategies: arguments from a tool's published input schema, and hostile ones around them.

``schema_args`` draws from the schema itself (hypothesis-jsonschema), half the time with real
names put in (so calls get past name resolution into the queries). ``hostile_args`` takes such
arguments and breaks one thing: a value (huge, control characters, Unicode that grows when
normalised, SQL, paths out, booleans and integers past 2**63 for numbers, deep nesting), a
valid value in the wrong shape (a number as text, a boolean for an integer), an item of a
list, an unknown or missing parameter, or the whole object.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from nbamcp.messages.fields import canonical_stat

# Real values by parameter name: they resolve, so the call reaches the query behind them.
REAL: dict[str, list[Any]] = {
    "team": ["Celtics", "BOS", "Lakers", "Brooklyn", "Seattle SuperSonics", "knicks", "Hornets"],
    "player": ["LeBron James", "jokic", "jamesle01", "Michael Jordan", "james", "giannis"],
    "season": [1947, 1990, 2016, 2023, 2024, "2022-23", "1995-96"],
    "date": ["2023-04-05", "2016-06-19", "1950-01-01", "2030-01-01"],
    "stat": ["pts", "ast", "Assists", "apg", "ts_pct", "per"],
    "version": [1, 2],
    "paths": ["/etc/passwd", "/", "/dev/zero", "/proc/self/environ", "..", "../../etc", "~", "."],
}
ALIASES = {
    "team_a": "team", "team_b": "team", "opponent": "team", "home": "team", "away": "team",
    "query": "player", "players": "player", "season_from": "season", "season_to": "season",
    "date_from": "date", "date_to": "date", "stats": "stat",
}  # fmt: skip

HUGE = 100_000
STRINGS = [
    "a" * HUGE,
    "\x00",
    "jok\x00ic",
    "Celtics\n",
    "\r\n\t",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "\u202eseltceC",  # right-to-left override
    "\u200b" * 64,  # zero-width spaces
    "\ufdfa" * 64,  # one character that NFKD turns into 18
    "e\u0301" * 32,  # combining accents
    "\u0130" * 64,  # lower() makes two characters of each
    "\u00df" * 64,  # casefold() makes two characters of each
    "\U0001f600" * 16,
    "\U0010ffff",
    "\ufeffCeltics",
    "".join(chr(0x1D538 + ord(c) - ord("A")) for c in "LEBRON"),  # mathematical double-struck letters
    "' OR 1=1 --",
    "Robert'); DROP TABLE players;--",
    "%s%s%s%n",
    "{0}{1}{__class__}",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "/etc/passwd",
    "/proc/self/environ",
    "",
    " ",
    " " * 64,
    "null",
    "[]",
    "{}",
    '["LeBron James", "Michael Jordan"]',
    "[" * 10_000,
    "[" * 60_000 + "]" * 60_000,
    "2023-02-30",
    "0000-00-00",
    "9999-99-99",
    "2023-13-01",
    "-2023",
    "2023-2026",
    " 2023 ",
    "99999",
    "1",  # numbers as text: a lax validator takes them for integers
    "10",
    "2016",
    "1e308",
    "NaN",
]
NUMBERS = [
    True, False, 0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**100,
    -(10**100), 1.5, -0.0, 2023.0, 1e308, -1e308, 5e-324,
]  # fmt: skip


def _nested(depth: int, leaf: Any, as_dict: bool) -> Any:
    node = leaf
    for _ in range(depth):
        node = {"a": node} if as_dict else [node]
    return node


NESTING = [_nested(d, "Celtics", as_dict) for d in (2, 50, 120) for as_dict in (False, True)] + [
    list(range(10_000)),
    ["Celtics"] * 1_000,
    {f"k{i}": i for i in range(1_000)},
    [{"home": "Celtics", "away": "Knicks"}] * 501,
]

hostile_value: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(STRINGS),
    st.sampled_from(NUMBERS),
    st.sampled_from(NESTING),
    st.text(max_size=80),  # any code point but surrogates: controls, marks, private use
    st.text(min_size=65, max_size=400),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.lists(st.text(max_size=8), max_size=8),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=4),
)
hostile_key = st.sampled_from(["__proto__", "constructor", "", "a" * 10_000, "\x00", "type", "client", "x"])


def wrong_shapes(value: Any) -> list[Any]:
    """A valid value in the wrong shape: what a lax validator lets through (a number as text,
    a boolean for an integer, a float for one, a list around a value, a string grown past its
    bound or holding a NUL)."""
    shapes: list[Any] = [[value], {"value": value}, None]
    if isinstance(value, bool):
        shapes += [int(value), str(value).lower(), "yes"]
    elif isinstance(value, int):
        shapes += [str(value), bool(value % 2), float(value), value + 0.5, value + 2**63, -(2**63) - value]
    elif isinstance(value, str):
        shapes += [value * 2_000, value + "\x00", "\x00" + value, value.encode().hex() * 40]
    elif isinstance(value, list):
        shapes += [json.dumps(value), value * 200, [*value, *value, *value, *value, *value, *value], []]
    return shapes


# Tried on every parameter of every tool (tests/fuzz/test_tools.py, the systematic pass).
EVERY_PARAMETER = [
    "a" * HUGE, "\x00", "\u202e", "", True, False, 2**63, -(2**63) - 1, 10**100, -1, 0, 1.5, 1e308,
    [], {}, NESTING[4], NESTING[5],
]  # fmt: skip


def valid_example(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments the schema accepts, built from real values, examples and defaults (every
    parameter that has one), so that breaking one parameter leaves the others right."""
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        real = _real_key(name)
        pick: Any
        if name in ("paths",) or real is None or not REAL.get(real):
            pick = (prop.get("examples") or [prop.get("default")])[0]
        else:
            pick = REAL[real][0]
            if prop.get("type") == "array" or any(b.get("type") == "array" for b in prop.get("anyOf", [])):
                pick = REAL[real][:2]
        if pick is not None:
            out[name] = pick
    return out


def _real_key(name: str) -> str | None:
    return name if name in REAL else ALIASES.get(name)


@st.composite
def _with_real_values(draw: st.DrawFn, args: Any) -> Any:
    """``args`` with some values replaced by real ones of the same parameter."""
    if isinstance(args, list):
        return [draw(_with_real_values(a)) for a in args]
    if not isinstance(args, dict):
        return args
    out = {}
    for k, v in args.items():
        real = _real_key(k)
        if real is not None and draw(st.integers(0, 4)):  # 4 times in 5
            pick = st.sampled_from(REAL[real])
            v = [draw(pick) for _ in v] if isinstance(v, list) else draw(pick)
        out[k] = draw(_with_real_values(v))
    return out


def schema_args(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments as the published schema allows them, half the time with real names in most places."""
    raw = from_schema(schema)
    return st.one_of(raw, raw.flatmap(_with_real_values))


@st.composite
def hostile_args(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    args: dict[str, Any] = dict(draw(schema_args(schema)))
    how = draw(
        st.sampled_from(["value", "value", "confused", "confused", "item", "unknown", "missing", "whole"])
    )
    if how == "whole":
        return draw(st.sampled_from([{}, {f"k{i}": i for i in range(1_000)}, {"": None}]))
    if how == "unknown" or not props:
        args[draw(hostile_key)] = draw(hostile_value)
    elif how == "missing" and schema.get("required"):
        args.pop(draw(st.sampled_from(schema["required"])), None)
    elif how == "confused" and args:
        key = draw(st.sampled_from(sorted(args)))
        args[key] = draw(st.sampled_from(wrong_shapes(args[key])))
    elif how == "item" and any(isinstance(v, list) and v for v in args.values()):
        key = draw(st.sampled_from(sorted(k for k, v in args.items() if isinstance(v, list) and v)))
        items = list(args[key])
        items[draw(st.integers(0, len(items) - 1))] = draw(hostile_value)
        args[key] = items
    else:
        args[draw(st.sampled_from(sorted(props)))] = draw(hostile_value)
    return args


def as_the_server_reads(args: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The two documented leniencies applied, so the schema can judge what the server judges:
    stat names in any case and common words (``canonical_stat``), and a list sent as a JSON
    string (Claude Desktop does that)."""
    props = schema.get("properties", {})
    out = dict(args)
    for k, v in args.items():
        prop = props.get(k, {})
        kinds = [prop.get("type"), *(b.get("type") for b in prop.get("anyOf", []))]
        if isinstance(v, str) and len(v) <= 65_536 and "array" in kinds and "string" not in kinds:
            try:
                parsed = json.loads(v)
            except (ValueError, RecursionError):
                parsed = v
            out[k] = v = parsed if isinstance(parsed, list | dict) else v
        if k == "stat":
            out[k] = canonical_stat(v)
        elif k == "stats" and isinstance(v, list):
            out[k] = [canonical_stat(s) for s in v]
    return out
