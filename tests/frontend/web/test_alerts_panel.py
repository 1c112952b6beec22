"""The dashboard's alerts panel from the alerts worker's list (the newest, one per condition)."""

from __future__ import annotations

from nbamcp.frontend.recent import RecentCalls
from nbamcp.frontend.web.dashboard.data import DashboardData
from nbamcp.frontend.web.dashboard.page import alerts_panel
from nbamcp.messages import AlertList, StoredAlert


def data(alerts: AlertList | None) -> DashboardData:
    return DashboardData(generated_at="now", window=RecentCalls().window(900.0), alerts=alerts)


def stored(alert_id: int, key: str, severity: str, reason: str) -> StoredAlert:
    return StoredAlert(
        alert_id=alert_id, key=key, severity=severity, source="stats", reason=reason,
        raised_at="2023-04-01T10:00:00Z", numbers={"held": 3.0}, subjects=["g1"], repeats=2,
        last_seen="2023-04-01T10:40:00Z", delivered=False,
    )  # fmt: skip


def test_the_panel_lists_the_newest_alerts_escaped() -> None:
    listed = AlertList(
        alerts=[stored(2, "anomaly.mass_upsets", "critical", "7 upsets <in> a week"),
                stored(1, "drift.dataset_drift", "warning", "features drifted")],
        total=2, dedupe_window_s=3600.0, webhook="hooks.example", undelivered=1,
    )  # fmt: skip
    html = alerts_panel(data(listed))
    assert 'data-panel="alerts"' in html and "2 alerts stored (webhook hooks.example, 1 not delivered" in html
    assert '<span class="bad">critical</span>' in html and "anomaly.mass_upsets" in html
    assert "7 upsets &lt;in&gt; a week" in html and '<td class="num">2</td>' in html
    assert html.index("anomaly.mass_upsets") < html.index("drift.dataset_drift")


def test_no_alerts_and_no_alerts_worker_say_so() -> None:
    empty = AlertList(alerts=[], total=0, dedupe_window_s=3600.0, webhook="off", undelivered=0)
    assert "0 alerts stored (webhook off" in alerts_panel(data(empty)) and "no alerts" in alerts_panel(
        data(empty)
    )
    d = data(None)
    d.problems["alerts"] = "unavailable: no worker answers nba.alerts.list"
    assert "unavailable: no worker answers nba.alerts.list" in alerts_panel(d)
