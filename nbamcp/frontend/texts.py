"""Numbers and counts in the readable side of a result: counts as integers, never "73.0"."""

from __future__ import annotations


def num(v: float | None) -> str:
    """A number as the workers rounded it, integral values without decimals, None as '-'."""
    if v is None:
        return "-"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.6g}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 game', '3 games', '1,230 games'."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"
