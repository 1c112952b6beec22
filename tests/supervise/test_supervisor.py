"""`nbamcp supervise` as a real process over real child processes, awaited by its log events.

What honcho does not do and this must: a killed process is started again (same $PORT, new pid),
one that keeps dying is given up and reported while the others go on, a SIGTERM stops the
processes in reverse Procfile order and gives each its drain time (longer than honcho's 5 s)
before SIGKILL reaches its whole process group.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import supervise_proc

WAIT = 60.0  # bound on every wait (a loaded CI machine)
PY = shlex.quote(sys.executable)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    return {**env, "NBAMCP_HOME": str(tmp_path / "home")}


def _python(code: str) -> str:
    # One Procfile line: the program's lines travel as one Python string literal.
    return f"{PY} -c {shlex.quote(f'exec({code!r})')}"


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


SERVICE = """
import json, os, time
print(json.dumps({"event": "svc.up", "port": os.environ["PORT"], "x": os.environ["X"], "pid": os.getpid()}),
      flush=True)
time.sleep(600)
"""


async def test_a_killed_process_comes_back_with_its_port_and_a_sigterm_stops_all(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"# a comment\nsvc: {_python(SERVICE)}\nother: {_python(SERVICE)}\n")
    (tmp_path / ".env").write_text("X='from .env'\n")
    args = (str(procfile), "-c", "svc=2", "-p", "47000", "--backoff", "0.2")
    async with supervise_proc(_env(tmp_path), *args) as sup:
        ups = {}
        for name in ("svc.1", "svc.2", "other.1"):
            ups[name] = await sup.wait_event("svc.up", WAIT, lambda e, n=name: e["proc"] == n)
        assert {n: e["port"] for n, e in ups.items()} == {
            "svc.1": "47000",
            "svc.2": "47001",
            "other.1": "47100",
        }
        assert {e["x"] for e in ups.values()} == {"from .env"}
        started = await sup.wait_event("supervise.started", WAIT, lambda e: e["proc"] == "svc.1")
        assert started["pid"] == ups["svc.1"]["pid"]  # the program itself, not a shell around it

        mark = len(sup.lines)
        os.kill(started["pid"], signal.SIGKILL)
        exited = await sup.wait_event("supervise.exited", WAIT, lambda e: e["proc"] == "svc.1", after=mark)
        assert exited["signal"] == "SIGKILL"
        restarting = await sup.wait_event("supervise.restarting", WAIT, after=mark)
        assert restarting == {**restarting, "proc": "svc.1", "in_s": 0.2, "exits": 1}
        again = await sup.wait_event("svc.up", WAIT, lambda e: e["proc"] == "svc.1", after=mark)
        assert again["port"] == "47000" and again["pid"] != started["pid"]
        # The others never noticed.
        assert not [e for e in sup.events() if e.get("event") == "supervise.exited" and e["proc"] != "svc.1"]

        code = await sup.stop(signal.SIGTERM, timeout=WAIT)
    assert code == 0, "\n".join(sup.lines[-20:])
    stopped = [e["proc"] for e in sup.events() if e.get("event") == "supervise.stopped"]
    assert stopped[0] == "other.1" and sorted(stopped[1:]) == ["svc.1", "svc.2"]  # reverse Procfile order
    for e in [*ups.values(), again]:
        assert _gone(e["pid"])


DRAINER = """
import json, signal, sys, time
def drain(*_):
    print(json.dumps({"event": "drain.begin"}), flush=True)
    time.sleep(6)  # longer than honcho's 5 s before SIGKILL
    print(json.dumps({"event": "drain.end"}), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
print(json.dumps({"event": "ready"}), flush=True)
time.sleep(600)
"""


async def test_each_process_gets_its_grace_then_its_whole_group_is_killed(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    # `stubborn` is a shell with a child, both deaf to SIGTERM: only SIGKILL of the group ends both.
    procfile.write_text(
        f"bus: {_python(DRAINER)}\n"
        "stubborn: trap '' TERM; echo ready; sleep 600; echo never\n"
        f"front: {_python(DRAINER)}\n"
    )
    args = (str(procfile), "--grace", "20", "--grace", "stubborn=1")
    async with supervise_proc(_env(tmp_path), *args) as sup:
        for name in ("bus.1", "front.1"):
            await sup.wait_event("ready", WAIT, lambda e, n=name: e["proc"] == n)
        await sup.wait_event(
            "proc.output", WAIT, lambda e: e["proc"] == "stubborn.1" and e["line"] == "ready"
        )
        pgid = (await sup.wait_event("supervise.started", WAIT, lambda e: e["proc"] == "stubborn.1"))["pid"]
        code = await sup.stop(signal.SIGTERM, timeout=WAIT)
    assert code == 0, "\n".join(sup.lines[-20:])
    order = [
        (e["event"], e["proc"])
        for e in sup.events()
        if e.get("event") in ("drain.begin", "drain.end", "supervise.stopped", "supervise.killed")
    ]
    assert order == [
        ("drain.begin", "front.1"),
        ("drain.end", "front.1"),
        ("supervise.stopped", "front.1"),
        ("supervise.killed", "stubborn.1"),
        ("supervise.stopped", "stubborn.1"),
        ("drain.begin", "bus.1"),
        ("drain.end", "bus.1"),
        ("supervise.stopped", "bus.1"),
    ]
    by = {(e["event"], e.get("proc")): e for e in sup.events()}
    assert by["supervise.stopped", "front.1"]["code"] == 0  # drained, not killed
    assert by["supervise.stopped", "bus.1"]["code"] == 0
    assert by["supervise.killed", "stubborn.1"]["after_s"] >= 1.0
    assert _gone(pgid)  # the shell's sleep went with it
    assert not [e for e in sup.events() if e.get("line") == "never"]


QUICK = """
import json, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(json.dumps({"event": "ready"}), flush=True)
time.sleep(600)
"""


async def test_a_crash_loop_is_given_up_and_reported_while_the_rest_runs(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(f'bad: echo \'{{"event": "bad.try"}}\'; exit 3\ngood: {_python(QUICK)}\n')
    args = (str(procfile), "--backoff", "0.05", "--max-restarts", "2", "--restart-window", "600")
    async with supervise_proc(_env(tmp_path), *args) as sup:
        loop = await sup.wait_event("supervise.crash_loop", WAIT)
        assert loop == {**loop, "proc": "bad.1", "exits": 3, "code": 3, "level": "error"}
        await sup.wait_event("ready", WAIT, lambda e: e["proc"] == "good.1")
        code = await sup.stop(signal.SIGTERM, timeout=WAIT)
    assert code == 1  # a process was given up
    events = sup.events()
    tries = [e for e in events if e.get("event") == "bad.try"]
    delays = [e["in_s"] for e in events if e.get("event") == "supervise.restarting"]
    assert len(tries) == 3 and delays == [0.05, 0.1]  # doubling
    assert [e["given_up"] for e in events if e.get("event") == "supervise.done"] == [["bad.1"]]
    assert [e["code"] for e in events if e.get("event") == "supervise.stopped"] == [0]  # good drained


async def test_with_every_process_given_up_or_not_run_it_stops_by_itself(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"bad: exit 3\nidle: {_python(QUICK)}\n")
    args = (str(procfile), "-c", "idle=0", "--max-restarts", "0")
    async with supervise_proc(_env(tmp_path), *args) as sup:
        async with asyncio.timeout(WAIT):
            code = await sup.proc.wait()  # no signal: nothing is left to supervise
    assert code == 1
    events = sup.events()
    assert [e["proc"] for e in events if e.get("event") == "supervise.started"] == ["bad.1"]
    assert [e["given_up"] for e in events if e.get("event") == "supervise.done"] == [["bad.1"]]


async def test_a_second_signal_cuts_the_grace_short(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"slow: {_python(DRAINER.replace('time.sleep(6)', 'time.sleep(600)'))}\n")
    async with supervise_proc(_env(tmp_path), str(procfile), "--grace", "600") as sup:
        await sup.wait_event("ready", WAIT)
        sup.proc.send_signal(signal.SIGTERM)
        await sup.wait_event("drain.begin", WAIT)
        code = await sup.stop(signal.SIGINT, timeout=WAIT)
    assert code == 0
    killed = [e for e in sup.events() if e.get("event") == "supervise.killed"]
    assert len(killed) == 1 and killed[0]["after_s"] < 600


@pytest.mark.parametrize(
    ("procfile", "args", "message"),
    [
        ("web x\n", (), "invalid_input: Procfile line 1: expected 'name: command'"),
        ("web: x\n", ("-c", "db=2"), "invalid_input: -c 'db=2': no 'db' in the Procfile"),
        ("web: x\n", ("--grace", "soon"), "invalid_input: --grace 'soon'"),
        ("web: x\n", ("--backoff", "0"), "invalid_input: --backoff"),
        (None, (), "invalid_input: cannot read the Procfile 'Procfile'"),
    ],
)
def test_a_bad_procfile_or_flag_is_one_line_and_starts_nothing(
    tmp_path: Path, procfile: str | None, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "Procfile"
    if procfile is not None:
        path.write_text(procfile)
    out = subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", "supervise", str(path), *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert out.returncode == 1
    assert out.stderr.startswith(f"nbamcp: {message}"), out.stderr
    assert "Traceback" not in out.stderr and "supervise.start" not in out.stderr
