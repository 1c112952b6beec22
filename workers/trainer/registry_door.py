"""The registry's door: the trainer's answers about models, and the model store it writes.

The trainer owns the registry (``registry.sqlite`` and ``artifacts/`` in its home);
nobody else opens them. Everything others need travels from here:

- ``nba.models.list`` / ``.card`` / ``.promote`` (queue "trainer"): the registry
  for people (MCP tools); a promotion records actor and reason in the audit trail
  and announces ``nba.models.changed``;
- ``nba.models.serving`` (queue "trainer"): for serving workers, the aliases and
  each aliased version's artifact (sha256, size), feature set and reference
  distributions;
- the model object store (``[data] models_bucket``): every registered artifact and
  its reference sample (the monitor's drift reference), each filed under its sha256
  before its version is announced or served. ``reconcile``
  uploads what the store lacks (a new server, a server that lost its state):
  at start and every ``[data] reconcile_s``.
"""

from __future__ import annotations

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Context
from nbamcp.bus.base import Bus
from nbamcp.bus.objects import ObjectStore, put_content
from nbamcp.errors import NotFound
from nbamcp.messages import (
    AliasMoved,
    ListModelsRequest,
    ModelCard,
    ModelCardRequest,
    ModelInfo,
    ModelList,
    ModelsChanged,
    PromoteRequest,
    ServedVersion,
    ServingModels,
    ServingModelsRequest,
    encode,
)
from nbamcp.ml.registration import offline_metrics
from nbamcp.ml.registry import ModelRegistry, ModelVersion, sample_pointer
from nbamcp.ops.tracing import context_headers

log = structlog.get_logger(__name__)


def served(mv: ModelVersion) -> ServedVersion:
    return ServedVersion(
        name=mv.name,
        version=mv.version,
        model_kind=mv.model_kind,
        artifact_sha256=mv.artifact_sha256,
        artifact_size=mv.artifact_size,
        feature_set_version=mv.feature_set_version,
        feature_names=list(mv.feature_names),
        reference=mv.reference,
        trained_at=mv.trained_at,
    )


class RegistryDoor:
    def __init__(self, bus: Bus, registry: ModelRegistry, objects: ObjectStore) -> None:
        self.bus = bus
        self.registry = registry
        self.objects = objects
        self.uploaded = 0

    # ---- the model store ---------------------------------------------------------------------------
    async def publish_artifact(self, mv: ModelVersion) -> None:
        """File ``mv``'s artifact and its reference sample in the model store (verified from the
        registry first)."""
        data = await self.registry.load_artifact(mv)
        before = await self.objects.info(mv.artifact_sha256)
        await put_content(self.objects, data)
        if before is None:
            self.uploaded += 1
            log.info("trainer.artifact_published", model=mv.name, version=mv.version, bytes=len(data))
        sample = await self.registry.load_sample(mv)
        if sample is not None:
            await put_content(self.objects, sample)

    async def _complete(self, mv: ModelVersion) -> bool:
        """Whether the store holds ``mv``'s artifact and its reference sample."""
        wanted = [(mv.artifact_sha256, mv.artifact_size)]
        pointer = sample_pointer(mv.reference)
        if pointer is not None:
            wanted.append(pointer)
        for sha, size in wanted:
            info = await self.objects.info(sha)
            if info is None or info.size != size:
                return False
        return True

    async def reconcile(self) -> int:
        """Upload every registered artifact (and sample) the store lacks; returns how many versions
        were missing something."""
        missing = 0
        for mv in await self.registry.list_versions():
            if not await self._complete(mv):
                missing += 1
                await self.publish_artifact(mv)
        if missing:
            log.warning("trainer.model_store_reconciled", uploaded=missing, store=self.objects.kind)
        return missing

    async def announce(self, name: str, alias: str, version: int, previous: int | None, rid: str) -> None:
        event = ModelsChanged(name=name, alias=alias, version=version, previous_version=previous)
        await self.bus.publish(ep.MODELS_CHANGED.subject, encode(event), headers=context_headers(rid))

    async def announce_all(self, rid: str) -> None:
        """Every alias as it stands: serving workers that started before the trainer load from it."""
        for name in await self.registry.names():
            for alias, version in (await self.registry.aliases(name)).items():
                await self.announce(name, alias, version, None, rid)

    # ---- request handlers ----------------------------------------------------------------------------
    async def serving(self, req: ServingModelsRequest, ctx: Context) -> ServingModels:
        aliases = await self.registry.aliases(req.name) if req.name in await self.registry.names() else {}
        versions = [served(await self.registry.get(req.name, v)) for v in sorted(set(aliases.values()))]
        return ServingModels(name=req.name, aliases=aliases, versions=versions)

    async def list_models(self, req: ListModelsRequest, ctx: Context) -> ModelList:
        reg = self.registry
        versions = await reg.list_versions(req.name)
        names = await reg.names()
        if req.name is not None and not versions:
            raise NotFound(
                f"no model named {req.name!r}; registered models: {', '.join(names) or '(none)'}",
                details={"models": ",".join(names)},
            )
        aliases = {n: await reg.aliases(n) for n in ([req.name] if req.name else names)}
        models = [
            ModelInfo(
                name=mv.name,
                version=mv.version,
                model_kind=mv.model_kind,
                aliases=[a for a, v in aliases.get(mv.name, {}).items() if v == mv.version],
                feature_set_version=mv.feature_set_version,
                code_version=mv.code_version,
                trained_at=mv.trained_at,
                training_seconds=mv.training_seconds,
                artifact_sha256=mv.artifact_sha256,
                artifact_size=mv.artifact_size,
                data_hash=mv.data_hash,
                fit_seasons=list(mv.params.get("fit_seasons") or []),
                valid=offline_metrics(mv.metrics, mv.params),
                uri=f"nba://models/{mv.name}/{mv.version}",
            )
            for mv in versions
        ]
        return ModelList(models=models, aliases=aliases)

    async def promote(self, req: PromoteRequest, ctx: Context) -> AliasMoved:
        # The artifact is in the store before anyone hears that this version serves.
        await self.publish_artifact(await self.registry.get(req.name, req.version))
        change = await self.registry.set_alias(
            req.name,
            req.alias,
            req.version,
            actor=req.actor.strip() or "unknown (bus request)",
            reason=req.reason.strip() or f"promoted v{req.version} to {req.alias}",
        )
        await self.announce(change.name, change.alias, change.to_version, change.from_version, ctx.request_id)
        log.info(
            "trainer.promoted", name=change.name, alias=change.alias, version=change.to_version,
            previous=change.from_version, actor=change.actor,
        )  # fmt: skip
        return AliasMoved(
            name=change.name,
            alias=change.alias,
            version=change.to_version,
            previous_version=change.from_version,
            actor=change.actor,
            reason=change.reason,
            at=change.at,
        )

    async def model_card(self, req: ModelCardRequest, ctx: Context) -> ModelCard:
        card = await self.registry.model_card(req.name, req.version)
        version = card["version"]
        card["audit"] = [
            msgspec.structs.asdict(c)
            for c in await self.registry.audit(req.name)
            if version in (c.to_version, c.from_version)
        ]
        return ModelCard(card=card)
