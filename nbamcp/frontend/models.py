"""Model admin over MCP: ``train_model``, ``list_models``, ``promote_model`` and the model cards.

Everything goes to the trainer worker as messages (the front end imports no
ML code). ``train_model`` picks the job id itself and subscribes to the job's
progress subject before asking for the job, so no event is missed; each event
becomes an MCP progress notification (0-100). When the MCP request is
cancelled, the tool's task is cancelled: it tells the trainer to cancel the job
(shielded, bounded) and re-raises. If the trainer goes quiet, the tool asks for
the job's status instead of waiting forever.

The card of a version is the resource template ``nba://models/{name}/{version}``
(``version``: a number, ``champion``, ``challenger`` or ``latest``).
"""

from __future__ import annotations

import asyncio
import uuid

import anyio
import msgspec
import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult

from nbamcp import endpoints as ep
from nbamcp.bus.base import Msg
from nbamcp.errors import NbaError, RemoteError, Unavailable
from nbamcp.frontend.arguments import parse_arguments
from nbamcp.frontend.catalog import resource_error
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import READ_ONLY, ToolSpec, admin, tool_result
from nbamcp.log import current_request_id
from nbamcp.messages import (
    AliasMoved,
    ListModelsRequest,
    ModelCardRequest,
    ModelInfo,
    ModelList,
    PromoteRequest,
    TrainCancel,
    TrainJobRequest,
    TrainJobResult,
    TrainJobState,
    TrainProgress,
    TrainStatusRequest,
    decoder_for,
)
from nbamcp.messages.validation import inline_refs

log = structlog.get_logger(__name__)

MODEL_NAME = "game"
IDLE_CHECK_S = 30.0  # no progress for this long: ask the trainer how the job is doing
CONTROL_TIMEOUT_S = 5.0  # status and cancel requests
TERMINAL = ("done", "failed", "cancelled")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def render_trained(r: TrainJobResult) -> str:
    v = r.valid
    lines = [
        f"Trained {r.name} v{r.version} ({r.model_kind}) on seasons "
        f"{r.train_seasons[0]}-{r.train_seasons[-1]}, chosen on {r.valid_seasons[0]}-{r.valid_seasons[-1]} "
        f"in {r.training_seconds:.1f} s.",
        f"Held-out: Brier {_num(v.brier)}, log loss {_num(v.log_loss)}, accuracy {_pct(v.accuracy)} "
        f"({v.n} games).",
        "Candidates: " + ", ".join(f"{c.name} Brier {c.brier:.4f}" for c in r.candidates) + ".",
    ]
    if r.promoted:
        was = f" (was v{r.previous_champion})" if r.previous_champion is not None else ""
        lines.append(f"It is now the champion{was}: predictions use it from now on.")
    else:
        lines.append(f"Not promoted: promote_model(version={r.version}, alias='champion') serves it.")
    lines.append(f"Model card: {r.uri}")
    return "\n".join(lines)


def _model_line(m: ModelInfo) -> str:
    roles = f" [{', '.join(m.aliases)}]" if m.aliases else ""
    seasons = f", fitted on {m.fit_seasons[0]}-{m.fit_seasons[-1]}" if m.fit_seasons else ""
    return (
        f"- {m.name} v{m.version}{roles}: {m.model_kind}{seasons}, held-out Brier {_num(m.valid.brier)}, "
        f"log loss {_num(m.valid.log_loss)}, accuracy {_pct(m.valid.accuracy)}; trained {m.trained_at[:16]}"
    )


def render_models(ml: ModelList) -> str:
    if not ml.models:
        return "No registered models yet: train_model trains one."
    return "\n".join([f"{len(ml.models)} registered model version(s):", *map(_model_line, ml.models)])


class _Progress:
    """The job's progress events, decoded, in arrival order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[TrainProgress] = asyncio.Queue()
        self._decoder = decoder_for(TrainProgress)

    async def __call__(self, msg: Msg) -> None:
        try:
            self.queue.put_nowait(self._decoder.decode(msg.data))
        except msgspec.MsgspecError as exc:
            log.warning("train_model.bad_progress", error=str(exc))


def _final(state: str, result: TrainJobResult | None, code: str, message: str) -> TrainJobResult:
    if state == "done" and result is not None:
        return result
    raise RemoteError(code or "internal", message or f"the training job ended as {state!r}")


async def _job_status(gw: Gateway, job_id: str) -> TrainJobState:
    try:
        return await gw.call(
            ep.TRAIN_CONTROL.at(job_id), TrainStatusRequest(job_id=job_id), timeout_s=CONTROL_TIMEOUT_S
        )
    except Unavailable:
        raise Unavailable(
            f"the trainer stopped answering for job {job_id} before it finished (restarted or gone?); "
            "list_models shows what was registered"
        ) from None


async def _follow(gw: Gateway, job_id: str, progress: _Progress, ctx: Context) -> TrainJobResult:
    """Relay progress until the job's final event (or its status, when events stop coming)."""
    while True:
        try:
            async with asyncio.timeout(IDLE_CHECK_S):
                ev = await progress.queue.get()
        except TimeoutError:
            st = await _job_status(gw, job_id)
            if st.state in TERMINAL:
                err = st.error
                return _final(st.state, st.result, err.code if err else "", err.message if err else "")
            continue
        if ev.state == "done":
            await ctx.report_progress(100.0, 100.0, ev.message)
        if ev.state in TERMINAL:
            err = ev.error
            return _final(ev.state, ev.result, err.code if err else "", err.message if err else "")
        await ctx.report_progress(round(100 * ev.fraction, 2), 100.0, ev.message)


async def _cancel_job(gw: Gateway, job_id: str) -> None:
    """Ask the trainer to stop ``job_id``; runs while the caller is being cancelled."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(CONTROL_TIMEOUT_S):
        try:
            await gw.call(
                ep.TRAIN_CONTROL.at(job_id),
                TrainCancel(job_id=job_id, actor="mcp train_model (request cancelled)"),
                timeout_s=CONTROL_TIMEOUT_S,
            )
            log.info("train_model.cancel_sent", job_id=job_id)
        except NbaError as exc:  # the job may have ended meanwhile
            log.info("train_model.cancel_failed", job_id=job_id, code=exc.code, error=exc.message)


def model_tools(gw: Gateway) -> list[ToolSpec]:
    async def train_model(req: TrainJobRequest, ctx: Context) -> CallToolResult:
        job_id = uuid.uuid4().hex[:16]
        progress = _Progress()
        sub = await gw.bus.subscribe(ep.TRAIN_PROGRESS.at(job_id).subject, progress)
        try:
            promote = f"train_model(promote={str(req.promote).lower()})" if req.promote is not None else ""
            req = msgspec.structs.replace(
                req,
                job_id=job_id,
                name=MODEL_NAME,
                actor="mcp train_model",
                reason=f"{promote}, request {current_request_id() or '?'}" if promote else "",
            )
            accepted = await gw.call(ep.TRAIN_JOBS, req)
            await ctx.report_progress(0.0, 100.0, f"job {accepted.job_id} started")
            try:
                result = await _follow(gw, job_id, progress, ctx)
            except asyncio.CancelledError:
                await _cancel_job(gw, job_id)
                raise
        finally:
            with anyio.CancelScope(shield=True):
                await sub.unsubscribe()
        return tool_result(result, render_trained(result))

    async def list_models(req: ListModelsRequest, ctx: Context) -> CallToolResult:
        ml = await gw.call(ep.MODELS_LIST, req)
        return tool_result(ml, render_models(ml))

    async def promote_model(req: PromoteRequest, ctx: Context) -> CallToolResult:
        why = req.reason.strip() or f"promote_model(version={req.version}, alias={req.alias!r}) over MCP"
        moved = await gw.call(
            ep.MODELS_PROMOTE, msgspec.structs.replace(req, actor="mcp promote_model", reason=why)
        )
        was = f" (was v{moved.previous_version})" if moved.previous_version is not None else ""
        text = (
            f"{moved.name} v{moved.version} is now {moved.alias}{was}. Audit: {moved.actor}, {moved.reason}."
        )
        return tool_result(moved, text)

    return [
        ToolSpec(
            name="train_model",
            title="Train a game model (admin)",
            description="Admin: train a new game model on every game in the store (from seconds to about "
            "a minute). Trains on seasons from train_from, picks the best of logistic regression, gradient "
            "boosting and a calibrated blend on the latest valid_seasons seasons, exports it to ONNX and "
            "registers it as the next version. promote=true makes it the champion that serves "
            "predictions. Sends progress notifications; cancelling the request cancels the job. Every "
            "call registers a new version (not idempotent).",
            input=ep.TRAIN_JOBS.request,
            output=TrainJobResult,
            run=train_model,
            annotations=admin(idempotent=False),
            hidden=frozenset({"job_id", "name", "budget", "actor", "reason"}),
            deadline_s=None,  # long and cancellable, watched by its own idle check
        ),
        ToolSpec(
            name="list_models",
            title="List registered models",
            description="List the registered model versions (all models, or one by name): kind, aliases "
            "(champion / challenger), the seasons each was fitted on, held-out Brier score, log loss and "
            "accuracy, training time and the model card URI.",
            input=ep.MODELS_LIST.request,
            output=ModelList,
            run=list_models,
            annotations=READ_ONLY,
        ),
        ToolSpec(
            name="promote_model",
            title="Promote a model version (admin)",
            description="Admin: point an alias at a registered version: 'champion' serves predictions, "
            "'challenger' is scored beside it in shadow mode. Recorded in the audit trail (who, when, "
            "from, to, why); the inference workers reload at once.",
            input=ep.MODELS_PROMOTE.request,
            output=AliasMoved,
            run=promote_model,
            annotations=admin(idempotent=True, destructive=True),
            hidden=frozenset({"actor"}),
        ),
    ]


def register_model_resources(server: MCPServer, gw: Gateway) -> None:
    card_schema = inline_refs(msgspec.json.schema(ModelCardRequest))

    @server.resource(
        "nba://models/{name}/{version}",
        name="model_card",
        mime_type="application/json",
        title="Model card",
        description="A registered model's card: lineage (data hash, feature set, code version), "
        "parameters, held-out metrics, features, aliases and their audit trail. version: a number, "
        "'champion', 'challenger' or 'latest'; e.g. nba://models/game/champion.",
    )
    async def model_card(name: str, version: str) -> str:
        """A registered model's card: lineage (data hash, feature set, code version), parameters,
        held-out metrics, features, aliases and their audit trail. version: a number, 'champion',
        'challenger' or 'latest'."""
        try:
            # Checked here (a Struct built directly is not): a wrong part is the caller's error.
            request = parse_arguments(ModelCardRequest, card_schema, {"name": name, "version": version})
            card = await gw.call(ep.MODELS_CARD, request)
        except NbaError as exc:
            raise resource_error(exc) from None
        return msgspec.json.encode(card.card).decode()
