"""The Procfile, read the way honcho reads it, and the processes it describes.

Kept honcho-compatible on purpose: the same Procfile runs under ``honcho start`` (no restarts)
and ``nbamcp supervise`` (restarts, drain time). So: ``name: command`` lines, ``#`` comments, a
``.env`` file of ``KEY=VALUE`` lines layered over the environment, ``-c name=N`` instances, and
``$PORT`` = base port + 100 per Procfile entry + 1 per extra instance (5000, 5100, 5101, ...).
Commands run through ``/bin/sh -c``, so ``${VAR:-default}`` expands as it does under honcho.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field

from nbamcp.errors import InvalidInput

# honcho's own pattern for an entry: a name, a colon, the command.
_ENTRY = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_OPERATORS = frozenset(";&|()")
_MAX_INSTANCES = 64
_PORT_STEP = 100  # honcho's spacing between entries


@dataclass(frozen=True)
class Entry:
    """One ``name: command`` line."""

    name: str
    command: str


@dataclass(frozen=True)
class ProcessSpec:
    """One process to keep running: ``stats.1``, its command, its environment additions."""

    name: str  # entry.instance, as honcho names them
    entry: str
    command: str
    port: int
    grace_s: float
    env: dict[str, str] = field(default_factory=dict)


def parse_procfile(text: str) -> list[Entry]:
    """The entries in file order; a line that is neither an entry, a comment nor blank is refused."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENTRY.match(line)
        if match is None:
            raise InvalidInput(f"Procfile line {number}: expected 'name: command', got {line[:80]!r}")
        name, command = match.group(1), match.group(2).strip()
        if name in seen:
            raise InvalidInput(f"Procfile line {number}: {name!r} is defined twice")
        seen.add(name)
        entries.append(Entry(name, command))
    if not entries:
        raise InvalidInput("the Procfile has no 'name: command' entries")
    return entries


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (optionally quoted, ``export`` allowed), as honcho reads ``.env``."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise InvalidInput(f".env line {number}: expected KEY=VALUE, got {line[:80]!r}")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def parse_counts(items: list[str], entries: list[Entry]) -> dict[str, int]:
    """``-c`` values: ``name=N`` (repeatable, or comma-separated) for names the Procfile has."""
    names = {e.name for e in entries}
    counts: dict[str, int] = {}
    for item in (part for value in items for part in value.split(",") if part.strip()):
        name, sep, number = item.strip().partition("=")
        if not sep or not number.strip().isdigit():
            raise InvalidInput(f"-c {item!r}: expected name=N (N from 0 to {_MAX_INSTANCES})")
        if name not in names:
            raise InvalidInput(
                f"-c {item!r}: no {name!r} in the Procfile (it has {', '.join(sorted(names))})"
            )
        n = int(number)
        if n > _MAX_INSTANCES:
            raise InvalidInput(f"-c {item!r}: at most {_MAX_INSTANCES} instances")
        counts[name] = n
    return counts


def parse_grace(items: list[str], entries: list[Entry], default_s: float) -> dict[str, float]:
    """``--grace`` values: ``S`` (every process) or ``name=S``; returns each entry's drain time."""
    names = {e.name for e in entries}
    every = default_s
    per: dict[str, float] = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 3600:
            raise InvalidInput(f"--grace {item!r}: expected seconds (0 to 3600) or name=seconds")
        if not sep:
            every = seconds
        elif name in names:
            per[name] = seconds
        else:
            raise InvalidInput(f"--grace {item!r}: no {name!r} in the Procfile")
    return {e.name: per.get(e.name, every) for e in entries}


def expand(
    entries: list[Entry], counts: dict[str, int], *, base_port: int, grace_s: dict[str, float]
) -> list[ProcessSpec]:
    """Every instance to run, in Procfile order, with honcho's ``$PORT`` numbering."""
    if not 1 <= base_port <= 65535 - _PORT_STEP * len(entries):
        raise InvalidInput(f"port {base_port}: the Procfile's ports would not fit below 65536")
    specs: list[ProcessSpec] = []
    for index, entry in enumerate(entries):
        for i in range(counts.get(entry.name, 1)):
            port = base_port + _PORT_STEP * index + i
            specs.append(
                ProcessSpec(
                    name=f"{entry.name}.{i + 1}",
                    entry=entry.name,
                    command=entry.command,
                    port=port,
                    grace_s=grace_s[entry.name],
                    env={"PORT": str(port)},
                )
            )
    return specs


def shell_command(command: str, path: str) -> str:
    """What ``/bin/sh -c`` runs: ``exec COMMAND`` when it is one simple command of a program on
    ``path``, so that the process the supervisor signals, reports and restarts IS the program
    (dash does not exec the last command itself: a ``kill -9`` of the reported pid would kill the
    shell and leave the program behind). Anything else (``a; b``, ``a && b``, builtins, a first
    word that is a variable) runs as written; the process group still holds it together."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.commenters = ""
        words = list(lexer)
    except ValueError:
        return command  # unbalanced quotes: the shell will say so
    if not words or any(w and set(w) <= _OPERATORS for w in words):
        return command
    first = words[0]
    if "=" in first or "$" in first or "`" in first or shutil.which(first, path=path) is None:
        return command
    return f"exec {command}"
