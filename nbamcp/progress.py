"""Progress a person can see, for the CLI's long commands (ingest, train, backtest, replay).

``cli_progress(what)`` gives a ``(fraction, message)`` callback for the length of a
command. On a terminal (stderr is a TTY) it draws a tqdm bar on stderr; otherwise (a
pipe, a log collector, CI) it writes structured log lines, ``<what>.progress`` with
``percent`` and ``step``, at most one per percent point or new step, so a 10,000-step job
does not flood the log. stdout stays the command's result. The callback may be called
from a worker thread (training runs in one): tqdm's updates and structlog are both
thread-safe, and the throttle holds a lock.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import structlog

log = structlog.get_logger(__name__)

Progress = Callable[[float, str], None]


class LogLines:
    """Structured progress lines, throttled (also what a job without a terminal reports)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._last: tuple[float, str] = (-1.0, "")

    def __call__(self, fraction: float, message: str) -> None:
        percent = round(100 * min(max(fraction, 0.0), 1.0), 1)
        with self._lock:
            last_percent, last_step = self._last
            if percent < last_percent + 1.0 and message == last_step and percent < 100.0:
                return
            self._last = (percent, message)
        log.info(f"{self.what}.progress", percent=percent, step=message)


class _Bar:
    def __init__(self, what: str, stream: IO[str]) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        # A terminal that reports no size (a fresh pty: 0 x 0) gets no bar at all from tqdm (it draws
        # none below the last row): 100 x 24 then.
        size = shutil.get_terminal_size((100, 24))
        self.bar = tqdm(
            total=100.0, desc=what, unit="%", file=stream, ncols=size.columns, nrows=size.lines, leave=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
        )  # fmt: skip

    def __call__(self, fraction: float, message: str) -> None:
        target = 100.0 * min(max(fraction, 0.0), 1.0)
        with self._lock:
            if target > self.bar.n:
                self.bar.update(target - self.bar.n)
            self.bar.set_postfix_str(message[:60], refresh=True)

    def close(self) -> None:
        self.bar.close()


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


@contextmanager
def cli_progress(what: str, *, stream: IO[str] | None = None, bar: bool | None = None) -> Iterator[Progress]:
    """The progress callback of one command: a bar on a terminal, log lines otherwise."""
    out = stream or sys.stderr
    if bar if bar is not None else is_terminal(out):
        b = _Bar(what, out)
        try:
            yield b
        finally:
            b.close()
        return
    yield LogLines(what)
