"""The dashboard's drift panel from the monitor's summary of its latest scheduled check."""

from __future__ import annotations

from nbamcp.frontend.recent import RecentCalls
from nbamcp.frontend.web.dashboard.data import DashboardData
from nbamcp.frontend.web.dashboard.page import drift_panel
from nbamcp.messages import DriftSummary, MonitorReport


def data(drift: DriftSummary | None) -> DashboardData:
    return DashboardData(
        generated_at="now",
        window=RecentCalls().window(900.0),
        report=MonitorReport(days=[], calibration=[], drift=drift),
    )


def test_the_panel_shows_the_share_and_each_feature_flag() -> None:
    summary = DriftSummary(
        model_version=3, computed_at=1_700_000_000.0, trigger="results", window_from="2023-01-02",
        window_to="2023-01-30", n_current=400, share=0.6, threshold=0.5, drifted=True,
        drifted_features=["elo_diff", "home_form_margin"],
        tested_features=["elo_diff", "home_form_margin", "home_rest"],
        prediction_drifted=False, alarms=["dataset_drift"],
    )  # fmt: skip
    html = drift_panel(data(summary))
    assert 'data-panel="drift"' in html and "drift share 0.60" in html and "2 of 3 features drifted" in html
    assert "v3, 400 games 2023-01-02..2023-01-30" in html and "alarms: dataset_drift" in html
    assert '<td>elo_diff</td><td class="num"><span class="bad">drift</span>' in html
    assert '<td>home_rest</td><td class="num"><span class="ok">ok</span>' in html
    assert "not available" not in html


def test_before_any_check_the_panel_says_so() -> None:
    assert "no drift check yet" in drift_panel(data(None))
    d = data(None)
    d.report = None
    d.problems["report"] = "unavailable: no worker answers nba.monitor.report"
    assert "unavailable: no worker answers" in drift_panel(d)
