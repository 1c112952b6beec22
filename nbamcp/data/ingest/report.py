"""What an ingest run reports: per file counts, new game ids, and the quality report."""

from __future__ import annotations

import msgspec

from nbamcp.data.ingest.rules import RULES

# Quality categories, in the order a reader checks them.
CATEGORIES = ("schema", "types", "nulls", "ranges", "duplicates", "integrity", "conflicts", "impossible")
SEVERITIES = ("error", "warning", "info")  # error = row quarantined; warning = kept, flagged


class QualityIssue(msgspec.Struct, frozen=True):
    """One rule that fired, how often, and a few examples. ``file`` is '' in run totals."""

    category: str
    rule: str
    severity: str
    count: int
    examples: list[str] = []
    file: str = ""


class FileReport(msgspec.Struct, frozen=True):
    """One file (or one live response): what was read and what it changed."""

    path: str
    layout: str
    season_type: str | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    new_game_ids: list[str]
    quality: list[QualityIssue]
    elapsed_s: float
    summary: str
    related: dict[str, int] = {}


class SkippedFile(msgspec.Struct, frozen=True):
    path: str
    reason: str


class QualityReport(msgspec.Struct, frozen=True):
    """The run's data-quality report: counts per rule over every file."""

    run_id: int
    created_at: str
    files_checked: int
    rows_read: int
    rows_quarantined: int
    errors: int
    warnings: int
    by_rule: dict[str, int]
    issues: list[QualityIssue]


class IngestReport(msgspec.Struct, frozen=True):
    """The result of ``ingest_paths``; ``new_game_ids`` feeds the later feedback loop."""

    run_id: int
    started_at: str
    elapsed_s: float
    files: list[FileReport]
    skipped: list[SkippedFile]
    new_game_ids: list[str]
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    quality: QualityReport
    summary: str


def build_run_report(run_id: int, started: str, elapsed: float, files: list[FileReport],
            skipped: list[SkippedFile]) -> IngestReport:  # fmt: skip
    by_rule: dict[str, int] = dict.fromkeys(RULES, 0)
    merged: dict[tuple[str, str, str], list[QualityIssue]] = {}
    for f in files:
        for issue in f.quality:
            by_rule[issue.rule] = by_rule.get(issue.rule, 0) + issue.count
            merged.setdefault((issue.category, issue.rule, issue.severity), []).append(issue)
    issues = [
        QualityIssue(cat, rule, sev, sum(i.count for i in group), [e for i in group for e in i.examples][:3])
        for (cat, rule, sev), group in sorted(merged.items())
    ]
    quality = QualityReport(
        run_id=run_id, created_at=started, files_checked=len(files),
        rows_read=sum(f.rows_read for f in files), rows_quarantined=sum(f.quarantined for f in files),
        errors=sum(i.count for i in issues if i.severity == "error"),
        warnings=sum(i.count for i in issues if i.severity == "warning"),
        by_rule=by_rule, issues=[i for f in files for i in f.quality],
    )  # fmt: skip
    new_ids = [g for f in files for g in f.new_game_ids]
    totals = {
        k: sum(getattr(f, k) for f in files)
        for k in ("rows_read", "inserted", "updated", "unchanged", "quarantined")
    }
    summary = (
        f"{len(files)} files, {totals['rows_read']} rows in {elapsed:.2f}s: added {totals['inserted']} "
        f"({len(new_ids)} new games), {totals['updated']} updated, {totals['unchanged']} unchanged, "
        f"{totals['quarantined']} quarantined; {len(skipped)} files skipped"
    )
    return IngestReport(
        run_id=run_id, started_at=started, elapsed_s=round(elapsed, 4), files=files, skipped=skipped,
        new_game_ids=new_ids, quality=quality, summary=summary, **totals,
    )  # fmt: skip
