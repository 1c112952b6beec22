"""The ``model_status`` tool: which models serve, how they scored offline, how they do live.

Asks the monitor worker on ``nba.monitor.status`` and shapes its reply: the
structured content is the monitor's ``MonitorStatus``, with what the inference
worker really serves beside the registry's aliases (``serving``, ``degraded``
and why: a champion whose artifact was refused does not serve); the text reads
as a short report a fan can follow.
"""

from __future__ import annotations

import msgspec
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import ToolSpec, tool_result
from nbamcp.messages import ModelVersionSummary, MonitorStatus, MonitorStatusRequest, RealizedMetrics


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _version_line(role: str, v: ModelVersionSummary | None) -> str:
    if v is None:
        return f"  {role}: none"
    o = v.offline
    seasons = f" on seasons {min(o.valid_seasons)}-{max(o.valid_seasons)}" if o.valid_seasons else ""
    games = f", {o.n} games" if o.n else ""
    what = f"{v.model_kind}, features {v.feature_set_version}, trained {v.trained_at[:10]}"
    return (
        f"  {role}: v{v.version} ({what})"
        f" - offline{seasons}: Brier {_num(o.brier)}, log loss {_num(o.log_loss)}, "
        f"accuracy {_pct(o.accuracy)}{games}"
    )


def _realized_line(r: RealizedMetrics) -> str:
    who = "rating baseline" if r.source == "baseline" else f"{r.model_name} v{r.model_version}"
    role = f" ({r.role})" if r.role else ""
    repeats = f", {r.n_predictions} predictions" if r.n_predictions != r.n_games else ""
    return (
        f"- {who}{role}: {r.n_games} games{repeats} ({r.first_game}..{r.last_game}): "
        f"accuracy {_pct(r.accuracy)}, Brier {r.brier:.4f}, log loss {r.log_loss:.4f}"
    )


def render_status(st: MonitorStatus) -> str:
    """The readable side of a ``MonitorStatus``."""
    lines: list[str] = []
    if not st.models:
        why = "no model registry yet" if st.registry == "missing" else st.registry
        lines.append(f"No registered models ({why}).")
    for m in st.models:
        lines.append(f"Model {m.name!r}:")
        lines.append(_version_line("champion", m.champion))
        lines.append(_version_line("challenger", m.challenger))
    if st.degraded:
        lines.append(f"DEGRADED: {st.degraded_reason}.")
    if st.serving:
        lines.append(f"Serving now: {st.serving}.")
    lines.append(f"Traffic mode: {st.traffic_mode}.")
    if st.realized:
        lines.append("Realized on games whose results arrived after the prediction:")
        lines += [_realized_line(r) for r in st.realized]
    else:
        lines.append(
            "No realized results yet: predictions are scored once their games' results are ingested."
        )
    last = f"; latest results {st.last_results}" if st.last_results else ""
    lines.append(
        f"{st.predictions_seen} predictions logged, {st.pending} awaiting results; "
        f"{st.results_events} results updates received{last}."
    )
    return "\n".join(lines)


async def with_serving(gw: Gateway, st: MonitorStatus, timeout_s: float) -> MonitorStatus:
    """``st`` with what the inference worker really serves: the registry (the monitor's view)
    names the champion, but a refused artifact means something else answers."""
    report = await gw.health_of("inference", timeout_s)
    if report is None:
        return msgspec.structs.replace(
            st, serving="", degraded=True, degraded_reason="no inference worker answered"
        )
    reason = report.detail.get("degraded", "") if report.detail.get("refused") else ""
    return msgspec.structs.replace(
        st, serving=report.detail.get("serving", ""), degraded=bool(reason), degraded_reason=reason
    )


def status_tools(gw: Gateway, *, health_timeout_s: float = 2.0) -> list[ToolSpec]:
    async def model_status(req: MonitorStatusRequest, ctx: Context) -> CallToolResult:
        st = await with_serving(gw, await gw.call(ep.MONITOR_STATUS, req), health_timeout_s)
        return tool_result(st, render_status(st))

    return [
        ToolSpec(
            name="model_status",
            title="Model status",
            description="Show the champion and challenger models with their offline validation metrics, "
            "the traffic mode, and realized accuracy, Brier score and log loss per model version on games "
            "whose results arrived after they were predicted.",
            input=ep.MONITOR_STATUS.request,
            output=MonitorStatus,
            run=model_status,
        )
    ]
