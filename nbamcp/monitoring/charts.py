"""The drift and reliability charts as PNG bytes, drawn with Pillow (milliseconds, no matplotlib).

- ``drift_chart``: one horizontal bar per feature, its evidence scaled so that 1 is the drift
  threshold (a test's -log10 p over -log10 0.05; a distance over its threshold), capped at 4;
  drifted bars red, calendar columns (matched, not counted) grey;
- ``reliability_chart``: observed home-win rate against the mean prediction per bin, the diagonal
  of perfect calibration, dots sized by the bin's games.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from nbamcp import fonts

WIDTH = 800
_PALETTE = [255, 255, 255, 29, 66, 138, 214, 39, 40, 170, 170, 170, 228, 228, 228, 34, 34, 34]
_BG, _OK, _DRIFT, _MUTED, _GRID, _TEXT = range(6)
CAP = 4.0  # bars end here (4x the threshold is drift whatever the exact number)


def evidence(test: str | None, statistic: float | None, p_value: float | None, threshold: float) -> float:
    """How far a column is from its drift threshold, on one scale (1 = at the threshold)."""
    if test is None:
        return 0.0
    if p_value is not None:
        return min(CAP, -math.log10(max(p_value, 1e-300)) / -math.log10(threshold))
    return min(CAP, (statistic or 0.0) / threshold)


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def drift_chart(rows: Sequence[tuple[str, float, bool, bool]], title: str) -> bytes:
    """``rows``: (name, evidence, drifted, counted) per column."""
    from PIL import Image, ImageDraw

    left, right, top, bar = 190, WIDTH - 24, 40, 16
    height = top + bar * max(len(rows), 1) + 40
    image = Image.new("P", (WIDTH, height), _BG)
    image.putpalette(_PALETTE)
    draw = ImageDraw.Draw(image)
    small = fonts.font(11)

    def px(v: float) -> float:
        return left + (right - left) * v / CAP

    for tick in range(int(CAP) + 1):
        x = px(tick)
        draw.line([(x, top - 4), (x, height - 34)], fill=_TEXT if tick == 1 else _GRID)
        draw.text(
            (x, height - 30), "threshold" if tick == 1 else f"{tick}x", fill=_TEXT, font=small, anchor="mt"
        )
    for i, (name, value, drifted, counted) in enumerate(rows):
        y = top + i * bar
        colour = _DRIFT if drifted else _OK if counted else _MUTED
        draw.rectangle([(left, y + 2), (max(px(value), left + 1), y + bar - 3)], fill=colour)
        draw.text((left - 6, y + bar / 2), name, fill=_TEXT, font=small, anchor="rm")
    draw.text((WIDTH / 2, 10), title, fill=_TEXT, font=fonts.font(14), anchor="mt")
    return _png(image)


def reliability_chart(bins: Sequence[tuple[float, float, int]], title: str) -> bytes:
    """``bins``: (mean predicted, observed, games) of each non-empty bin."""
    from PIL import Image, ImageDraw

    size, pad = 420, 48
    image = Image.new("P", (size + pad + 16, size + pad + 40), _BG)
    image.putpalette(_PALETTE)
    draw = ImageDraw.Draw(image)
    small = fonts.font(11)
    x0, y0, x1, y1 = pad, 36, pad + size, 36 + size

    def pt(p: float, o: float) -> tuple[float, float]:
        return x0 + (x1 - x0) * p, y1 - (y1 - y0) * o

    for i in range(11):
        v = i / 10
        draw.line([pt(v, 0), pt(v, 1)], fill=_GRID)
        draw.line([pt(0, v), pt(1, v)], fill=_GRID)
        if i % 2 == 0:
            draw.text((pt(v, 0)[0], y1 + 4), f"{v:.1f}", fill=_TEXT, font=small, anchor="mt")
            draw.text((x0 - 4, pt(0, v)[1]), f"{v:.1f}", fill=_TEXT, font=small, anchor="rm")
    draw.line([pt(0, 0), pt(1, 1)], fill=_MUTED, width=1)
    most = max((n for _, _, n in bins), default=1)
    line = [pt(p, o) for p, o, _ in bins]
    if len(line) > 1:
        draw.line(line, fill=_OK, width=2)
    for (cx, cy), (_, _, n) in zip(line, bins, strict=True):
        r = 3 + 6 * math.sqrt(n / most)
        draw.ellipse([(cx - r, cy - r), (cx + r, cy + r)], fill=_OK)
    draw.rectangle([(x0, y0), (x1, y1)], outline=_MUTED)
    draw.text(((x0 + x1) / 2, y1 + 20), "predicted P(home win)", fill=_TEXT, font=small, anchor="mt")
    draw.text((8, 20), "observed", fill=_TEXT, font=small)
    draw.text(((x0 + x1) / 2, 8), title, fill=_TEXT, font=fonts.font(14), anchor="mt")
    return _png(image)
