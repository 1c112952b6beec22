"""The in-memory twin of the SQLite usage store (no aiosqlite: the front end's tests use it too)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nbamcp.messages import ToolUsage, UsageDelta


@dataclass(slots=True)
class _Sums:
    calls: int = 0
    errors: int = 0
    units: int = 0
    games: int = 0
    seconds: float = 0.0

    def add(self, d: UsageDelta | _Sums) -> None:
        self.calls += d.calls
        self.errors += d.errors
        self.units += d.units
        self.games += d.games
        self.seconds += d.seconds

    def usage(self, tenant: str, tool: str) -> ToolUsage:
        return ToolUsage(
            tenant=tenant, tool=tool, calls=self.calls, errors=self.errors, units=self.units,
            games=self.games, seconds=round(self.seconds, 6),
        )  # fmt: skip


class MemoryUsageStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str], _Sums] = {}
        self.batches: set[str] = set()

    async def add(self, batch_id: str, deltas: Iterable[UsageDelta]) -> bool:
        if batch_id in self.batches:
            return False
        self.batches.add(batch_id)
        for d in deltas:
            self.rows.setdefault((d.hour, d.tenant, d.key_id, d.tool), _Sums()).add(d)
        return True

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]:
        out: dict[tuple[str, str], _Sums] = {}
        for (hour, t, _key, tool), sums in self.rows.items():
            if hour >= since_hour and (tenant is None or t == tenant):
                out.setdefault((t, tool), _Sums()).add(sums)
        return [s.usage(t, tool) for (t, tool), s in sorted(out.items())]

    async def key_units(self, day: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for (hour, _t, key, _tool), sums in self.rows.items():
            if hour.startswith(day + "T"):
                out[key] = out.get(key, 0) + sums.units
        return out

    async def close(self) -> None:
        pass
