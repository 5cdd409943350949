"""Layer 6, reading runs: the reports (write, markdown, html, table), the verdict
(decision), compare, gate, and the checks on run folders and baselines (runfiles, matching).

Nothing here imports the runner: a report is rebuilt from a results.json alone.
"""
