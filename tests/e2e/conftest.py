"""End-to-end fixtures: a store ingested ONCE per session by the real CLI, copied per server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Servers in e2e tests run the workers named here; model training is switched
# off unless a test asks for it (it has its own tests), so that each server
# starts in a second or two.
E2E_CONFIG = """
[trainer]
auto_train = false
"""


@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
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
    return home / "store.sqlite"


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}


@pytest.fixture
def home(tmp_path: Path, ingested_store: Path) -> Path:
    """A fresh NBAMCP_HOME holding a copy of the ingested store and the e2e config."""
    h = tmp_path / "home"
    h.mkdir()
    shutil.copy(ingested_store, h / "store.sqlite")
    (h / "e2e.toml").write_text(E2E_CONFIG)
    return h
