"""A fresh home with a copy of the session's ingested store (the HTTP harness's fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.frontend.web.harness import new_home


@pytest.fixture
def home(tmp_path: Path, ingested_store: Path) -> Path:
    return new_home(tmp_path, ingested_store)
