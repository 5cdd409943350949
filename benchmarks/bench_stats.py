"""Statistics speed: bootstrap CIs, paired bootstrap and exact McNemar at report-sized inputs.

What is timed
-------------
* `bootstrap_ci` and `paired_bootstrap` on `--items` items x `--resamples` resamples, on binary
  (0/1) and on continuous scores;
* `mcnemar_exact` on `--mcnemar-items` paired 0/1 items: a typical case (two arms near 50%
  accuracy, about half the items discordant) and the worst case for the exact binomial tail
  (every item discordant, split evenly, so the tail sums n/2 terms of C(n, n/2)).

Each call is timed with `time.perf_counter`, `--repeats` times; the fastest is reported (all are
kept in the JSON). Inputs are generated once from `--seed`, outside the timed region. The target
is under `--target-s` seconds per call, so a report with many metrics and comparisons stays fast.

Run it::

    .venv/bin/python benchmarks/bench_stats.py
    .venv/bin/python benchmarks/bench_stats.py --items 1000 --mcnemar-items 1000  # smoke test

Results go to `benchmarks/results/bench_stats.json` (`--out` to change).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import machine_info as common_machine_info  # noqa: E402
from _common import write_json

from harness.common.stats import bootstrap_ci, mcnemar_exact, paired_bootstrap

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_stats.json"


@dataclass
class Measurement:
    name: str
    data: str
    items: int
    resamples: int | None
    seconds: list[float] = field(default_factory=list)
    result: object = None  # what the last call returned, to show the work was real

    @property
    def best_seconds(self) -> float:
        return min(self.seconds)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def make_inputs(items: int, mcnemar_items: int, seed: int) -> dict[str, tuple[np.ndarray, ...]]:
    """Paired score vectors: b is a slightly better, correlated copy of a (like two real arms)."""
    rng = np.random.default_rng(seed)
    a_bin = (rng.random(items) < 0.6).astype(np.float64)
    flip = rng.random(items) < 0.2
    b_bin = np.where(flip, (rng.random(items) < 0.75).astype(np.float64), a_bin)
    a_cont = rng.random(items)
    b_cont = np.clip(a_cont + rng.normal(0.02, 0.1, size=items), 0.0, 1.0)
    m_a = (rng.random(mcnemar_items) < 0.5).astype(np.float64)
    m_b = (rng.random(mcnemar_items) < 0.51).astype(np.float64)
    worst_a = (np.arange(mcnemar_items) % 2).astype(np.float64)  # every item discordant, 50/50
    return {
        "binary": (a_bin, b_bin),
        "continuous": (a_cont, b_cont),
        "mcnemar_typical": (m_a, m_b),
        "mcnemar_worst": (worst_a, 1.0 - worst_a),
    }


def time_call(m: Measurement, call: Callable[[], object], repeats: int) -> Measurement:
    for _ in range(repeats):
        t0 = time.perf_counter()
        m.result = call()
        m.seconds.append(time.perf_counter() - t0)
    return m


def benchmark(args: argparse.Namespace) -> list[Measurement]:
    data = make_inputs(args.items, args.mcnemar_items, args.seed)
    r, s = args.resamples, args.seed
    out = []
    for kind in ("binary", "continuous"):
        a, b = data[kind]
        m = Measurement("bootstrap_ci", kind, a.size, r)
        out.append(time_call(m, lambda a=a: bootstrap_ci(a, seed=s, resamples=r), args.repeats))
        m = Measurement("paired_bootstrap", kind, a.size, r)
        out.append(
            time_call(m, lambda a=a, b=b: paired_bootstrap(a, b, seed=s, resamples=r), args.repeats)
        )
    for kind in ("mcnemar_typical", "mcnemar_worst"):
        a, b = data[kind]
        m = Measurement("mcnemar_exact", kind.removeprefix("mcnemar_"), a.size, None)
        out.append(time_call(m, lambda a=a, b=b: mcnemar_exact(a, b), args.repeats))
    return out


def print_table(measurements: list[Measurement], target_s: float) -> None:
    print(
        f"{'function':<18}{'data':<12}{'items':>9}{'resamples':>11}{'best s':>10}{'median s':>10}"
    )
    for m in measurements:
        resamples = "-" if m.resamples is None else str(m.resamples)
        flag = "" if m.best_seconds < target_s else "  OVER TARGET"
        print(
            f"{m.name:<18}{m.data:<12}{m.items:>9}{resamples:>11}"
            f"{m.best_seconds:>10.4f}{m.median_seconds:>10.4f}{flag}"
        )
    print(f"(best / median of the repeats; target: each under {target_s} s)")


def machine_info() -> dict:
    return common_machine_info(
        numpy=np.__version__,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=10_000, help="items for the bootstrap timings")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--mcnemar-items", type=int, default=100_000, help="items for mcnemar_exact")
    p.add_argument("--repeats", type=int, default=5, help="timed calls each; the fastest counts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target-s", type=float, default=1.0, help="seconds per call to stay under")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    args = p.parse_args(argv)
    if min(args.items, args.resamples, args.mcnemar_items, args.repeats) < 2:
        p.error("--items, --resamples, --mcnemar-items and --repeats must be at least 2")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    machine = machine_info()
    print(f"cpu={machine['cpu']} ({machine['cpu_count']} cores), numpy {machine['numpy']}")
    measurements = benchmark(args)
    print_table(measurements, args.target_s)
    record = {
        "benchmark": "bench_stats",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "timing": f"time.perf_counter, best of {args.repeats} calls",
        "measurements": [
            {**asdict(m), "best_seconds": m.best_seconds, "median_seconds": m.median_seconds}
            for m in measurements
        ],
        "all_under_target": all(m.best_seconds < args.target_s for m in measurements),
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
