"""The front end stays thin: importing it loads no worker and no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "sklearn",
    "scipy",
    "pandas",
    "onnxruntime",
    "numpy",
    "skl2onnx",
    "workers",
    "nbamcp.ml",
    "nbamcp.data",
)


def test_frontend_imports_nothing_heavy() -> None:
    code = (
        "import sys, json; import nbamcp.frontend.app, nbamcp.frontend.gateway, nbamcp.frontend.service; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"the front end pulled in {bad}"
