"""Serving processes load neither scikit-learn, skl2onnx nor onnx (seconds of start-up they never use;
the explainer reads the graph with ``nbamcp.ml.onnx_graph``).

Two checks, each in a fresh interpreter:
- importing each worker's module (the trainer's too: it serves the registry in every
  single-process server, and imports scikit-learn only when a training job runs);
- a real ``nbamcp serve`` with every worker embedded, asked by a real MCP client for
  a prediction from the registry's champion (onnxruntime, the artifact through the
  model store) and for a stats answer; when it exits, the server writes the modules
  it had loaded (an ``atexit`` hook is all that is added to the real entry point).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.serving.conftest import Home, Models, register

TRAINING_ONLY = ("sklearn", "skl2onnx", "onnx", "ml_dtypes")
WORKERS = ("stats", "trainer", "inference", "cache", "predlog", "monitor")  # the default order
# The real entry point, plus one hook that reports what the process imported.
SERVE = (
    "import atexit, json, os, runpy, sys\n"
    "def dump():\n"
    "    with open(os.environ['MODULES_OUT'], 'w') as f:\n"
    "        json.dump(sorted(sys.modules), f)\n"
    "atexit.register(dump)\n"
    "sys.argv = ['nbamcp', 'serve']\n"
    "runpy.run_module('nbamcp.cli', run_name='__main__')\n"
)


def training_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == t or m.startswith(t + ".") for t in TRAINING_ONLY)]


@pytest.mark.parametrize("name", ["stats", "monitor"])
def test_the_worker_starts_without_scipy_stats(name: str) -> None:
    # The first stats answer waits for the stats worker's import alone: scipy.stats was 1-4 s of
    # it, for the anomaly screen's one Poisson tail, which needs it only when results are screened.
    # The monitor's (the drift tests, run when drift is computed) held the GIL for as long while
    # inference and the cache started beside it.
    code = f"import sys, json, workers.{name}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "scipy.stats" not in json.loads(out.stdout)


@pytest.mark.parametrize("name", WORKERS)
def test_importing_a_worker_loads_no_training_library(name: str) -> None:
    code = f"import sys, json, workers.{name}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert training_modules(json.loads(out.stdout)) == []


async def test_a_serving_process_predicts_without_training_libraries(
    home: Home, models: Models, data_dir: Path, tmp_path: Path
) -> None:
    await register(home, models.lr1)
    config = tmp_path / "serve.toml"
    config.write_text(
        f"[workers]\nembedded = {list(WORKERS)!r}\n\n[trainer]\nauto_train = false\n\n"
        '[log]\nlevel = "warning"\n'
    )
    modules = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBAMCP_")}
    env |= {
        "NBAMCP_HOME": str(home.root),
        "NBAMCP_DATA_DIR": str(data_dir),
        "NBAMCP_CONFIG": str(config),
        "MODULES_OUT": str(modules),
    }
    params = StdioServerParameters(command=sys.executable, args=["-c", SERVE], env=env)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    with anyio.fail_after(120):
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            pred = await session.call_tool("predict_game", {"home": "BOS", "away": "LAL", "date": tomorrow})
            assert not pred.is_error, pred.content
            assert pred.structured_content["source"] == "model"
            team = await session.call_tool("team_season", {"team": "BOS", "season": 2022})
            assert not team.is_error, team.content
    loaded = json.loads(modules.read_text())
    assert "onnxruntime" in loaded and "workers.inference" in loaded  # it did serve the model
    assert training_modules(loaded) == []
