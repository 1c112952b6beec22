"""The CLI's progress: a bar on a terminal's stderr, structured log lines otherwise (real processes)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from nbamcp.progress import LogLines, cli_progress

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120.0


def _files(folder: Path, data_dir: Path, n: int = 3) -> Path:
    folder.mkdir()
    header = (data_dir / "games" / "games_538_1947_2023.csv").read_text().splitlines()[0]
    for i in range(n):
        (folder / f"day_{i}.csv").write_text(
            f"{header}\n2023-10-{24 + i},2024,0,0,DEN,LAL,{110 + i},107,,,,,,,,,,\n"
        )
    return folder


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    return env | {"NBAMCP_HOME": str(home), "NBAMCP_LOG_LEVEL": "info", "NBAMCP_LOG_FORMAT": "json"}


def test_piped_stderr_gets_structured_progress_lines(tmp_path: Path, data_dir: Path) -> None:
    folder = _files(tmp_path / "drop", data_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", "ingest", str(folder)],
        cwd=REPO, env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "3 new games" in proc.stdout and "%|" not in proc.stderr  # no bar: not a terminal
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    steps = [e for e in lines if e.get("event") == "ingest.progress"]
    assert [e["percent"] for e in steps] == sorted(e["percent"] for e in steps)
    assert steps[-1]["percent"] == 100.0 and steps[-1]["step"].startswith("3/3 day_2.csv")


def test_a_terminal_gets_a_bar(tmp_path: Path, data_dir: Path) -> None:
    folder = _files(tmp_path / "drop", data_dir)
    env = _env(tmp_path / "home") | {"NBAMCP_LOG_LEVEL": "warning", "COLUMNS": "100"}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nbamcp.cli", "ingest", str(folder)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"3 new games" in out  # stdout is still the result, the bar is on stderr
    shown = seen.decode(errors="replace")
    assert "ingest: 100%|" in shown and "3/3 day_2.csv" in shown, shown


def test_log_lines_are_throttled_to_a_point_or_a_new_step(capsys: object) -> None:
    calls: list[tuple[float, str]] = []

    class Spy(LogLines):
        def __call__(self, fraction: float, message: str) -> None:
            before = self._last
            super().__call__(fraction, message)
            if self._last != before:
                calls.append(self._last)

    spy = Spy("train")
    for i in range(1000):
        spy(i / 1000, "fitting")
    spy(1.0, "done")
    assert len(calls) == 101 and calls[-1] == (100.0, "done")
    with cli_progress("x", bar=False) as p:
        assert isinstance(p, LogLines)
