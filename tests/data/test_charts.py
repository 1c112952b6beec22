"""Charts: thinning keeps a series' shape; the PNG is a real image of the expected size."""

from __future__ import annotations

import datetime as dt
import io
import math

import pytest
from PIL import Image

from nbamcp.data.charts import CHART_POINTS, HEIGHT, MAX_POINTS, WIDTH, render_rating_chart, thin
from nbamcp.errors import InvalidInput


def series(n: int) -> tuple[list[float], list[float]]:
    xs = [float(i) for i in range(n)]
    return xs, [1500 + 200 * math.sin(i / 40) + (i % 7) for i in range(n)]


def test_thin_keeps_every_point_of_a_short_series() -> None:
    xs, ys = series(CHART_POINTS)
    assert thin(xs, ys) == list(range(CHART_POINTS))


def test_thin_keeps_the_shape_of_a_long_one() -> None:
    xs, ys = series(5000)
    keep = thin(xs, ys)
    assert len(keep) == CHART_POINTS and keep == sorted(set(keep))
    assert keep[0] == 0 and keep[-1] == 4999
    picked = [ys[i] for i in keep]
    # Largest-Triangle-Three-Buckets keeps the peaks and troughs within a bucket's width.
    assert max(ys) - max(picked) < 2 and min(picked) - min(ys) < 2


def points(n: int) -> list[tuple[str, float]]:
    start = dt.date(2018, 10, 16)
    _, ys = series(n)
    return [((start + dt.timedelta(days=i)).isoformat(), y) for i, y in enumerate(ys)]


@pytest.mark.parametrize("n", [1, 2, 400])
def test_render_draws_a_png_of_the_chart_size(n: int) -> None:
    png = render_rating_chart(points(n), "Brooklyn Nets: rating 2019-2023")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    # The line's colour is there: something was drawn besides the background and axes.
    assert (29, 66, 138) in {c for _, c in image.convert("RGB").getcolors(WIDTH * HEIGHT)}


def test_render_refuses_nothing_and_too_much() -> None:
    with pytest.raises(InvalidInput, match="no rating points"):
        render_rating_chart([], "empty")
    with pytest.raises(InvalidInput, match="too many points"):
        render_rating_chart([("2020-01-01", 1500.0)] * (MAX_POINTS + 1), "huge")
