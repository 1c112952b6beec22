"""Row checks shared by the loaders: typed field parsing that fails with a rule and a reason.

A loader parses a row with these helpers; the first failure raises ``RowError``
and the row goes to quarantine with that rule. ``Checks`` collects the counts per
rule (the quality report) and the quarantined rows of one file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from nbamcp.data.ingest.report import QualityIssue

_MAX_EXAMPLES = 3


class RowError(Exception):
    """A row breaks a rule: it is quarantined, never stored."""

    def __init__(self, category: str, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.rule = rule
        self.reason = reason


Row = Mapping[str, str]


def text(row: Row, col: str) -> str:
    v = (row.get(col) or "").strip()
    if not v:
        raise RowError("nulls", "required_null", f"{col} is empty")
    return v


def req_int(row: Row, col: str) -> int:
    v = text(row, col)
    try:
        return int(v)
    except ValueError:
        try:
            f = float(v)
        except ValueError:
            f = float("nan")
        if f.is_integer():
            return int(f)
        raise RowError("types", "not_integer", f"{col}={v!r} is not an integer") from None


def opt_int(row: Row, col: str) -> int | None:
    return req_int(row, col) if (row.get(col) or "").strip() else None


def req_float(row: Row, col: str) -> float:
    v = text(row, col)
    try:
        f = float(v)
    except ValueError:
        raise RowError("types", "not_number", f"{col}={v!r} is not a number") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise RowError("types", "not_number", f"{col}={v!r} is not a finite number")
    return f


def opt_float(row: Row, col: str) -> float | None:
    return req_float(row, col) if (row.get(col) or "").strip() else None


def flag01(row: Row, col: str) -> int:
    v = text(row, col)
    if v not in ("0", "1"):
        raise RowError("types", "not_flag", f"{col}={v!r} must be 0 or 1")
    return int(v)


def iso_date(row: Row, col: str) -> str:
    v = text(row, col)
    try:
        # nba_api writes '2022-10-18T00:00:00' in some layouts.
        return dt.date.fromisoformat(v[:10]).isoformat()
    except ValueError:
        raise RowError("types", "not_date", f"{col}={v!r} is not a YYYY-MM-DD date") from None


def in_range(
    value: float | None,
    lo: float,
    hi: float,
    col: str,
    *,
    rule: str = "out_of_range",
    category: str = "ranges",
) -> None:
    if value is not None and not lo <= value <= hi:
        raise RowError(category, rule, f"{col}={value} is outside [{lo}, {hi}]")


def season_matches_date(season: int, date: str) -> None:
    """A season (end year) runs from September of the year before to October of its year."""
    year, month = int(date[:4]), int(date[5:7])
    ok = (year == season - 1 and month >= 9) or (year == season and month <= 10)
    if not ok:
        raise RowError("integrity", "season_date_mismatch", f"date {date} is not in season {season}")


def not_future(date: str, today: dt.date) -> None:
    if date > today.isoformat():
        raise RowError("impossible", "future_date", f"date {date} is after today ({today.isoformat()})")


class Checks:
    """Counts per (category, rule, severity) and the quarantined rows of one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._counts: dict[tuple[str, str, str], int] = {}
        self._examples: dict[tuple[str, str, str], list[str]] = {}
        # (row_no, rule, reason, raw json)
        self.quarantine: list[tuple[int, str, str, str]] = []

    def _count(self, key: tuple[str, str, str], example: str, n: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + n
        ex = self._examples.setdefault(key, [])
        if example and len(ex) < _MAX_EXAMPLES:
            ex.append(example)

    def reject(self, row_no: int, err: RowError, raw: Mapping[str, str] | list[Any]) -> None:
        self._count((err.category, err.rule, "error"), f"row {row_no}: {err.reason}", 1)
        payload = json.dumps(raw if isinstance(raw, list) else dict(raw), ensure_ascii=False, sort_keys=True)
        self.quarantine.append((row_no, err.rule, err.reason, payload))

    def flag(
        self, category: str, rule: str, example: str = "", *, severity: str = "warning", n: int = 1
    ) -> None:
        if n > 0:
            self._count((category, rule, severity), example, n)

    @property
    def quarantined(self) -> int:
        return len(self.quarantine)

    def issues(self, file: str = "") -> list[QualityIssue]:
        return [
            QualityIssue(cat, rule, sev, n, list(self._examples.get((cat, rule, sev), [])), file)
            for (cat, rule, sev), n in sorted(self._counts.items())
        ]
