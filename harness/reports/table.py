"""One row per (task, arm) run, with every metric's value, CI and n and the efficiency figures."""

from __future__ import annotations

import pandas as pd

from harness.spec.record import Results

EFFICIENCY_COLUMNS = (
    "tokens_per_s",
    "items_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "peak_memory_bytes",
    "memory_kind",
    "generated_tokens",
    "params_total",
    "params_trainable",
)


def results_frame(results: Results) -> pd.DataFrame:
    rows = []
    for run in results.runs:
        row = {
            "task": run.task,
            "arm": run.arm,
            "kind": run.kind,
            "status": run.status,
            "reason": run.reason,
            "cached": run.cached if run.has("cached") else None,  # empty for older records
        }
        for name, m in run.metrics.items():
            row[name] = m.value
            row[f"{name}_ci_low"] = m.ci_low
            row[f"{name}_ci_high"] = m.ci_high
            row[f"{name}_n"] = m.n
        eff = run.efficiency
        for col in EFFICIENCY_COLUMNS:
            row[col] = getattr(eff, col)
        row["predict_seconds"] = eff.phase_seconds("predict")
        rows.append(row)
    return pd.DataFrame(rows)
