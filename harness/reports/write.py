"""Write a run's reports: report.md for pull requests, report.html for people, results.csv for scripts."""

from __future__ import annotations

import os
from pathlib import Path

from harness.reports.html import render_html
from harness.reports.markdown import render_markdown
from harness.reports.table import results_frame
from harness.reports.view import ReportView
from harness.spec.record import Results


def write_reports(out_dir: Path, results: Results) -> None:
    """Render the three reports from a run's results into the run folder, together or not at
    all: a reader never finds a report.md that recommends one arm next to a report.html from
    another state of the run.

    Every file is rendered first, then written to a temporary file beside its target; only when
    all three are on disk are they renamed over the old ones. A rendering or writing failure
    leaves the old reports as they were (and no temporary file behind).
    """
    view = ReportView.of(results, out_dir)  # the verdict and comparisons, computed once
    texts = {
        "report.md": render_markdown(view),
        "report.html": render_html(view),
        "results.csv": results_frame(results).to_csv(index=False),
    }
    _replace_together({out_dir / name: text for name, text in texts.items()})


def _replace_together(files: dict[Path, str]) -> None:
    """Write each text to a temporary file, then rename them all over their targets."""
    temporary: dict[Path, Path] = {}
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            temporary[path] = tmp
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            if path.is_dir():  # a rename over it would fail midway: refuse before any
                raise IsADirectoryError(21, "is a folder, not a file", str(path))
        # A rename within one folder needs no space and replaces its target atomically: past
        # this point all three land; a failure before it leaves every old report in place.
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
