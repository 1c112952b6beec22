"""The ``drift_report`` and ``calibration_report`` tools: the monitor's drift checks and calibration.

Both ask the monitor worker (``nba.monitor.drift`` / ``nba.monitor.calibration``) and shape its
reply: the structured content is the monitor's report, the text a short reading of it, and the
chart (drawn by the monitor, PNG) an image block.
"""

from __future__ import annotations

import base64

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ContentBlock, ImageContent

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.tooling import ToolSpec, tool_result
from nbamcp.messages import (
    CalibrationReport,
    CalibrationReportRequest,
    DriftReport,
    DriftReportRequest,
    FeatureDrift,
)


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _png(data: bytes) -> list[ContentBlock]:
    return (
        [ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type="image/png")]
        if data
        else []
    )


def _feature_line(f: FeatureDrift) -> str:
    if f.test is None:
        return f"- {f.name}: not tested ({f.note})"
    if f.p_value is not None:
        value = f"p={f.p_value:.3g}"
    elif f.statistic is not None:
        value = f"{f.statistic:.3f} (> {f.threshold} drifts)"
    else:  # only the missing share could be tested
        value = f"({f.note})"
    flag = "DRIFT" if f.drifted else "ok"
    calendar = " [calendar: matched, not counted]" if not f.counted else ""
    ref, cur = f.reference, f.current
    means = f"mean {_num(ref.mean, 3)} -> {_num(cur.mean, 3)}"
    return f"- {f.name}: {flag} by {f.test} {value}; {means}, PSI {_num(f.psi, 3)}{calendar}"


def render_drift(r: DriftReport) -> str:
    lines = [
        f"Drift of {r.model_name} v{r.model_version} ({r.feature_set}) over {r.window} "
        f"({r.n_current} games, {r.window_from}..{r.window_to}) against {r.n_reference} reference rows "
        f"of seasons {min(r.reference_seasons, default=0)}-{max(r.reference_seasons, default=0)} "
        f"matched to the window's stages of the season.",
        f"Dataset: {r.n_drifted} of {r.n_tested} features drifted, share {r.share:.2f} "
        f"(drift above {r.threshold}): {'DRIFT' if r.drifted else 'no drift'}.",
    ]
    if r.prediction is not None:
        lines.append("Prediction " + _feature_line(r.prediction)[2:])
    p = r.performance
    lines.append(
        f"Expected Brier (from the probabilities alone) {_num(p.expected_brier)} over "
        f"{p.n_predictions} games; "
        f"on the {p.n_realized} with results: realized {_num(p.realized_brier)} vs expected "
        f"{_num(p.expected_brier_realized)}, ECE {_num(p.ece)}."
    )
    c = r.concept
    lines.append(
        f"Concept drift (Page-Hinkley on {c.losses_seen} realized per-game Brier): statistic "
        f"{c.statistic:.3f} of {c.threshold}, {'ALARM' if c.alarm else 'no alarm'}"
        + (f"; detections at {', '.join(c.detections[-5:])}" if c.detections else "")
        + "."
    )
    alarms = ", ".join(a.condition for a in r.alarms) or "none"
    lines.append(f"Alarms after the latest scheduled check: {alarms}.")
    lines.append("Per feature:")
    lines += [_feature_line(f) for f in r.features]
    return "\n".join(lines)


def render_calibration(r: CalibrationReport) -> str:
    since = f" since {r.since}" if r.since else ""
    lines = [
        f"Calibration of {r.model_name} v{r.model_version}{since}: {r.n_games} realized games "
        f"({r.first_game}..{r.last_game}), home teams won {_num(r.base_rate, 3)}.",
        f"ECE {_num(r.ece)}, worst bin gap {_num(r.mce)}; Brier realized {_num(r.brier)} vs expected "
        f"{_num(r.expected_brier)} (gap {_num(r.brier_gap)}).",
    ]
    for a in r.arms:
        who = "answered" if a.arm == "answered" else "scored in shadow beside another version's answer"
        lines.append(
            f"Games it {who}: {a.n_games}, Brier {_num(a.brier)} (expected {_num(a.expected_brier)}), "
            f"ECE {_num(a.ece)}."
        )
    lines.append("predicted | games | mean predicted | observed")
    lines += [
        f"{b.lo:.1f}-{b.hi:.1f} | {b.n} | {_num(b.mean_predicted, 3)} | {_num(b.observed, 3)}"
        for b in r.bins
        if b.n
    ]
    return "\n".join(lines)


def drift_tools(gw: Gateway) -> list[ToolSpec]:
    async def drift_report(req: DriftReportRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.MONITOR_DRIFT, req)
        return tool_result(r.report, render_drift(r.report), _png(r.png))

    async def calibration_report(req: CalibrationReportRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.MONITOR_CALIBRATION, req)
        return tool_result(r.report, render_calibration(r.report), _png(r.png))

    return [
        ToolSpec(
            name="drift_report",
            title="Drift report",
            description="Whether the games the model is asked about still look like the games it was "
            "trained on: per feature the test chosen by the window's size (KS / chi-square p < 0.05 under "
            "1,000 games, normed Wasserstein / Jensen-Shannon > 0.1 above), its p-value or distance, PSI, "
            "the drift flag and reference vs current summaries; the dataset drift share; drift of the "
            "predicted probabilities; the expected Brier (label-free) beside the realized one; "
            "Page-Hinkley on realized losses; the monitor's alarms; a PNG chart. Window: the latest "
            "window_predictions games and/or window_days days (omit both for the monitor's own window).",
            input=DriftReportRequest,
            output=DriftReport,
            run=drift_report,
        ),
        ToolSpec(
            name="calibration_report",
            title="Calibration report",
            description="How well a model version's probabilities match what happened, on its realized "
            "games (since a date, when given): reliability table in 10 bins, expected calibration error, "
            "realized Brier vs the Brier its probabilities expected, and a PNG reliability diagram; when "
            "some of its games were scored in shadow (shadow, canary, ab traffic), the games it answered "
            "and the others apart (the A/B arms). "
            "Omit model_version for the serving champion.",
            input=CalibrationReportRequest,
            output=CalibrationReport,
            run=calibration_report,
        ),
    ]
