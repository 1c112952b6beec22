"""The font the PNG charts write with: Pillow's default at a size, loaded once per size.

Shared by the stats charts (``nbamcp.data.charts``) and the monitor's (``nbamcp.monitoring.charts``);
it imports Pillow only when a chart is drawn.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # a Pillow built without FreeType: its bitmap font
        return ImageFont.load_default()
