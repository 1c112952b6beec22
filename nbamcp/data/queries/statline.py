"""A player's stat line (one season-team, one season, or a career) in NBA abbreviations.

``per`` scales the counting stats: "game" (per game; ``min`` is minutes per
game), "total" (season totals) or "per36" (per 36 minutes; ``min`` stays per
game). Percentages and advanced rates are never scaled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbamcp.messages import StatLine

COUNTING = (
    "pts", "reb", "oreb", "dreb", "ast", "stl", "blk", "tov", "pf",
    "fgm", "fga", "fg3m", "fg3a", "ftm", "fta",
)  # fmt: skip
PCTS = ("fg_pct", "fg3_pct", "ft_pct", "efg_pct", "ts_pct")
# Advanced: rates (never summed) and totals (summed over a career).
ADV_RATES = ("per", "usg_pct", "ws_per48", "bpm", "obpm", "dbpm")
ADV_TOTALS = ("ws", "ows", "dws", "vorp")
# The stat names tools accept ("per" is the PER rating), declared with the request Structs.
# Lower is better for these.
LOWER_BETTER = frozenset({"tov", "pf"})


def _scale(total: float | None, gp: int | None, minutes: float | None, per: str) -> float | None:
    if total is None:
        return None
    if per == "total":
        return float(total)
    if per == "game":
        return round(total / gp, 1) if gp else None
    return round(total * 36.0 / minutes, 1) if minutes else None


def _r(v: Any, digits: int) -> float | None:
    return None if v is None else round(float(v), digits)


def stat_line(row: Mapping[str, Any], per: str, *, team_name: str | None = None) -> StatLine:
    """A StatLine from a ``player_seasons``-shaped mapping of totals."""
    gp, minutes = row.get("gp"), row.get("min")
    if per == "total":
        min_out = _r(minutes, 0)
    else:
        min_out = round(minutes / gp, 1) if (minutes is not None and gp) else None
    scaled = {c: _scale(row.get(c), gp, minutes, per) for c in COUNTING}
    return StatLine(
        season=row.get("season"), team=row.get("team_code") or "", franchise=row.get("franchise_id"),
        team_name=team_name, age=row.get("age"), per=per, gp=gp, gs=row.get("gs"), min=min_out,
        **scaled,
        fg_pct=_r(row.get("fg_pct"), 3), fg3_pct=_r(row.get("fg3_pct"), 3), ft_pct=_r(row.get("ft_pct"), 3),
        efg_pct=_r(row.get("efg_pct"), 3), ts_pct=_r(row.get("ts_pct"), 3), per_rating=_r(row.get("per"), 1),
        usg_pct=_r(row.get("usg_pct"), 1), ws=_r(row.get("ws"), 1), ws_per48=_r(row.get("ws_per48"), 3),
        bpm=_r(row.get("bpm"), 1), vorp=_r(row.get("vorp"), 1),
    )  # fmt: skip


def sum_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Career (or multi-season) totals; percentages recomputed from the summed makes and tries,
    rates (PER, USG%, BPM) averaged weighted by minutes."""
    rows = list(rows)
    out: dict[str, Any] = {}
    for c in ("gp", "gs", "min", *COUNTING, *ADV_TOTALS):
        vals = [r.get(c) for r in rows if r.get(c) is not None]
        out[c] = sum(vals) if vals else None

    def ratio(a: str, b: str, k: float = 1.0) -> float | None:
        return round(out[a] / (k * out[b]), 3) if out.get(a) is not None and out.get(b) else None

    out["fg_pct"], out["fg3_pct"], out["ft_pct"] = (
        ratio("fgm", "fga"),
        ratio("fg3m", "fg3a"),
        ratio("ftm", "fta"),
    )
    if out.get("fga"):
        out["efg_pct"] = round((out["fgm"] + 0.5 * out["fg3m"]) / out["fga"], 3)
        out["ts_pct"] = round(out["pts"] / (2 * (out["fga"] + 0.44 * (out["fta"] or 0))), 3)
    if out.get("ws") is not None and out.get("min"):
        out["ws_per48"] = round(out["ws"] * 48.0 / out["min"], 3)
    # Rates over several seasons: weighted by minutes (Basketball-Reference's career PER is close to this).
    for c in ("per", "usg_pct", "bpm", "obpm", "dbpm"):
        pairs = [(r[c], r["min"]) for r in rows if r.get(c) is not None and r.get("min")]
        mins = sum(m for _, m in pairs)
        out[c] = round(sum(v * m for v, m in pairs) / mins, 1) if mins else None
    return out


def stat_value(line: StatLine, stat: str) -> float | None:
    """A stat of a line by its public name ("per" is the PER rating)."""
    return getattr(line, "per_rating" if stat == "per" else stat)
