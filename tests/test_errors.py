"""Error codes are one enumeration: every error class uses it, and no code is spelled out elsewhere."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbamcp
import workers
from nbamcp.errors import ErrorCode, NbaError, RemoteError

REPO = Path(__file__).resolve().parents[1]


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_error_class_has_a_code_of_the_enumeration() -> None:
    for pkg in (nbamcp, workers):
        for mod in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}."):
            importlib.import_module(mod.name)
    classes = [
        c
        for c in _subclasses(NbaError)
        if c is not RemoteError and c.__module__.startswith(("nbamcp", "workers"))
    ]
    assert len(classes) >= 15
    for cls in classes:
        assert isinstance(cls.code, ErrorCode), f"{cls.__qualname__}.code = {cls.code!r} is not an ErrorCode"


def test_no_code_is_a_string_literal() -> None:
    """``code="..."`` in a call or ``code = "..."`` in a class body bypasses the enumeration."""
    found = []
    for path in [*(REPO / "nbamcp").rglob("*.py"), *(REPO / "workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            keyword = isinstance(node, ast.keyword) and node.arg == "code"
            assign = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets
            )
            literal = node.value if keyword or assign else None  # type: ignore[attr-defined]
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {literal.value!r}")
    assert found == [], "use ErrorCode members:\n" + "\n".join(found)


def test_codes_are_their_wire_values() -> None:
    # The values travel in ErrorReply.code and reach MCP clients: they never change.
    assert ErrorCode.NOT_FOUND == "not_found" and f"{ErrorCode.INVALID_INPUT}" == "invalid_input"
    assert len({c.value for c in ErrorCode}) == len(ErrorCode)
