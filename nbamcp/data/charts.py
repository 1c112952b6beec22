"""Charts as PNG bytes (matplotlib, Agg backend, no global pyplot state)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from nbamcp.errors import InvalidInput

MAX_POINTS = 20_000


def _xy(points: Sequence[Any]) -> tuple[list[dt.date], list[float]]:
    xs, ys = [], []
    for p in points:
        date, rating = (p.date, p.rating) if hasattr(p, "rating") else (p[0], p[1])
        xs.append(dt.date.fromisoformat(str(date)[:10]))
        ys.append(float(rating))
    return xs, ys


def render_rating_chart(points: Sequence[Any], title: str) -> bytes:
    """A line chart of rating over time; ``points`` have ``.date`` and ``.rating`` (or are pairs)."""
    if not points:
        raise InvalidInput("no rating points to draw")
    if len(points) > MAX_POINTS:
        raise InvalidInput(f"too many points to draw ({len(points)}; at most {MAX_POINTS})")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs, ys = _xy(points)
    fig = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.array(xs, dtype="datetime64[D]"), ys, linewidth=1.2, color="#1d428a")
    ax.axhline(1500, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_title(title)
    ax.set_ylabel("rating")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
