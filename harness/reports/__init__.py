"""Layer 6, reading runs: the reports (write, markdown, html, table), the verdict
(decision), compare, gate, and the checks on run folders and baselines (runfiles, matching);
a run folder logged to MLflow (tracking, mlflow_fields).

Nothing here imports the runner: a report is rebuilt from a results.json alone.
"""
