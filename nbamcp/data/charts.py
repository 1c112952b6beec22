"""Charts as PNG bytes, drawn with Pillow: a line chart in a few milliseconds.

matplotlib took ~1 s to import and 110-270 ms of CPU per figure for this chart;
drawing the same lines with Pillow's ``ImageDraw`` into a palette image and
writing the PNG at a low zlib level takes ~2 ms (``bench/stats.py`` measures
it). ``thin`` picks the points a chart of this width can show, with the
Largest-Triangle-Three-Buckets method (tsdownsample), which keeps the shape:
peaks, troughs, the first and the last point.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nbamcp import fonts
from nbamcp.errors import InvalidInput

MAX_POINTS = 20_000
WIDTH, HEIGHT = 800, 360
# About one point per 4 pixels of the plot's width: more would draw over itself.
CHART_POINTS = 180
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, WIDTH - 16, 34, HEIGHT - 30
# Palette entries: background, line, reference line, grid, text.
_PALETTE = [255, 255, 255, 29, 66, 138, 153, 153, 153, 228, 228, 228, 34, 34, 34]
_BG, _LINE, _REF, _GRID, _TEXT = range(5)
REFERENCE = 1500.0  # the league-average rating


def thin(xs: Sequence[float], ys: Sequence[float], n: int = CHART_POINTS) -> list[int]:
    """Indices of at most ``n`` points that keep the series' shape (all of them when there are fewer)."""
    if len(xs) <= n:
        return list(range(len(xs)))
    from tsdownsample import LTTBDownsampler

    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    return [int(i) for i in LTTBDownsampler().downsample(x, y, n_out=n)]


def _xy(points: Sequence[Any]) -> tuple[list[dt.date], list[float]]:
    xs, ys = [], []
    for p in points:
        date, rating = (p.date, p.rating) if hasattr(p, "rating") else (p[0], p[1])
        xs.append(dt.date.fromisoformat(str(date)[:10]))
        ys.append(float(rating))
    return xs, ys


def _step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks over ``span``."""
    raw = max(span, 1e-9) / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def render_rating_chart(points: Sequence[Any], title: str) -> bytes:
    """A line chart of rating over time; ``points`` have ``.date`` and ``.rating`` (or are pairs)."""
    if not points:
        raise InvalidInput("no rating points to draw")
    if len(points) > MAX_POINTS:
        raise InvalidInput(f"too many points to draw ({len(points)}; at most {MAX_POINTS})")
    from PIL import Image, ImageDraw

    dates, ys = _xy(points)
    xs = [d.toordinal() for d in dates]
    keep = thin(xs, ys)
    xs, ys = [xs[i] for i in keep], [ys[i] for i in keep]
    step = _step(max(max(ys), REFERENCE) - min(min(ys), REFERENCE))
    lo = math.floor(min(min(ys), REFERENCE) / step) * step
    hi = max(math.ceil(max(max(ys), REFERENCE) / step) * step, lo + step)
    x0, x1 = xs[0], max(xs[-1], xs[0] + 1)

    def px(x: float) -> float:
        return _LEFT + (_RIGHT - _LEFT) * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * (y - lo) / (hi - lo)

    image = Image.new("P", (WIDTH, HEIGHT), _BG)
    image.putpalette(_PALETTE)
    draw = ImageDraw.Draw(image)
    small = fonts.font(11)
    tick = lo
    while tick <= hi + step / 2:
        y = py(tick)
        draw.line([(_LEFT, y), (_RIGHT, y)], fill=_GRID)
        draw.text((_LEFT - 6, y), f"{tick:.0f}", fill=_TEXT, font=small, anchor="rm")
        tick += step
    _x_labels(draw, dates[0], dates[-1], px, small)
    ref = py(REFERENCE)
    for dash in range(_LEFT, _RIGHT, 8):  # dashed: Pillow draws no dashes itself
        draw.line([(dash, ref), (min(dash + 4, _RIGHT), ref)], fill=_REF)
    line = [(px(x), py(y)) for x, y in zip(xs, ys, strict=True)]
    if len(line) == 1:  # one game: a dot, a line needs two
        (cx, cy), r = line[0], 3
        draw.ellipse([(cx - r, cy - r), (cx + r, cy + r)], fill=_LINE)
    draw.line(line, fill=_LINE, width=2, joint="curve")
    draw.rectangle([(_LEFT, _TOP), (_RIGHT, _BOTTOM)], outline=_REF)
    draw.text((WIDTH / 2, 8), title, fill=_TEXT, font=fonts.font(14), anchor="mt")
    draw.text((12, _TOP - 20), "rating", fill=_TEXT, font=small)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # level 6 costs 3x the time for ~10% fewer bytes
    return out.getvalue()


def _x_labels(draw: Any, first: dt.date, last: dt.date, px: Any, font: Any) -> None:
    """Year ticks at January 1st, at most ~10 labelled."""
    years = list(range(first.year + (first > dt.date(first.year, 1, 1)), last.year + 1))
    every = max(1, math.ceil(len(years) / 10))
    for year in years[::every]:
        x = px(dt.date(year, 1, 1).toordinal())
        draw.line([(x, _BOTTOM), (x, _BOTTOM + 4)], fill=_REF)
        draw.text((x, _BOTTOM + 6), str(year), fill=_TEXT, font=font, anchor="mt")
