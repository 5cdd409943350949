"""What the retention probes add to a suite's wall time, read from a real run's records.

The forgetting figure needs the shipped probes (lm-eval, batched log-likelihoods and short
generations) scored on the base model once and on every weight-changing arm. This script takes a
finished run folder (`adaptbench run ... --out DIR` of a suite with `retention:`) and splits its
recorded wall seconds into:

* retention: each arm's `retention` phase (probing the arm) plus the base model's probing, counted
  once even where it came from the cache (its seconds are stored with it);
* everything else: every other phase of every cell (prepare = training, predict = evaluation)
  plus loading the model.

overhead = retention / everything else, the share the probes add to what the suite would take
without them. Target: at most 0.25 on CPU. The figures come from the run itself, so run the suite
on a quiet machine. Example::

    .venv/bin/adaptbench run suites/insurance-policy-qa-forgetting.yaml --out /tmp/forget
    .venv/bin/python benchmarks/bench_retention.py /tmp/forget

Results go to `benchmarks/results/bench_retention.json` (`--out` to change).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from _common import ROOT, machine_info, write_json

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_retention.json"


def split_seconds(payload: dict) -> dict:
    per_cell, other, retention, base = [], 0.0, 0.0, None
    for run in payload["runs"]:
        phases = (run.get("efficiency") or {}).get("phases") or {}
        cell_retention = phases.get("retention", {}).get("seconds", 0.0)
        cell_other = sum(p["seconds"] for name, p in phases.items() if name != "retention")
        forgetting = run.get("forgetting") or {}
        if forgetting.get("base_seconds") is not None:
            base = forgetting["base_seconds"]
            if not forgetting.get("base_cached"):
                cell_retention -= base  # counted once below, whether cached or not
        retention += cell_retention
        other += cell_other
        per_cell.append(
            {
                "arm": run["arm"],
                "task": run["task"],
                "status": run["status"],
                "retention_s": round(cell_retention, 2),
                "other_s": round(cell_other, 2),
            }
        )
    load = payload.get("environment", {}).get("model_load_seconds") or 0.0
    other += load
    if base is not None:
        retention += base
    return {
        "retention_s": round(retention, 2),
        "base_probe_s": base,
        "other_s": round(other, 2),
        "model_load_s": load,
        "overhead": round(retention / other, 4) if other else None,
        "share_of_total": round(retention / (retention + other), 4) if other else None,
        "cells": per_cell,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a finished run folder (has results.json)")
    p.add_argument("--target", type=float, default=0.25, help="largest acceptable overhead")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    results = args.run_dir / "results.json"
    if not results.is_file():
        p.error(f"{results}: not found (pass the --out folder of a finished `adaptbench run`)")
    payload = json.loads(results.read_text())
    if not (payload.get("suite_spec") or {}).get("retention"):
        p.error(f"{results}: the suite has no `retention:` block, so there is nothing to measure")
    if any(r.get("cached") for r in payload["runs"]):
        print(
            "note: some cells were reused from an earlier run; their recorded seconds are from it"
        )
    split = split_seconds(payload)
    for c in split["cells"]:
        print(
            f"{c['task']}/{c['arm']:<14} retention {c['retention_s']:>8.1f} s   rest {c['other_s']:>8.1f} s"
        )
    print(
        f"base model probes (once): {split['base_probe_s']} s; model load {split['model_load_s']} s"
    )
    print(
        f"retention {split['retention_s']:.1f} s vs the rest {split['other_s']:.1f} s: "
        f"overhead {split['overhead']:.1%} (target <= {args.target:.0%})"
    )
    record = {
        "benchmark": "retention_overhead",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(args.run_dir),
        "suite": payload["suite"],
        "limit": payload.get("limit"),
        "target": args.target,
        "meets_target": split["overhead"] is not None and split["overhead"] <= args.target,
        **split,
        "run_environment": payload.get("environment"),
        "machine": machine_info(),
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
