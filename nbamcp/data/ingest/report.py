"""What an ingest run reports: per file counts, new game ids, and the quality report."""

from __future__ import annotations

from nbamcp.data.ingest.rules import RULES
from nbamcp.messages import FileReport, IngestReport, QualityIssue, QualityReport, SkippedFile

# Quality categories, in the order a reader checks them.
CATEGORIES = ("schema", "types", "nulls", "ranges", "duplicates", "integrity", "conflicts", "impossible")
SEVERITIES = ("error", "warning", "info")  # error = row quarantined; warning = kept, flagged


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
