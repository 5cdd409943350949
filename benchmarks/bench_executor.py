"""The same units through the local executor and through Ray, and what Ray's scaling would give.

What is compared
----------------
One `adaptbench run` of the shipped policy-QA suite (`--arms`, default base, few_shot,
retrieval_only, lora; `--limit` eval items, default 40; retention probes at `--retention-limit`
items), done twice as a user would, each as its own process:

* local     `--executor local`: every unit in one process, torch on all cores;
* ray-1cpu  `--executor ray --cpus-per-unit 1`: a new local Ray instance, so on a 2-core machine
            two workers of one torch thread each run units side by side (the lora cell waits
            for its training unit);
* ray       `--executor ray` with its defaults: each CPU unit takes all cores, as a local run
            does, so units run one at a time here and the numbers must match local's.

Fairness: each run starts from its own empty cache folder except for the converted model weights
(`models/` and `fingerprints.json` are linked from the user's cache, so neither run pays the
GGUF conversion); so both train the adapter, build the index and measure the base model's
retention. Both use the same suite, items and seed. Wall time is the whole command, start-up
included. The metrics of every cell of each Ray run are compared with local's, value by value
(`same_metrics`): a different torch thread count changes floating-point sums, so `ray-1cpu` may
differ in a few items; `ray` must not.

Scaling estimate
----------------
From the `ray-1cpu` run, each unit's wall time on its worker (`placement.seconds`, training units'
`training_unit.seconds`) and the dependencies (a cell after its training) give the wall time of a
greedy list schedule on W workers (longest unit first among the ready ones). For W = 8 this is
the estimate for 8 GPUs at this machine's speed per unit; the ratio to W = 1 is the speed-up the
executor gives a grid of this shape, before per-unit start-up (model load on each worker) that
the measured times already include.

Run it on a quiet machine::

    .venv/bin/python benchmarks/bench_executor.py
    .venv/bin/python benchmarks/bench_executor.py --limit 8 --arms base,retrieval_only  # smoke

Results go to `benchmarks/results/bench_executor.json` (`--out` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import ROOT, machine_info, write_json

from harness.models.resolve import cache_dir

SUITE = ROOT / "suites" / "insurance-policy-qa.yaml"


def fresh_cache(parent: Path, name: str) -> Path:
    """An empty cache folder that shares only the user's converted model weights."""
    folder = parent / name
    folder.mkdir(parents=True)
    user = cache_dir()
    if (user / "models").is_dir():
        (folder / "models").symlink_to(user / "models", target_is_directory=True)
    if (user / "fingerprints.json").is_file():
        shutil.copy(user / "fingerprints.json", folder / "fingerprints.json")
    return folder


def run(contender: str, args: argparse.Namespace, work: Path) -> dict:
    executor = contender.split("-")[0]
    out = work / f"out-{contender}"
    cmd = [
        str(Path(sys.executable).with_name("adaptbench")),
        "run",
        str(SUITE),
        "--arms",
        args.arms,
        "--limit",
        str(args.limit),
        "--set",
        f"retention.limit={args.retention_limit}",
        "--out",
        str(out),
        "--no-progress",
        "--executor",
        executor,
    ]
    if contender == "ray-1cpu":
        cmd += ["--cpus-per-unit", "1"]
    env = os.environ | {"ADAPTBENCH_CACHE": str(fresh_cache(work, f"cache-{contender}"))}
    print("$", " ".join(cmd), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"{contender}: exit {proc.returncode}")
    results = json.loads((out / "results.json").read_text())
    return {"wall_s": round(wall, 1), "runs": results["runs"], "log_tail": proc.stderr[-1500:]}


def unit_times(runs: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds per unit on its worker, and each cell's training unit (by artifact)."""
    seconds: dict[str, float] = {}
    after: dict[str, str] = {}
    for r in runs:
        seconds[r["id"]] = (r.get("placement") or {}).get("seconds") or 0.0
        unit = r.get("training_unit")
        if unit:
            train_id = f"train:{unit['artifact']}"
            seconds[train_id] = max(seconds.get(train_id, 0.0), unit.get("seconds", 0.0))
            after[r["id"]] = train_id
    return seconds, after


def list_schedule(seconds: dict[str, float], after: dict[str, str], workers: int) -> float:
    """Wall time of a greedy schedule on `workers` workers: whenever one is free it takes the
    longest unit whose dependency is done (at the time the dependency finished)."""
    done_at: dict[str, float] = {}
    free = [0.0] * workers
    waiting = dict(seconds)
    while waiting:
        ready = [u for u in waiting if after.get(u) is None or after[u] in done_at]
        unit = max(ready, key=lambda u: waiting[u])
        w = min(range(workers), key=lambda i: free[i])
        start = max(free[w], done_at.get(after.get(unit, ""), 0.0))
        done_at[unit] = free[w] = start + waiting.pop(unit)
    return max(done_at.values(), default=0.0)


def compare(local: list[dict], ray: list[dict]) -> dict:
    def values(runs):
        return {r["id"]: {m: v["value"] for m, v in r["metrics"].items()} for r in runs}

    a, b = values(local), values(ray)
    differing = {
        cell: {m: (a[cell].get(m), b.get(cell, {}).get(m)) for m in a[cell]}
        for cell in a
        if a[cell] != b.get(cell)
    }
    return {"same_metrics": not differing and a.keys() == b.keys(), "differing": differing}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arms", default="base,few_shot,retrieval_only,lora")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--retention-limit", type=int, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bench_executor.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
        work = Path(tmp)
        local = run("local", args, work)
        ray1 = run("ray-1cpu", args, work)
        ray = run("ray", args, work)
    seconds, after = unit_times(ray1["runs"])
    schedule = {w: round(list_schedule(seconds, after, w), 1) for w in (1, 2, 4, 8)}
    record = {
        "benchmark": "bench_executor",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "suite": str(SUITE.relative_to(ROOT)),
        "arms": args.arms.split(","),
        "limit": args.limit,
        "retention_limit": args.retention_limit,
        "local_wall_s": local["wall_s"],
        "ray_1cpu_wall_s": ray1["wall_s"],
        "ray_wall_s": ray["wall_s"],
        "ray_1cpu_speedup": round(local["wall_s"] / ray1["wall_s"], 3),
        "ray_speedup": round(local["wall_s"] / ray["wall_s"], 3),
        "unit_seconds_on_ray_1cpu": {k: round(v, 1) for k, v in seconds.items()},
        "list_schedule_s": schedule,
        "estimated_speedup_8_workers": round(schedule[1] / schedule[8], 2) if schedule[8] else None,
        "ray_1cpu_vs_local": compare(local["runs"], ray1["runs"]),
        "ray_vs_local": compare(local["runs"], ray["runs"]),
    }
    print(json.dumps({k: v for k, v in record.items() if k != "machine"}, indent=2))
    write_json(args.out, record)


if __name__ == "__main__":
    main()
