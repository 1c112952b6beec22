"""The ``retraining_status`` tool: what the automated retraining loop saw and decided.

Asks the trainer on ``nba.train.retraining`` and shapes its reply: the structured content
is the trainer's ``RetrainingStatus``; the text lists triggers, jobs, challengers, the
gate's decisions with their numbers, the A/B arms' comparison (traffic "ab"), and the audit
trail of promotions.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import READ_ONLY, ToolSpec, tool_result
from nbamcp.messages import RetrainingStatus, RetrainingStatusRequest

SHOWN = 5  # lines per section in the text (the structured content has them all)


def render_retraining(st: RetrainingStatus) -> str:
    s = st.settings
    aliases = ", ".join(f"{a} v{v}" for a, v in sorted(st.aliases.items())) or "no aliases yet"
    lines = [
        f"Model {st.model_name!r}: {aliases}. {st.new_results} new results since the latest training.",
        f"Triggers: drift alarms, new results (every {s.get('min_new_results')}), schedule "
        f"(every {s.get('schedule_s')} s, 0 = off). Gate: at least {s.get('gate_min_games')} realized "
        f"games, alpha {s.get('gate_alpha')}: {s.get('gate_test')}.",
    ]
    lines.append(f"Triggers seen ({len(st.triggers)} shown):" if st.triggers else "No triggers yet.")
    lines += [
        f"- {t.received_at[:19]} {t.kind} ({t.source or '?'}): {t.reason} -> {t.outcome} {t.job_id or ''}"
        for t in st.triggers[:SHOWN]
    ]
    lines.append("Jobs:" if st.jobs else "No retraining jobs yet.")
    for j in st.jobs[:SHOWN]:
        made = f", registered v{j.version}" if j.version is not None else ""
        err = f", {j.error}" if j.error and j.state != "done" else ""
        lines.append(
            f"- {j.job_id}: {j.state} after {j.attempts} attempt(s), {j.triggers} trigger(s), "
            f"{j.kind}{made}{err}"
        )
    if st.waiting is not None:
        w = st.waiting
        lines.append(
            f"Gate: challenger v{w.challenger} vs champion v{w.champion}: {w.n_games} of {w.needed} "
            "realized games so far."
        )
    if st.ab is not None:
        lines.append(f"A/B arms: {st.ab.summary}.")
    lines.append("Gate decisions:" if st.decisions else "No gate decisions yet.")
    lines += [f"- {d.at[:19]} {d.decision}: {d.reason}" for d in st.decisions[:SHOWN]]
    lines.append("Alias changes (audit trail):" if st.audit else "No alias changes yet.")
    for a in st.audit[:SHOWN]:
        was = f"v{a.from_version}" if a.from_version is not None else "none"
        lines.append(f"- {a.at[:19]} {a.alias} {was} -> v{a.to_version} by {a.actor}: {a.reason}")
    return "\n".join(lines)


def retraining_tools(gw: Gateway) -> list[ToolSpec]:
    async def retraining_status(req: RetrainingStatusRequest, ctx: Context) -> CallToolResult:
        st = await gw.call(ep.RETRAINING_STATUS, req)
        return tool_result(st, render_retraining(st))

    return [
        ToolSpec(
            name="retraining_status",
            title="Retraining status",
            description="Show the automated retraining loop: the triggers seen (drift and concept-drift "
            "alarms, new results, schedule) with their reasons, the retraining jobs and their state, the "
            "challengers they registered with their lineage, the promotion gate's decisions with the "
            "paired test's numbers, in ab traffic the two arms compared on realized games (each arm's "
            "served log loss, the other model on the same games, Welch's and the paired t-test), and the "
            "audit trail of every alias change (promotions, rollbacks).",
            input=ep.RETRAINING_STATUS.request,
            output=RetrainingStatus,
            run=retraining_status,
            annotations=READ_ONLY,
        )
    ]
