"""What a finished training becomes: the registry's next version (champion when asked)
and the job's result message, shared by the trainer worker and ``nbamcp train``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbamcp.messages import CandidateScore, OfflineMetrics, TrainJobResult
from nbamcp.ml.registry import AliasChange, ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from nbamcp.ml.train import TrainResult


def offline_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> OfflineMetrics:
    """The held-out scores a registry version recorded at training time."""
    valid = metrics.get("valid") or {}
    return OfflineMetrics(
        n=valid.get("n"),
        brier=valid.get("brier"),
        log_loss=valid.get("log_loss"),
        accuracy=valid.get("accuracy"),
        cv_log_loss=metrics.get("cv_log_loss"),
        valid_seasons=list(params.get("valid_seasons") or []),
    )


async def register_trained(
    registry: ModelRegistry,
    name: str,
    result: TrainResult,
    *,
    promote: bool | None,
    actor: str,
    reason: str,
    lineage: dict[str, Any] | None = None,
) -> tuple[ModelVersion, AliasChange | None]:
    """Register ``result`` as the next version of ``name``; make it champion when ``promote``
    (None: only when there is no champion yet). Returns the version and the alias change."""
    from nbamcp.ml.train import register_result

    mv = await register_result(registry, name, result, lineage=lineage)
    if promote is None:
        promote = "champion" not in await registry.aliases(name)
    change = None
    if promote:
        change = await registry.set_alias(name, "champion", mv.version, actor=actor, reason=reason)
    return mv, change


async def job_result(
    registry: ModelRegistry, job_id: str, mv: ModelVersion, change: AliasChange | None, result: TrainResult
) -> TrainJobResult:
    aliases = [a for a, v in (await registry.aliases(mv.name)).items() if v == mv.version]
    return TrainJobResult(
        job_id=job_id,
        name=mv.name,
        version=mv.version,
        model_kind=mv.model_kind,
        promoted=change is not None,
        aliases=aliases,
        previous_champion=change.from_version if change is not None else None,
        train_seasons=list(mv.params["train_seasons"]),
        valid_seasons=list(mv.params["valid_seasons"]),
        valid=offline_metrics(mv.metrics, mv.params),
        candidates=[
            CandidateScore(
                name=c.name,
                cv_log_loss=c.cv_log_loss,
                brier=c.valid.brier,
                log_loss=c.valid.log_loss,
                accuracy=c.valid.accuracy,
            )
            for c in result.candidates
        ],
        training_seconds=mv.training_seconds,
        onnx_parity_max_abs_diff=mv.metrics.get("onnx_parity_max_abs_diff"),
        artifact_sha256=mv.artifact_sha256,
        artifact_size=mv.artifact_size,
        data_hash=mv.data_hash,
        uri=f"nba://models/{mv.name}/{mv.version}",
    )
