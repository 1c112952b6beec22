"""The models an inference worker serves: champion and challenger, from the trainer's registry.

Loading asks the model source which versions serve (the trainer's answer),
fetches each artifact (sha256 and size verified), opens one onnxruntime session
per model and picks its explainer, all before anything is swapped in: a reload
never leaves a half-loaded model in service. A version already loaded is reused
as it is (versions are immutable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from nbamcp.errors import IntegrityError, NbaError
from nbamcp.messages import ServedVersion
from nbamcp.ml.features import FEATURE_SET_VERSION, feature_names
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.serving.explain import Explainer, explainer_for
from nbamcp.serving.model_source import ModelSource

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServingModel:
    name: str
    version: int
    kind: str
    sha256: str
    onnx: OnnxModel
    explainer: Explainer
    feature_names: list[str]

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


def check_feature_set(v: ServedVersion, served: str = FEATURE_SET_VERSION) -> None:
    """IntegrityError unless ``v`` was trained on ``served``, the feature set this worker computes."""
    names = feature_names(served)
    if v.feature_set_version != served or list(v.feature_names) != names:
        raise IntegrityError(
            f"model {v.name} v{v.version} was trained on feature set {v.feature_set_version!r} "
            f"({len(v.feature_names)} features); this worker computes {served!r} "
            f"({len(names)} features, [features] served): retrain it or serve its feature set",
            details={"model": v.name, "version": str(v.version)},
        )


async def load_version(
    source: ModelSource, v: ServedVersion, served: str = FEATURE_SET_VERSION
) -> ServingModel:
    check_feature_set(v, served)
    data = await source.artifact(v)  # IntegrityError when tampered, truncated or missing
    onnx_model = await asyncio.to_thread(OnnxModel.from_bytes, data)
    explainer = await asyncio.to_thread(explainer_for, data, onnx_model, v.reference, list(v.feature_names))
    log.info("model.loaded", model=v.name, version=v.version, kind=v.model_kind, explainer=explainer.method)
    return ServingModel(
        v.name, v.version, v.model_kind, v.artifact_sha256, onnx_model, explainer, list(v.feature_names)
    )


async def load_model_set(
    source: ModelSource,
    name: str,
    *,
    current: ModelSet = ModelSet(),
    challenger: bool = True,
    served: str = FEATURE_SET_VERSION,
) -> ModelSet:
    """The champion (and challenger) of ``name`` now; ModelSet() when nothing serves yet."""
    serving = await source.serving(name)
    reused = {(m.name, m.version): m for m in current.loaded()}

    async def load(v: ServedVersion) -> ServingModel:
        model = reused.get((v.name, v.version))
        return model if model is not None else await load_version(source, v, served)

    champion_v, challenger_v = serving.version("champion"), serving.version("challenger")
    champion = None if champion_v is None else await load(champion_v)
    chall, error = None, ""
    if challenger and challenger_v is not None and challenger_v.version != serving.aliases.get("champion"):
        try:
            chall = await load(challenger_v)
        except NbaError as exc:
            # A broken challenger must not stop the champion from serving.
            error = f"challenger v{challenger_v.version}: {exc.code}: {exc.message}"
            log.error("model.challenger_failed", model=name, version=challenger_v.version, error=exc.message)
    return ModelSet(champion, chall, error)
