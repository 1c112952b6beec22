"""Real `nbamcp` processes for end-to-end tests, awaited by their log events.

A process is ready when it says so on stderr (a structured log line, or
uvicorn's banner): tests await that line with a timeout instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client.stdio import StdioServerParameters


def server_env(home: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env.update(NBAMCP_HOME=str(home), NBAMCP_DATA_DIR=str(data_dir), **extra)
    if (home / "e2e.toml").exists():
        env["NBAMCP_CONFIG"] = str(home / "e2e.toml")
    return env


def make_key(home: Path, tenant: str = "e2e", scopes: str = "read,predict,admin,metrics") -> str:
    """A key in the home's keys file, as `nbamcp keys create` makes it; returns the token."""
    from nbamcp.frontend.auth.keys import FileKeyStore

    return FileKeyStore(home / "keys.json").create(tenant, scopes.split(","))[1]


def stdio_params(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "nbamcp.cli", *args], env=env)


class Proc:
    """A child process whose stderr lines are kept and can be awaited."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    def events(self) -> list[dict[str, object]]:
        out = []
        for line in self.lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    async def wait_event(
        self,
        event: str,
        timeout: float = 30.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
        *,
        after: int = 0,
    ) -> dict[str, Any]:
        """The first JSON log line whose ``event`` is ``event`` (and that ``where`` accepts), from
        line ``after`` on (``len(proc.lines)`` taken before an action: what came of it)."""

        def match(line: str) -> dict[str, Any] | None:
            try:
                record = json.loads(line)
            except ValueError:
                return None  # not a structured line (a library's banner)
            if not isinstance(record, dict) or record.get("event") != event:
                return None
            return record if where is None or where(record) else None

        try:
            return await self._wait_event(match, event, timeout, after)
        except TimeoutError:
            # What the process warned of is what says why it never got there (CI keeps no logs).
            raise AssertionError(
                f"no {event!r} within {timeout:g}s; the process's last warnings and errors:\n"
                + "\n".join(self.notable())
            ) from None

    def notable(self, last: int = 20) -> list[str]:
        """The last ``last`` lines at warning level or above (and unstructured ones: tracebacks)."""
        out = []
        for line in self.lines:
            try:
                record = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            if not isinstance(record, dict) or record.get("level") in ("warning", "error", "critical"):
                out.append(line)
        return out[-last:]

    async def _wait_event(
        self, match: Callable[[str], dict[str, Any] | None], event: str, timeout: float, after: int
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            async with self._changed:
                seen = after
                while True:
                    for line in self.lines[seen:]:
                        found = match(line)
                        if found is not None:
                            return found
                    seen = len(self.lines)
                    if self._reader.done():
                        raise AssertionError(f"process exited before {event!r}:\n" + "\n".join(self.lines))
                    await self._changed.wait()

    async def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        """The first stderr line containing ``needle`` (for unstructured lines: uvicorn's banner)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                seen = 0
                while True:
                    for line in self.lines[seen:]:
                        if needle in line:
                            return line
                    seen = len(self.lines)
                    if self._reader.done():
                        raise AssertionError(f"process exited before {needle!r}:\n" + "\n".join(self.lines))
                    await self._changed.wait()

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        await self._reader
        return code


@asynccontextmanager
async def nbamcp_proc(env: dict[str, str], *args: str, stdout: Path | None = None) -> AsyncIterator[Proc]:
    """``nbamcp ARGS`` with stderr kept; stdout goes to the file ``stdout`` (default: nowhere)."""
    out = stdout.open("wb") if stdout is not None else None
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nbamcp.cli",
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out if out is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        p = Proc(proc)
        try:
            yield p
        finally:
            await p.stop()
    finally:
        if out is not None:
            out.close()


@asynccontextmanager
async def supervise_proc(env: dict[str, str], *args: str, stop_timeout: float = 20.0) -> AsyncIterator[Proc]:
    """``nbamcp supervise ARGS``; afterwards, whatever happened, no process group it started is left
    (its children run in their own sessions: a supervisor killed after ``stop_timeout`` leaves them)."""
    async with nbamcp_proc(env, "supervise", *args) as sup:
        try:
            yield sup
            await sup.stop(timeout=stop_timeout)
        finally:
            if sup.proc.returncode is None:
                await sup.stop(timeout=stop_timeout)
            for record in sup.events():
                if record.get("event") == "supervise.started":
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(int(str(record["pid"])), signal.SIGKILL)


def served_rows(predlog_db: Path) -> dict[str, int]:
    """Rows per request id of the answers served (a shadow challenger's rows apart), from the
    prediction log's file; every shadow row must shadow a served answer of the same request and
    game (a retraining during a test makes a challenger, and shadow traffic scores beside it)."""
    if not predlog_db.exists():
        return {}
    with sqlite3.connect(predlog_db) as db:
        orphans = db.execute(
            "SELECT s.request_id, s.date, s.home, s.away FROM predictions s WHERE s.shadow = 1 AND NOT "
            "EXISTS (SELECT 1 FROM predictions p WHERE p.shadow = 0 AND p.request_id = s.request_id "
            "AND p.date = s.date AND p.home = s.home AND p.away = s.away)"
        ).fetchall()
        assert orphans == [], f"shadow rows without a served answer: {orphans[:5]}"
        rows = "SELECT request_id, count(*) FROM predictions WHERE shadow = 0 GROUP BY request_id"
        return dict(db.execute(rows).fetchall())
