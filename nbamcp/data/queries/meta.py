"""Resource data: the franchise list (nba://teams) and the latest data-quality report."""

from __future__ import annotations

import msgspec

from nbamcp.data.divisions import place
from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.ingest.report import QualityReport
from nbamcp.data.store import Store
from nbamcp.errors import NotFound
from nbamcp.messages import EraInfo, FranchiseInfo, FranchiseList


def list_franchises(season: int = 2024) -> FranchiseList:
    """Every franchise (30 active, then defunct), with its eras and codes."""
    out = []
    for f in sorted(FRANCHISES.values(), key=lambda f: (not f.active, f.id)):
        cd = place(f.id, season) if f.active else None
        out.append(
            FranchiseInfo(
                f.id,
                f.name,
                f.active,
                f.first_season,
                f.last_season,
                cd[0] if cd else None,
                cd[1] if cd else None,
                list(f.codes),
                [EraInfo(e.first, e.last, e.name, e.league, list(e.codes)) for e in f.eras],
            )
        )
    note = (
        "Seasons are end years (2023 = 2022-23). The 1988-2002 Charlotte Hornets history belongs to CHA "
        "(NBA official); New Orleans (NOP) starts in 2002-03. ABA seasons are kept as ABA eras."
    )
    return FranchiseList(out, note)


async def latest_quality_report(store: Store) -> QualityReport:
    row = await store.fetchone(
        "SELECT quality FROM ingest_runs WHERE quality IS NOT NULL ORDER BY run_id DESC LIMIT 1"
    )
    if row is None:
        raise NotFound("no ingest run has finished yet: ingest the data first (nbamcp ingest)")
    return msgspec.json.decode(row[0], type=QualityReport)
