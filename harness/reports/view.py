"""What a run's reports conclude, computed once per write: the verdict per task and every arm
paired with the baseline. report.md and report.html both take them from this view (and format
with harness.reports.formats), so they cannot disagree on a recommendation or a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.reports.compare import Comparison, versus_base
from harness.reports.decision import decide
from harness.reports.verdict import Verdict
from harness.spec.record import Results


@dataclass
class ReportView:
    results: Results
    run_dir: Path
    decisions: list[Verdict]
    """Per task, the verdict (harness.reports.decision)."""
    versus_base: list[Comparison]
    """Every contender paired with the baseline arm on the same items."""

    @classmethod
    def of(cls, results: Results, run_dir: Path) -> ReportView:
        run_dir = Path(run_dir)
        return cls(
            results=results,
            run_dir=run_dir,
            decisions=decide(results, run_dir),
            versus_base=versus_base(results, run_dir),
        )
