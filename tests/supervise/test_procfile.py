"""The Procfile as honcho reads it: entries, .env, -c counts, $PORT numbering, the exec rule."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nbamcp.errors import InvalidInput
from nbamcp.supervise.procfile import (
    Entry,
    expand,
    parse_counts,
    parse_env_file,
    parse_grace,
    parse_procfile,
    shell_command,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_procfile_reads_the_same_as_honcho_reads_it() -> None:
    from honcho.environ import expand_processes
    from honcho.environ import parse_procfile as honcho_parse

    text = (REPO / "Procfile").read_text()
    entries = parse_procfile(text)
    theirs = honcho_parse(text).processes
    assert [(e.name, e.command) for e in entries] == list(theirs.items())
    # nats-server first (everyone needs it), the front end last (it stops first).
    assert entries[0].name == "nats" and entries[-1].name == "frontend"
    counts = {"inference": 2, "cache": 0}
    mine = expand(entries, counts, base_port=5000, grace_s=parse_grace([], entries, 30.0))
    honcho = expand_processes(theirs, concurrency=counts, port=5000)
    assert [(s.name, s.command, s.env["PORT"]) for s in mine] == [
        (p.name, p.cmd, p.env["PORT"]) for p in honcho
    ]
    assert [s.name for s in mine if s.entry == "inference"] == ["inference.1", "inference.2"]
    assert not [s for s in mine if s.entry == "cache"]


def test_bad_procfile_lines_env_lines_counts_and_graces_are_invalid_input() -> None:
    entries = [Entry("web", "x"), Entry("worker", "y")]
    cases = [
        (lambda: parse_procfile("web: x\nnot an entry\n"), "Procfile line 2"),
        (lambda: parse_procfile("web: x\nweb: y\n"), "defined twice"),
        (lambda: parse_procfile("# only a comment\n\n"), "no 'name: command'"),
        (lambda: parse_env_file("A=1\n= nothing\n"), ".env line 2"),
        (lambda: parse_counts(["web"], entries), "expected name=N"),
        (lambda: parse_counts(["web=-1"], entries), "expected name=N"),
        (lambda: parse_counts(["db=1"], entries), "no 'db' in the Procfile"),
        (lambda: parse_counts(["web=65"], entries), "at most 64"),
        (lambda: parse_grace(["soon"], entries, 30.0), "--grace 'soon'"),
        (lambda: parse_grace(["web=-2"], entries, 30.0), "--grace 'web=-2'"),
        (lambda: parse_grace(["db=2"], entries, 30.0), "no 'db'"),
        (lambda: expand(entries, {}, base_port=65500, grace_s={"web": 1, "worker": 1}), "below 65536"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInput, match=message):
            call()


def test_env_file_counts_and_graces() -> None:
    assert parse_env_file("# c\nexport A=1\nB = 'two words'\nC=\"x=y\"\nD=\n") == {
        "A": "1",
        "B": "two words",
        "C": "x=y",
        "D": "",
    }
    entries = [Entry("web", "x"), Entry("worker", "y")]
    assert parse_counts(["web=3,worker=0", "web=2"], entries) == {"web": 2, "worker": 0}
    assert parse_grace(["12", "web=40"], entries, 30.0) == {"web": 40.0, "worker": 12.0}


def test_one_simple_command_of_a_program_is_execed_anything_else_runs_as_written() -> None:
    path = os.pathsep.join([str(Path(shutil.which("sh") or "/bin/sh").parent), os.defpath])
    execed = [
        'sh -c "a; b"',  # the ; is quoted: one command
        "env NBAMCP_HOME=${NBAMCP_HOME:-$HOME/.nbamcp}/stats nbamcp worker stats",
        "sleep 1 > /dev/null",
    ]
    for command in execed:
        assert shell_command(command, path) == f"exec {command}"
    as_written = [
        "echo x; exit 3",
        "trap '' TERM; sleep 600",
        "sleep 1 && true",
        "sleep 1 &",
        "(sleep 1)",
        "A=1 sleep 2",
        "$PROGRAM run",
        "no-such-program-here x",
        "exit 3",
        'a "unbalanced',
    ]
    for command in as_written:
        assert shell_command(command, path) == command
