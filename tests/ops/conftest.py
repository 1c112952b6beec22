"""A fresh home with a copy of the session's ingested store; the ``nbamcp`` command as its own process
(as an operator runs it: its logging configuration stays out of the test process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.frontend.web.harness import new_home

CLI_TIMEOUT_S = 120.0


@pytest.fixture
def home(tmp_path: Path, ingested_store: Path) -> Path:
    return new_home(tmp_path, ingested_store)


def nbamcp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``nbamcp ARGS`` with NBAMCP_HOME=home (and no other NBAMCP_ setting of the caller's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env["NBAMCP_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
