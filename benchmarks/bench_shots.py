"""Shots drawn per item against the same shots for every item: accuracy, and prompt tokens shared.

Why
---
Generation computes the prompt prefix common to all prompts of a call once
(`harness.models.continuous`). With shots chosen per item (`similar`, or `random` drawn per
item) that prefix ends before the first shot; with `fixed` shots (one seeded draw per task) it
takes in every shot. This script measures what the longer shared prefix saves in prompt tokens
and what fixed shots cost in accuracy, before anyone changes a default.

What is run
-----------
The arms `--arms` (default `few_shot` and `rag`) of the suite's first task (default the
shipped `suites/insurance-policy-qa.yaml`) on its first `--limit` eval items (default all), on
the same items and the same loaded model: as the suite configures them (`per_item`: few_shot
`selection: similar`, rag `shot_selection: random`) and with the shot selection set to `fixed`,
once per seed of `--fixed-seeds` (a fixed draw's accuracy depends on which shots it drew).
Per arm and selection: exact match and token F1 with their 95% intervals; per fixed draw the
paired difference fixed - per_item on the same items (McNemar for exact match, paired bootstrap
for F1, each with a 95% CI of the difference). Prompt tokens, counted with the run's tokenizer
(`continuous.prefix_sharing`): all prompts whole, with the prefix common to all computed once
(what generation does), and as a prefix tree would compute them; plus the prompt tokens the
generation actually computed. Token counts are deterministic; no time is measured.

Run it (it uses the real model: minutes on a CPU)::

    .venv/bin/python benchmarks/bench_shots.py --fixed-seeds 1234,1,2
    .venv/bin/python benchmarks/bench_shots.py --limit 40 --arms rag   # shorter

Results go to `benchmarks/results/bench_shots.json` (`--out` to change).
"""

from __future__ import annotations

import os

# No network, ever: set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import argparse  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import machine_info, write_json  # noqa: E402

from harness.common.stats import paired_test  # noqa: E402
from harness.data.tasks import Item, TaskData, load_task  # noqa: E402
from harness.models.continuous import prefix_sharing  # noqa: E402
from harness.run.context import RunContext  # noqa: E402
from harness.run.evaluate import build_arm  # noqa: E402
from harness.run.scoring import score  # noqa: E402
from harness.run.suite import load_suite  # noqa: E402
from harness.spec.config import ArmSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT / "suites" / "insurance-policy-qa.yaml"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_shots.json"
METRICS = ["exact_match", "token_f1"]
SELECTION_KEY = {"few_shot": "selection", "rag": "shot_selection"}  # the arm's parameter


def variants(spec: ArmSpec, seeds: list[int]) -> dict[str, ArmSpec]:
    """The arm as configured, and the same arm with fixed shots drawn with each seed."""
    key = SELECTION_KEY[spec.arm]
    params = {**spec.params, key: "fixed"}
    fixed = {f"fixed@seed{s}": spec.model_copy(update={"params": params, "seed": s}) for s in seeds}
    return {"per_item": spec, **fixed}


def run_variant(ctx: RunContext, spec: ArmSpec, task: TaskData, items: list[Item]) -> dict:
    arm = build_arm(ctx, spec)
    arm.setup(task)
    preds = arm.predict(task, items)
    rows, metrics = score(task, items, preds, METRICS, seed=ctx.seed)
    backend = ctx.backend
    stats = backend.last_stats
    out = {
        "params": spec.params,
        "metrics": {m: metrics[m] for m in METRICS},
        "prompt_tokens": prefix_sharing(backend._encode([p.prompt for p in preds])),
        "generation_prefill_tokens": stats.prefill_tokens if stats else None,
        "shots_per_prompt": sum(len(p.extra.get("shot_ids", [])) for p in preds) / len(preds),
        "distinct_shot_sets": len({tuple(p.extra.get("shot_ids", [])) for p in preds}),
    }
    values = {
        m: {r["id"]: r["scores"][m]["value"] for r in rows if m in r["scores"]} for m in METRICS
    }
    return out | {"_values": values}


def paired(per_item: dict, fixed: dict) -> dict:
    """fixed - per_item on the items both scored, per metric (one draw of fixed shots)."""
    out = {}
    for m in METRICS:
        a, b = per_item["_values"][m], fixed["_values"][m]
        ids = [i for i in a if i in b]
        out[m] = paired_test([a[i] for i in ids], [b[i] for i in ids])
    return out


def saved_share(tokens: dict) -> dict:
    whole = tokens["tokens"]
    return {
        "common_prefix": round(1 - tokens["common_prefix_cost"] / whole, 4),
        "trie": round(1 - tokens["trie_tokens"] / whole, 4),
    }


def report(label: str, result: dict) -> None:
    for name, r in result["selections"].items():
        em, f1, tok = r["metrics"]["exact_match"], r["metrics"]["token_f1"], r["prompt_tokens"]
        print(
            f"{label:<9}{name:<15} EM {em['value']:.3f} [{em['ci_low']:.3f}, {em['ci_high']:.3f}]"
            f"  F1 {f1['value']:.3f} [{f1['ci_low']:.3f}, {f1['ci_high']:.3f}]  prompt tokens "
            f"{tok['tokens']}, common prefix {tok['common_prefix']} -> {tok['common_prefix_cost']}"
            f", trie {tok['trie_tokens']}; prefill computed {r['generation_prefill_tokens']}"
        )
    for name, tests in result["paired_fixed_minus_per_item"].items():
        for m, d in tests.items():
            print(f"{label:<9}{name:<15}{m:<12} - per_item {d['delta']:+.3f} "
                  f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] p={d['p_value']:.3g} ({d['test']})")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="suite YAML (first task)")
    p.add_argument("--limit", type=int, default=None, help="first N eval items (default all)")
    p.add_argument("--arms", type=lambda s: [x for x in s.split(",") if x],
                   default=["few_shot", "rag"], help="arm labels of the suite, comma-separated")  # fmt: skip
    p.add_argument("--fixed-seeds", type=lambda s: [int(x) for x in s.split(",") if x.strip()],
                   default=None, help="one fixed draw per seed (default: the arm's seed); "
                   "one draw's accuracy depends on which shots it drew")  # fmt: skip
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 2:
        p.error("--limit must be at least 2 (a paired comparison needs items)")
    if not args.arms:
        p.error("--arms: name at least one arm")
    return args


def arm_specs(suite, labels: list[str], path: Path) -> list[ArmSpec]:
    specs = []
    for label in labels:
        spec = next((a for a in suite.arms if a.label == label), None)
        if spec is None:
            raise SystemExit(f"{path}: no arm labelled {label!r}")
        if spec.arm not in SELECTION_KEY:
            raise SystemExit(f"{path}: arm {label!r} is a {spec.arm!r} arm; shots are chosen "
                             f"by {', '.join(SELECTION_KEY)} arms")  # fmt: skip
        specs.append(spec)
    return specs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    suite = load_suite(args.suite)
    specs = arm_specs(suite, args.arms, args.suite)
    task = load_task(suite.tasks[0])
    items = task.eval[: args.limit] if args.limit else task.eval
    ctx = RunContext(suite=suite, device=args.device, dtype=args.dtype, progress=False)
    results = {}
    for spec in specs:
        seeds = args.fixed_seeds or [ctx.seed_for(spec)]
        runs = {name: run_variant(ctx, s, task, items) for name, s in variants(spec, seeds).items()}
        tests = {n: paired(runs["per_item"], r) for n, r in runs.items() if n != "per_item"}
        for r in runs.values():
            r.pop("_values")
            r["prompt_tokens_saved_share"] = saved_share(r["prompt_tokens"])
        fixed_em = [r["metrics"]["exact_match"]["value"] for n, r in runs.items() if n in tests]
        result = {
            "selections": runs,
            "paired_fixed_minus_per_item": tests,
            "fixed_exact_match_mean_over_draws": sum(fixed_em) / len(fixed_em),
        }
        report(spec.label, result)
        results[spec.label] = result
    record = {
        "benchmark": "bench_shots",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine_info(),
        "suite": str(args.suite),
        "task": task.spec.name,
        "items": len(items),
        "model": suite.model.name,
        "arms": results,
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
