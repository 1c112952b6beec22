"""The NBA data layer: franchise table, SQLite store, ingestion, live nba_api, stats queries.

Plain async functions over a :class:`~nbamcp.data.store.Store`; no bus, no MCP.
The stats worker owns one store and calls these.
"""

from nbamcp.data.franchises import FRANCHISES, Franchise, resolve_team
from nbamcp.data.ingest import IngestReport, QualityReport, ingest_paths
from nbamcp.data.store import Store, open_store

__all__ = [
    "FRANCHISES",
    "Franchise",
    "IngestReport",
    "QualityReport",
    "Store",
    "ingest_paths",
    "open_store",
    "resolve_team",
]
