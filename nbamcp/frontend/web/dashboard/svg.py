"""Small SVG charts written as text: a line chart, a bar chart, a calibration diagram.

Server-side and dependency-free on purpose: a figure costs microseconds, the
page needs no script, and every number in a chart is also in the page's text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
W, H = 560, 220
PAD_L, PAD_R, PAD_T, PAD_B = 52, 12, 14, 34


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label; None: no point there


def _frame(body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _axes(y_lo: float, y_hi: float, fmt: str, x_labels: Sequence[str]) -> list[str]:
    y = _scale(y_lo, y_hi, H - PAD_B, PAD_T)
    out = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#888"/>',
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#888"/>']  # fmt: skip
    for i in range(5):
        v = y_lo + (y_hi - y_lo) * i / 4
        yy = y(v)
        out.append(f'<line x1="{PAD_L}" y1="{yy:.1f}" x2="{W - PAD_R}" y2="{yy:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{PAD_L - 6}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">'
            f"{escape(fmt.format(v))}</text>"
        )
    if x_labels:
        step = max(1, len(x_labels) // 6)
        x = _scale(0, max(1, len(x_labels) - 1), PAD_L + 8, W - PAD_R - 8)
        for i in range(0, len(x_labels), step):
            out.append(
                f'<text x="{x(i):.1f}" y="{H - PAD_B + 16}" font-size="10" text-anchor="middle">'
                f"{escape(x_labels[i])}</text>"
            )
    return out


def line_chart(series: Sequence[Series], x_labels: Sequence[str], *, title: str, fmt: str = "{:.3f}") -> str:
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        return _frame(['<text x="20" y="40" font-size="12">no data yet</text>'], title)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 0.1
    lo, hi = lo - pad, hi + pad
    x = _scale(0, max(1, len(x_labels) - 1), PAD_L + 8, W - PAD_R - 8)
    y = _scale(lo, hi, H - PAD_B, PAD_T)
    body = _axes(lo, hi, fmt, x_labels)
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        body += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>' for px, py in pts]
        body.append(
            f'<text x="{PAD_L + 10 + 150 * k}" y="{PAD_T + 10}" font-size="11" fill="{color}">'
            f"{escape(s.name)}</text>"
        )
    return _frame(body, title)


def bar_chart(values: Sequence[float], x_labels: Sequence[str], *, title: str, fmt: str = "{:.0f}") -> str:
    if not values:
        return _frame(['<text x="20" y="40" font-size="12">no data yet</text>'], title)
    hi = max(max(values), 1.0)
    y = _scale(0.0, hi, H - PAD_B, PAD_T)
    body = _axes(0.0, hi, fmt, x_labels)
    slot = (W - PAD_L - PAD_R) / len(values)
    for i, v in enumerate(values):
        top = y(v)
        body.append(
            f'<rect x="{PAD_L + i * slot + 1:.1f}" y="{top:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{H - PAD_B - top:.1f}" fill="{PALETTE[0]}">'
            f"<title>{escape(fmt.format(v))}</title></rect>"
        )
    return _frame(body, title)


def calibration_chart(points: Sequence[tuple[float, float, int]], *, title: str) -> str:
    """Observed home-win share against the mean predicted probability, per bin (area ~ games)."""
    x = _scale(0.0, 1.0, PAD_L, W - PAD_R)
    y = _scale(0.0, 1.0, H - PAD_B, PAD_T)
    body = _axes(0.0, 1.0, "{:.2f}", [f"{i / 10:.1f}" for i in range(11)])
    body.append(
        f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" stroke="#aaa" '
        'stroke-dasharray="4 3"/>'
    )
    if not points:
        body.append('<text x="80" y="40" font-size="12">no realized games yet</text>')
    most = max((n for _, _, n in points), default=1)
    for pred, obs, n in points:
        r = 3 + 7 * (n / most) ** 0.5
        body.append(
            f'<circle cx="{x(pred):.1f}" cy="{y(obs):.1f}" r="{r:.1f}" fill="{PALETTE[0]}" '
            'fill-opacity="0.6">'
            f"<title>predicted {pred:.3f}, observed {obs:.3f}, {n} games</title></circle>"
        )
    return _frame(body, title)
