"""Write a run's reports: report.md for pull requests, report.html for people, results.csv for scripts."""

from __future__ import annotations

from pathlib import Path

from harness.base.files import write_text_atomic
from harness.reports.html import render_html
from harness.reports.markdown import render_markdown
from harness.reports.table import results_frame


def write_reports(out_dir: Path, payload: dict) -> None:
    """Render the three reports from a results payload into the run folder, each atomically."""
    write_text_atomic(out_dir / "report.md", render_markdown(payload, out_dir))
    write_text_atomic(out_dir / "report.html", render_html(payload, out_dir))
    frame = results_frame(payload)
    write_text_atomic(out_dir / "results.csv", frame.to_csv(index=False))
