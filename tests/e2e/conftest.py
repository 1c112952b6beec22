"""End-to-end fixtures: a home holding a copy of the session's ingested store (tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Servers in e2e tests run the workers named here; model training is switched
# off unless a test asks for it (it has its own tests), so that each server
# starts in a second or two.
E2E_CONFIG = """
[trainer]
auto_train = false
"""


@pytest.fixture
def home(tmp_path: Path, ingested_store: Path) -> Path:
    """A fresh NBAMCP_HOME holding a copy of the ingested store and the e2e config."""
    h = tmp_path / "home"
    h.mkdir()
    shutil.copy(ingested_store, h / "store.sqlite")
    (h / "e2e.toml").write_text(E2E_CONFIG)
    return h
