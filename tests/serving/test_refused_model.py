"""A refused model is not served silently: health, ``model_status`` and every prediction say so.

The registry's champion has other bytes under its sha256 in the model store (tampered, or a
writer that died half way): the inference worker refuses it on start and answers from the Elo
baseline. Before, it said ``ok`` (the actor's start overwrote the degraded status), the
predictions came back with ``degraded: false`` and ``model_status`` listed the refused version
as champion with nothing else. Now health is degraded with the reason, ``model_status`` says
what really serves, and the predictions carry ``degraded: true`` and the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from nbamcp.bus.base import Bus
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.health import HealthRequest, health_tools
from nbamcp.frontend.status import status_tools
from nbamcp.messages import GameQuery, MonitorStatusRequest
from nbamcp.serving.client import PredictClient
from tests.serving.conftest import Home, Models, make_inference, promote, register, running, serving
from workers.monitor import MonitorWorker

WAIT_S = 20.0


async def _tool(spec: Any, request: Any) -> dict[str, Any]:
    result = await spec.run(request, None)
    return dict(result.structured_content)


async def test_a_refused_champion_is_reported_everywhere_and_predictions_say_degraded(
    bus: Bus, home: Home, models: Models
) -> None:
    await register(home, models.lr1)
    worker = await make_inference(bus, home)
    monitor = MonitorWorker(await home.context(bus, home.config()))
    gw = Gateway(bus, timeout_s=WAIT_S, expected_workers=["inference", "monitor", "stats", "trainer"])
    client = PredictClient(gw.call)
    (health,) = health_tools(gw, bus_url="memory://", timeout_s=WAIT_S)
    (status,) = status_tools(gw, health_timeout_s=WAIT_S)
    async with serving(bus, home, monitor):
        # The trainer published v1; other bytes now sit under its sha256 in the model store.
        store = await worker.ctx.stores.objects(worker.config.data.models_bucket)
        await store.put(hashlib.sha256(models.lr1.onnx_bytes).hexdigest(), models.lr2.onnx_bytes)
        async with running(worker):
            assert worker.refused.startswith("integrity")
            report = worker.health()
            assert report.status == "degraded", "a refused champion must not read as ok"
            assert "refused" in report.detail["degraded"] and report.detail["serving"] == "elo-baseline"

            out = await client.predict([GameQuery(home="BOS", away="LAL", date="2023-04-05")])
            (p,) = out.predictions
            assert p.source == "baseline" and out.degraded
            assert any("refused" in n and "elo-baseline serves instead" in n for n in out.notes), out.notes

            h = await _tool(health, HealthRequest())
            assert h["status"] == "degraded"
            assert any(r.startswith("inference: the registry's champion was refused") for r in h["reasons"])

            st = await _tool(status, MonitorStatusRequest())
            assert st["models"][0]["champion"]["version"] == 1  # what the registry says...
            assert st["serving"] == "elo-baseline" and st["degraded"] is True  # ...and what serves
            assert "integrity" in st["degraded_reason"]

            # A good champion clears it all: promote v2 (its artifact is intact).
            await register(home, models.lr2, alias=None)
            changed = worker.models_changed
            await promote(bus, 2)
            async with asyncio.timeout(WAIT_S):
                await changed.wait()
            assert worker.refused == "" and worker.health().status == "ok"
            out = await client.predict([GameQuery(home="BOS", away="LAL", date="2023-04-06")])
            assert not out.degraded and out.predictions[0].model_version == 2
            st = await _tool(status, MonitorStatusRequest())
            assert st["serving"] == "game v2" and st["degraded"] is False
