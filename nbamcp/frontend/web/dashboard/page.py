"""The dashboard's HTML: nine panels, each a ``<section data-panel="...">`` (tests find them so)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from html import escape

from nbamcp.frontend.texts import count
from nbamcp.frontend.web.dashboard.data import DashboardData
from nbamcp.frontend.web.dashboard.svg import Series, bar_chart, calibration_chart, line_chart
from nbamcp.messages import ModelVersionSummary, RealizedMetrics

REFRESH_S = 30
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .3rem} .sub{color:#666;font-size:.85rem;margin-bottom:1rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:1rem}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem}
h2{font-size:1rem;margin:.1rem 0 .6rem} table{border-collapse:collapse;font-size:.85rem;width:100%}
td,th{border-bottom:1px solid #eee;padding:.2rem .4rem;text-align:left} th{color:#555;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums} .bad{color:#b00020;font-weight:600}
.ok{color:#1b7f3b} .na{color:#888;font-style:italic} .big{font-size:1.4rem;font-weight:600}
form{display:inline} button{font-size:.8rem}
"""


def _f(v: float | None, fmt: str = "{:.4f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def _section(panel: str, title: str, body: str) -> str:
    return f'<section data-panel="{panel}"><h2>{escape(title)}</h2>{body}</section>'


def _table(head: list[str], rows: list[list[str]], num_from: int = 1) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i >= num_from else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{trs}</table>"


def _problem(why: str) -> str:
    return f'<p class="bad">{escape(why)}</p>'


def workers_panel(d: DashboardData) -> str:
    if "workers" in d.problems:
        return _section("workers", "Workers", _problem(d.problems["workers"]))
    rows = [
        [
            escape(r.name),
            escape(r.instance),
            f'<span class="{"ok" if r.status == "ok" else "bad"}">{escape(r.status)}</span>',
            f"{r.uptime_s:.0f} s",
            str(r.handled),
            str(r.failed),
            str(r.inflight),
        ]
        for r in d.workers
    ]
    rows += [[escape(n), "-", '<span class="bad">DOWN</span>', "-", "-", "-", "-"] for n in d.missing]
    up = sum(1 for r in d.workers if r.status == "ok")
    head = f'<p><span class="big">{up}</span> of {len(d.workers) + len(d.missing)} workers ok</p>'
    return _section(
        "workers",
        "Workers",
        head + _table(["worker", "instance", "status", "up", "handled", "failed", "in flight"], rows, 3),
    )


def traffic_panel(d: DashboardData) -> str:
    w = d.window
    minutes = len(w.per_minute_series)
    labels = [f"-{minutes - i}m" for i in range(minutes)]
    body = (
        f'<p><span class="big">{w.per_minute:.2f}</span> calls/min over the last {w.seconds / 60:.0f} min '
        f"({w.calls} calls); latency p50 {_f(w.p50_ms, '{:.1f}')} ms, p95 {_f(w.p95_ms, '{:.1f}')} ms</p>"
        + bar_chart([float(v) for v in w.per_minute_series], labels, title="tool calls per minute")
    )
    if w.by_tool:
        body += _table(["tool", "calls"], [[escape(t), str(n)] for t, n in w.by_tool.items()])
    return _section("traffic", "Request rate and latency", body)


def errors_panel(d: DashboardData) -> str:
    w = d.window
    errors = sum(w.errors.values())
    share = errors / w.calls if w.calls else 0.0
    body = (
        f'<p><span class="big">{errors}</span> errors in {w.calls} calls ({share:.1%}), '
        f"last {w.seconds / 60:.0f} min</p>"
    )
    if w.errors:
        body += _table(["code", "calls"], [[escape(c), str(n)] for c, n in w.errors.items()])
    return _section("errors", "Errors by code", body)


def cache_panel(d: DashboardData) -> str:
    c = d.cache
    if c is None:
        why = d.problems.get("workers", "no cache worker answered the health ping")
        return _section("cache", "Prediction cache", _problem(why))
    ratio = "n/a (no lookups yet)" if c.ratio is None else f"{c.ratio:.1%}"
    body = f'<p><span class="big">{ratio}</span> hit ratio over {c.lookups} lookups</p>' + _table(
        ["level", "count"],
        [
            ["memory (L1) hits", str(c.hits_l1)],
            ["shared (L2) hits", str(c.hits_l2)],
            ["misses", str(c.misses)],
        ],
    )
    return _section("cache", "Prediction cache", body)


def _version_rows(
    role: str, v: ModelVersionSummary | None, realized: dict[int, RealizedMetrics]
) -> list[str]:
    if v is None:
        return [role, "none", "-", "-", "-", "-", "-", "-", "-"]
    o, r = v.offline, realized.get(v.version)
    return [
        role, f"v{v.version} ({escape(v.model_kind)})", _f(o.brier), _f(o.log_loss), _f(o.accuracy, "{:.3f}"),
        str(r.n_games) if r else "0", _f(r.brier) if r else "n/a", _f(r.log_loss) if r else "n/a",
        _f(r.accuracy, "{:.3f}") if r else "n/a",
    ]  # fmt: skip


def models_panel(d: DashboardData) -> str:
    st = d.status
    if st is None:
        return _section("models", "Champion and challenger", _problem(d.problems.get("models", "no answer")))
    rows: list[list[str]] = []
    for m in st.models:
        realized = {r.model_version: r for r in st.realized if r.model_name == m.name and r.source == "model"}
        rows.append(_version_rows(f"{escape(m.name)} champion", m.champion, realized))
        rows.append(_version_rows(f"{escape(m.name)} challenger", m.challenger, realized))
    head = ["role", "version", "offline Brier", "offline log loss", "offline acc.", "realized games",
            "realized Brier", "realized log loss", "realized acc."]  # fmt: skip
    body = (
        f"<p>traffic mode <b>{escape(st.traffic_mode)}</b>; {st.predictions_seen} predictions logged, "
        f"{st.pending} awaiting results; registry {escape(st.registry)}</p>"
    )
    body += _table(head, rows, 2) if rows else '<p class="na">no model registered yet (Elo baseline)</p>'
    return _section("models", "Champion and challenger", body)


def _roles(d: DashboardData) -> dict[int, str]:
    out: dict[int, str] = {}
    for m in d.status.models if d.status else []:
        if m.champion:
            out[m.champion.version] = "champion"
        if m.challenger:
            out.setdefault(m.challenger.version, "challenger")
    return out


def brier_panel(d: DashboardData) -> str:
    if d.report is None:
        return _section("brier", "Realized Brier over time", _problem(d.problems.get("report", "no answer")))
    days = [r for r in d.report.days if r.source == "model"]
    dates = sorted({r.date for r in days})
    roles = _roles(d)
    by_version: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for r in days:
        by_version[(r.model_name, r.model_version)][r.date] = r.brier
        counts[(r.model_name, r.model_version)] += r.n_games
    series = [
        Series(f"{name} v{v} {roles.get(v, '')}".strip(), [pts.get(day) for day in dates])
        for (name, v), pts in sorted(by_version.items())
    ]
    rows = [[escape(s.name), str(counts[k])] for s, k in zip(series, sorted(by_version), strict=True)]
    body = line_chart(series, [day[5:] for day in dates], title="realized Brier per game date")
    body += _table(["model", "games scored"], rows) if rows else '<p class="na">no realized results yet</p>'
    return _section("brier", "Realized Brier over time", body)


def calibration_panel(d: DashboardData) -> str:
    if d.report is None:
        return _section("calibration", "Calibration", _problem(d.problems.get("report", "no answer")))
    roles = _roles(d)
    champion = next((v for v, role in roles.items() if role == "champion"), None)
    bins = [
        b
        for b in d.report.calibration
        if b.source == "model" and (champion is None or b.model_version == champion)
    ]
    points = [(b.mean_predicted, b.observed, b.n_games) for b in bins]
    what = f"champion v{champion}" if champion is not None else "every model version"
    body = calibration_chart(points, title=f"calibration of the {what}")
    rows = [
        [f"{b.lo:.1f}-{b.hi:.1f}", str(b.n_games), f"{b.mean_predicted:.3f}", f"{b.observed:.3f}"]
        for b in bins
    ]
    body += _table(["predicted", "games", "mean predicted", "observed"], rows) if rows else ""
    return _section("calibration", f"Calibration ({what})", body)


def drift_panel(d: DashboardData) -> str:
    """The monitor's latest scheduled drift check: the dataset drift share and each feature's flag."""
    if d.report is None:
        return _section("drift", "Drift", _problem(d.problems.get("report", "no answer")))
    r = d.report.drift
    if r is None:
        return _section(
            "drift", "Drift", '<p class="na">no drift check yet: the monitor checks after results arrive</p>'
        )
    state = "bad" if r.drifted else "ok"
    checked = datetime.fromtimestamp(r.computed_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = (
        f'<p><span class="big {state}">drift share {r.share:.2f}</span> '
        f"({len(r.drifted_features)} of {len(r.tested_features)} features drifted; alarm above "
        f"{r.threshold:g})</p>"
        f"<p>v{r.model_version}, {r.n_current} games "
        f"{escape(r.window_from or '')}..{escape(r.window_to or '')}; "
        f"checked {checked} ({escape(r.trigger)}); prediction drift: "
        f"{'<span class=bad>yes</span>' if r.prediction_drifted else 'no'}; alarms: "
        f"{escape(', '.join(r.alarms)) if r.alarms else 'none'}</p>"
    )
    drifted = set(r.drifted_features)
    rows = [
        [escape(name), '<span class="bad">drift</span>' if name in drifted else '<span class="ok">ok</span>']
        for name in r.tested_features
    ]
    body += (
        _table(["feature", "flag"], rows)
        if rows
        else '<p class="na">too few games in the window to test any feature yet</p>'
    )
    return _section("drift", "Drift", body)


def render(d: DashboardData, *, who: str, logout: bool) -> str:
    panels = [
        workers_panel(d), traffic_panel(d), errors_panel(d), cache_panel(d), models_panel(d), brier_panel(d),
        calibration_panel(d), drift_panel(d), alerts_panel(d),
    ]  # fmt: skip
    out = (
        '<form method="post" action="/dashboard/logout"><button type="submit">log out</button></form>'
        if logout
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}"><title>nbamcp dashboard</title>'
        f"<style>{STYLE}</style></head><body><h1>nbamcp</h1>"
        f'<div class="sub">{escape(d.generated_at)} · {escape(who)} · '
        f"refreshes every {REFRESH_S} s {out}</div>"
        f"<main>{''.join(panels)}</main></body></html>"
    )


def login_page(message: str = "") -> str:
    note = f'<p class="bad">{escape(message)}</p>' if message else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>nbamcp dashboard: log in</title>'
        f"<style>{STYLE}</style></head><body><h1>nbamcp dashboard</h1>{note}"
        '<form method="post" action="/dashboard/login"><label>API key (scope metrics or admin) '
        '<input type="password" name="key" autocomplete="off" size="70" required></label> '
        '<button type="submit">log in</button></form></body></html>'
    )


def alerts_panel(d: DashboardData) -> str:
    """The alerts worker's newest alerts (one per condition per dedupe window)."""
    a = d.alerts
    if a is None:
        return _section("alerts", "Alerts", _problem(d.problems.get("alerts", "no answer")))
    webhook = (
        "webhook off" if a.webhook == "off" else f"webhook {escape(a.webhook)}, {a.undelivered} not delivered"
    )
    head = (
        f"<p>{count(a.total, 'alert')} stored ({webhook}; one per condition per {a.dedupe_window_s:g} s)</p>"
    )
    if not a.alerts:
        return _section("alerts", "Alerts", head + '<p class="ok">no alerts</p>')
    rows = [
        [escape(x.raised_at), _severity(x.severity), escape(x.key), escape(x.source), escape(x.reason),
         str(x.repeats)]
        for x in a.alerts
    ]  # fmt: skip
    table = _table(["raised", "severity", "key", "source", "reason", "repeats"], rows, num_from=5)
    return _section("alerts", "Alerts", head + table)


def _severity(level: str) -> str:
    css = {"critical": "bad", "warning": "bad", "info": "ok"}.get(level, "")
    return f'<span class="{css}">{escape(level)}</span>'
