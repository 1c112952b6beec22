"""The models an inference worker serves: champion and challenger, loaded from the registry.

Loading reads the registry (SQLite), fetches the artifact through
``ModelRegistry.load_artifact`` (sha256 and size verified), opens one
onnxruntime session per model and picks its explainer, all before anything is
swapped in: a reload never leaves a half-loaded model in service. A version
already loaded is reused as it is (versions are immutable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog

from nbamcp.errors import IntegrityError, NbaError
from nbamcp.ml.features import FEATURE_NAMES, FEATURE_SET_VERSION
from nbamcp.ml.onnx_export import OnnxModel
from nbamcp.ml.registry import ModelRegistry, ModelVersion
from nbamcp.serving.explain import Explainer, explainer_for

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServingModel:
    name: str
    version: int
    kind: str
    sha256: str
    onnx: OnnxModel
    explainer: Explainer

    def describe(self) -> str:
        return f"{self.name} v{self.version} ({self.kind}, {self.explainer.method} explanations)"


@dataclass(frozen=True, slots=True)
class ModelSet:
    """What serves right now; replaced as a whole on reload (one attribute swap)."""

    champion: ServingModel | None = None
    challenger: ServingModel | None = None
    challenger_error: str = ""  # a challenger that failed to load is skipped, not fatal

    def loaded(self) -> list[ServingModel]:
        return [m for m in (self.champion, self.challenger) if m is not None]


def check_feature_set(mv: ModelVersion) -> None:
    if mv.feature_set_version != FEATURE_SET_VERSION or list(mv.feature_names) != FEATURE_NAMES:
        raise IntegrityError(
            f"model {mv.name} v{mv.version} was trained on feature set {mv.feature_set_version!r} "
            f"({len(mv.feature_names)} features); this worker computes {FEATURE_SET_VERSION!r} "
            f"({len(FEATURE_NAMES)} features): retrain it or run a matching nbamcp",
            details={"model": mv.name, "version": str(mv.version)},
        )


async def load_version(registry: ModelRegistry, mv: ModelVersion) -> ServingModel:
    check_feature_set(mv)
    data = await registry.load_artifact(mv)  # IntegrityError when tampered, truncated or missing
    onnx_model = await asyncio.to_thread(OnnxModel.from_bytes, data)
    explainer = await asyncio.to_thread(explainer_for, data, onnx_model, mv.reference, list(mv.feature_names))
    log.info(
        "model.loaded", model=mv.name, version=mv.version, kind=mv.model_kind, explainer=explainer.method
    )
    return ServingModel(mv.name, mv.version, mv.model_kind, mv.artifact_sha256, onnx_model, explainer)


async def load_model_set(
    registry_path: Path,
    artifacts_dir: Path,
    name: str,
    *,
    current: ModelSet = ModelSet(),
    challenger: bool = True,
) -> ModelSet:
    """The champion (and challenger) of ``name`` now; ModelSet() when the registry has none."""
    if not await anyio.Path(registry_path).exists():
        return ModelSet()
    reused = {(m.name, m.version): m for m in current.loaded()}

    async def load(version: int) -> ServingModel:
        model = reused.get((name, version))
        return model if model is not None else await load_version(registry, await registry.get(name, version))

    registry = await ModelRegistry.open(registry_path, artifacts_dir)
    try:
        aliases = await registry.aliases(name)
        champion_v, challenger_v = aliases.get("champion"), aliases.get("challenger")
        champion = None if champion_v is None else await load(champion_v)
        chall, error = None, ""
        if challenger and challenger_v is not None and challenger_v != champion_v:
            try:
                chall = await load(challenger_v)
            except NbaError as exc:
                # A broken challenger must not stop the champion from serving.
                error = f"challenger v{challenger_v}: {exc.code}: {exc.message}"
                log.error("model.challenger_failed", model=name, version=challenger_v, error=exc.message)
    finally:
        await registry.close()
    return ModelSet(champion, chall, error)


async def alias_versions(registry_path: Path, artifacts_dir: Path, name: str) -> dict[str, int]:
    """The aliases of ``name`` (version numbers only: nothing is loaded)."""
    if not await anyio.Path(registry_path).exists():
        return {}
    registry = await ModelRegistry.open(registry_path, artifacts_dir)
    try:
        return await registry.aliases(name)
    finally:
        await registry.close()
