"""Keep every process of the Procfile running; stop them in order, each with its drain time.

Why not honcho: one process's exit stops all of them (nats-server included), nothing is
restarted, and the stop force-kills after 5 s, less than a worker or the front end needs to
drain. Here:

- each process runs in its own process group (``sh -c``: a shell that does not ``exec`` must
  not leave its child behind; Ctrl+C in a terminal reaches the supervisor only);
- a process that exits, whatever its code, is started again after a back-off that doubles from
  ``backoff_s`` to ``backoff_max_s`` and is reset by a run of ``stable_s``; past ``max_restarts``
  exits within ``window_s`` it is given up (``supervise.crash_loop``, an error), the others go
  on, and the supervisor's exit code says so (1);
- SIGTERM/SIGINT stops the processes in reverse Procfile order, one entry at a time (put the bus
  first and the front end last: the front end drains while the workers still answer, the workers
  drain while the bus is still up): SIGTERM to the group, its grace, then SIGKILL. A second
  signal skips what is left of every grace;
- the children's output is forwarded to stderr as JSON lines carrying ``proc`` (``stats.1``); a
  line that is not a JSON object is wrapped as ``proc.output``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import structlog
from anyio.streams.buffered import BufferedByteReceiveStream

from nbamcp.supervise.procfile import Entry, ProcessSpec, shell_command

log = structlog.get_logger(__name__)

MAX_LINE = 64 * 1024  # a longer line is forwarded in parts


@dataclass(frozen=True)
class Policy:
    """How dead processes are restarted (``nbamcp supervise --help`` names the flags)."""

    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_s: float = 30.0  # a run this long resets the back-off
    max_restarts: int = 5  # exits allowed within window_s before a process is given up
    window_s: float = 60.0


async def _first(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return as soon as one of ``waits`` returns."""
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the whole group; False when nothing of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _exit_fields(code: int | None) -> dict[str, object]:
    if code is not None and code < 0:
        return {"code": code, "signal": signal.Signals(-code).name}
    return {"code": code}


class Supervisor:
    def __init__(
        self,
        entries: list[Entry],
        specs: list[ProcessSpec],
        *,
        env: dict[str, str],
        cwd: Path,
        policy: Policy,
    ) -> None:
        self._entries = entries
        self._specs = specs
        self._env = env
        self._cwd = cwd
        self._policy = policy
        self._turn = {s.name: anyio.Event() for s in specs}  # "stop now" per process
        self._done = {s.name: anyio.Event() for s in specs}  # stopped for good (or given up)
        self._stop = anyio.Event()
        self._hurry = anyio.Event()
        self._nothing_left = anyio.Event()
        self._given_up: list[str] = []
        self._out = sys.stderr

    async def run(self) -> int:
        """Until SIGTERM/SIGINT (or every process given up); 1 when a process was given up."""
        log.info(
            "supervise.start",
            processes=[s.name for s in self._specs],
            ports={s.name: s.port for s in self._specs},
            grace_s={s.name: s.grace_s for s in self._specs},
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._signals)
            for spec in self._specs:
                tg.start_soon(self._keep, spec)
            if not self._specs:
                self._nothing_left.set()
            await _first(self._stop.wait, self._nothing_left.wait)
            for entry in reversed(self._entries):
                mine = [s for s in self._specs if s.entry == entry.name]
                for spec in mine:
                    self._turn[spec.name].set()
                for spec in mine:
                    await self._done[spec.name].wait()
            tg.cancel_scope.cancel()
        log.info("supervise.done", given_up=self._given_up)
        return 1 if self._given_up else 0

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if self._stop.is_set():
                    log.warning("supervise.hurry", signal=name)
                    self._hurry.set()
                else:
                    log.info("supervise.signal", signal=name)
                    self._stop.set()

    async def _keep(self, spec: ProcessSpec) -> None:
        """Run ``spec`` again and again until its turn to stop, or until it crash-loops."""
        p = self._policy
        exits: deque[float] = deque()
        delay = p.backoff_s
        try:
            while not self._turn[spec.name].is_set():
                started = time.monotonic()
                try:
                    code = await self._run_once(spec)
                except OSError as exc:  # no /bin/sh, the folder gone: counts as an exit
                    log.error("supervise.spawn_failed", proc=spec.name, error=f"{type(exc).__name__}: {exc}")
                    code = None
                if self._turn[spec.name].is_set():
                    return
                now = time.monotonic()
                if now - started >= p.stable_s:
                    delay, exits = p.backoff_s, deque()
                exits.append(now)
                while exits and now - exits[0] > p.window_s:
                    exits.popleft()
                if len(exits) > p.max_restarts:
                    self._given_up.append(spec.name)
                    log.error(
                        "supervise.crash_loop",
                        proc=spec.name,
                        exits=len(exits),
                        window_s=p.window_s,
                        **_exit_fields(code),
                    )
                    return
                log.info("supervise.restarting", proc=spec.name, in_s=round(delay, 3), exits=len(exits))
                with anyio.move_on_after(delay):
                    await self._turn[spec.name].wait()
                delay = min(delay * 2, p.backoff_max_s)
        finally:
            self._done[spec.name].set()
            if all(e.is_set() for e in self._done.values()):
                self._nothing_left.set()

    async def _run_once(self, spec: ProcessSpec) -> int | None:
        """Start ``spec``, forward its output, stop it at its turn; return its exit code."""
        proc = await anyio.open_process(
            ["/bin/sh", "-c", shell_command(spec.command, self._env.get("PATH", os.defpath))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._cwd,
            env={**self._env, **spec.env},
            start_new_session=True,  # its own group: signalled as one, and no terminal's Ctrl+C
        )
        pid = proc.pid
        started = time.monotonic()
        log.info("supervise.started", proc=spec.name, pid=pid, port=spec.port)
        exited = anyio.Event()
        finished = anyio.Event()  # exited, and every pipe closed (nothing of the group holds them)

        async def wait_exit() -> None:
            await proc.wait()
            exited.set()

        async def stopper() -> None:
            await _first(exited.wait, self._turn[spec.name].wait)
            stopping = time.monotonic()
            if not exited.is_set():
                log.info("supervise.stopping", proc=spec.name, pid=pid, grace_s=spec.grace_s)
            # Also after an exit: whatever the dead leader left in its group goes with it.
            if not _signal_group(pid, signal.SIGTERM):
                return
            with anyio.move_on_after(spec.grace_s):
                await _first(finished.wait, self._hurry.wait)
            if not finished.is_set() and _signal_group(pid, signal.SIGKILL):
                log.warning(
                    "supervise.killed", proc=spec.name, pid=pid, after_s=round(self._since(stopping), 3)
                )

        async with proc, anyio.create_task_group() as tg:
            tg.start_soon(stopper)
            async with anyio.create_task_group() as io:
                assert proc.stdout is not None and proc.stderr is not None
                io.start_soon(self._pump, proc.stdout, spec.name, "stdout")
                io.start_soon(self._pump, proc.stderr, spec.name, "stderr")
                io.start_soon(wait_exit)
            finished.set()
        code = proc.returncode
        fields = {"proc": spec.name, "pid": pid, "ran_s": round(self._since(started), 3)}
        if self._turn[spec.name].is_set():
            log.info("supervise.stopped", **fields, **_exit_fields(code))
        else:
            log.warning("supervise.exited", **fields, **_exit_fields(code))
        return code

    @staticmethod
    def _since(t: float) -> float:
        return time.monotonic() - t

    async def _pump(self, stream: anyio.abc.ByteReceiveStream, name: str, channel: str) -> None:
        buffered = BufferedByteReceiveStream(stream)
        while True:
            try:
                line = await buffered.receive_until(b"\n", MAX_LINE)
            except anyio.IncompleteRead:
                if buffered.buffer:
                    self._forward(bytes(buffered.buffer), name, channel)
                return
            except anyio.DelimiterNotFound:
                line = await buffered.receive(MAX_LINE)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            self._forward(line, name, channel)

    def _forward(self, raw: bytes, name: str, channel: str) -> None:
        text = raw.decode(errors="replace").rstrip("\r")
        record: object = None
        if text.startswith("{"):
            try:
                record = json.loads(text)
            except ValueError:
                record = None
        if isinstance(record, dict):
            out = {"proc": name, **record}
            out["proc"] = name  # the supervisor's name for it wins
        else:
            out = {"proc": name, "event": "proc.output", "stream": channel, "line": text}
        self._out.write(json.dumps(out, ensure_ascii=False) + "\n")
        self._out.flush()
