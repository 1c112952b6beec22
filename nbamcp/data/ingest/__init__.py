"""Ingestion: source files (and live nba_api responses) into the store, checked and reported."""

from nbamcp.data.ingest.layouts import LAYOUTS
from nbamcp.data.ingest.report import FileReport, IngestReport, QualityIssue, QualityReport, SkippedFile
from nbamcp.data.ingest.runner import Table, ingest_paths, ingest_tables

__all__ = [
    "LAYOUTS",
    "FileReport",
    "IngestReport",
    "QualityIssue",
    "QualityReport",
    "SkippedFile",
    "Table",
    "ingest_paths",
    "ingest_tables",
]
