"""`make demo-knowledge` from a cold cache, twice: how long it takes, and whether the knowledge
figures repeat.

What is measured
----------------
The knowledge demo's command (the Makefile's KNOWLEDGE_ARGS, repeated below as `DEMO_ARGS`: the
shipped policy-QA suite, arms base, rag, oracle_context and lora, 40 eval items, all three
drills, the update drill retraining lora) is run `--runs` times (default 2), each as its own
process with its own empty cache folder, so each pays what a new user pays: the GGUF
conversion, every cell, the SliCK labels, the counterfactual passages and the update drill with
its retraining. Wall time is the whole command.

Repeatability: every figure of the runs' `knowledge` sections (SliCK labels and per-category
scores, counterfactual outcomes and rates, update answers and rates) and every cell's metrics
are compared value by value with the first run's; what may differ between two honest runs is
left out: seconds, and whether a part came from the cache. `same_figures` lists the paths that
differ (empty: the runs agree exactly).

Run it on a quiet machine (two torch processes on 2 cores slow each other several times)::

    .venv/bin/python benchmarks/bench_knowledge.py
    .venv/bin/python benchmarks/bench_knowledge.py --runs 1 --limit 12   # smoke

Results go to `benchmarks/results/bench_knowledge.json` (`--out` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import ROOT, machine_info, write_json  # noqa: E402

SUITE = "suites/insurance-policy-qa.yaml"
DEMO_ARGS = [
    "--arms", "base,rag,oracle_context,lora",
    "--set", "retention=null",
    "--knowledge",
    "--set", "knowledge.update.counterfactual=10",
    "--set", "knowledge.update.retrain=true",
]  # fmt: skip
# What two honest runs may differ in: how long things took, and what came from a cache.
VARIABLE = {"seconds", "cached", "reused", "reused_items", "labelled_items", "key"}


def run_once(limit: int, folder: Path) -> dict:
    cmd = [
        str(ROOT / ".venv" / "bin" / "adaptbench"), "run", SUITE, "--out", str(folder / "out"),
        "--no-progress", "--limit", str(limit), *DEMO_ARGS,
    ]  # fmt: skip
    env = os.environ | {"ADAPTBENCH_CACHE": str(folder / "cache")}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    (folder / "log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        sys.exit(f"run failed (rc {proc.returncode}); its log: {folder / 'log'}")
    return {"seconds": round(seconds, 1), "results": folder / "out" / "results.json"}


def figures(results: Path) -> dict:
    """The run's knowledge section and its cells' metrics, without what may vary."""
    payload = json.loads(results.read_text(encoding="utf-8"))
    cells = {f"{r['task']} / {r['arm']}": r.get("metrics") for r in payload["runs"]}
    return _strip({"knowledge": payload.get("knowledge"), "cells": cells})


def _strip(node):
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in VARIABLE}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/bench_knowledge.json"
    )
    args = parser.parse_args()
    info = machine_info()
    runs, first = [], None
    with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
        for n in range(args.runs):
            folder = Path(tmp) / f"run{n + 1}"
            folder.mkdir()
            done = run_once(args.limit, folder)
            found = figures(done["results"])
            first = first or found
            diff = differences(first, found)
            runs.append({"seconds": done["seconds"], "differences_from_run1": diff[:50]})
            print(f"run {n + 1}: {done['seconds']:.0f} s, {len(diff)} figure(s) differ from run 1")
    write_json(
        args.out,
        {
            "what": "make demo-knowledge from a cold cache, repeated; knowledge figures compared",
            "command": ["adaptbench", "run", SUITE, "--limit", str(args.limit), *DEMO_ARGS],
            "machine": info,
            "runs": runs,
            "same_figures": all(not r["differences_from_run1"] for r in runs),
            "figures_of_run1": first,
        },
    )


if __name__ == "__main__":
    main()
