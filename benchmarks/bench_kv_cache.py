"""The KV cache of continuous batching: columns written in place against whole-cache copies.

What is compared
----------------
`ContinuousGenerator` with its `GrowingCache` (keys and values are views of buffers with spare
rows and columns: a decode step writes one column in place, joining rows are written into spare
rows, leaving rows are replaced by moving only the rows behind them) against `CopyingCache`,
defined here as the cache the generator used before: transformers' `DynamicLayer`, which
appends a step with `torch.cat` (a copy of the whole cache per layer and step), rows joining by
concatenation and rows leaving by indexing (copies too).

Two workloads on the embedded model (fp32, the same random prompt ids for both, one model):

* long  64 prompts of 83 tokens (59 shared), `--long-tokens` new tokens each, batch 64;
* rag   32 prompts of 472-547 tokens (72 shared), answers that end after 3-24 tokens (drawn
        per prompt), batch 16: many rows leave and join.

The contenders alternate (A, B, A, B, ...) `--repeats` times within one process, because this
machine's speed drifts between runs; per workload the JSON has every run's seconds (total,
prefill, decode, the rest) and the medians, and whether the outputs were identical.

    .venv/bin/python benchmarks/bench_kv_cache.py
    .venv/bin/python benchmarks/bench_kv_cache.py --repeats 1 --long-tokens 8   # smoke
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no network, ever: set before transformers is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from _common import ROOT, machine_info, write_json  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402
from transformers.cache_utils import DynamicLayer  # noqa: E402

from harness.models import continuous  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402
from harness.spec.config import ModelSpec  # noqa: E402


class CopyingLayer(DynamicLayer):
    """The previous cache layer: every change is a copy of the whole layer."""

    def __init__(self, reserve: int = 0, rows: int = 0):
        super().__init__()

    def join(self, keys, values):
        width = max(self.keys.shape[2], keys.shape[2])
        self.keys = torch.cat([_pad_left(self.keys, width), _pad_left(keys, width)])
        self.values = torch.cat([_pad_left(self.values, width), _pad_left(values, width)])

    def select(self, order, first):
        index = torch.tensor(order, device=self.keys.device)
        self.keys = self.keys[index, :, first:]
        self.values = self.values[index, :, first:]


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - t.shape[2]
    if not missing:
        return t
    return torch.cat([t.new_zeros(t.shape[0], t.shape[1], missing, t.shape[3]), t], dim=2)


class CopyingCache(continuous.GrowingCache):
    def __init__(self, layers=(), reserve: int = 0, rows: int = 0):
        continuous.DynamicCache.__init__(self)
        self.layer_class_to_replicate = CopyingLayer
        for keys, values in layers:
            layer = CopyingLayer()
            layer.update(keys, values)
            self.layers.append(layer)


def workloads(long_tokens: int) -> dict[str, dict]:
    g = torch.Generator().manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(100, 40000, (n,), generator=g).tolist()

    long_prefix, rag_prefix = ids(59), ids(72)
    rag = [rag_prefix + ids(int(torch.randint(400, 476, (), generator=g))) for _ in range(32)]
    return {
        "long": {"prompts": [long_prefix + ids(24) for _ in range(64)], "batch": 64,
                 "ends": [long_tokens] * 64},
        "rag": {"prompts": rag, "batch": 16,
                "ends": torch.randint(3, 25, (32,), generator=g).tolist()},
    }  # fmt: skip


def run_once(model, cache_class, work: dict) -> dict:
    gen = continuous.ContinuousGenerator(model, 0, work["batch"], cache_class=cache_class)
    ends = {tuple(p): e for p, e in zip(work["prompts"], work["ends"])}
    # A row's answer ends after its own number of tokens (its prompt tells which).
    budget: dict[int, int] = {}
    outputs: dict[int, list[int]] = {}

    def on_done(index: int, tokens: list[int], seconds: float) -> None:
        outputs[index] = list(tokens)

    def finished(tokens: list[int]) -> bool:
        return len(tokens) >= budget[id(tokens)]

    original = gen._prefill  # wrapped: each row learns its answer length when it is admitted

    def prefill(group, prompts, n_prefix, prefix, rows):
        batch = original(group, prompts, n_prefix, prefix, rows)
        for i, tokens in zip(group, batch.tokens):
            budget[id(tokens)] = ends[tuple(prompts[i])]
        return batch

    gen._prefill = prefill
    t0 = time.perf_counter()
    gen.run(work["prompts"], finished, on_done)
    seconds = time.perf_counter() - t0
    s = gen.stats
    return {
        "seconds": round(seconds, 3),
        "prefill_s": round(s.prefill_seconds, 3),
        "decode_s": round(s.decode_seconds, 3),
        "rest_s": round(seconds - s.prefill_seconds - s.decode_seconds, 3),
        "decode_rows": s.decode_tokens,
        "outputs": [outputs[i] for i in range(len(work["prompts"]))],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--long-tokens", type=int, default=48)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bench_kv_cache.json")
    args = ap.parse_args(argv)
    resolved = resolve_model(ModelSpec())
    model = AutoModelForCausalLM.from_pretrained(str(resolved.path), dtype=torch.float32).eval()
    contenders = {"growing": continuous.GrowingCache, "copying": CopyingCache}
    results = {}
    for name, work in workloads(args.long_tokens).items():
        runs: dict[str, list[dict]] = {c: [] for c in contenders}
        warm_up = {**work, "ends": [2] * len(work["prompts"])}
        run_once(model, continuous.GrowingCache, warm_up)
        for rep in range(args.repeats):
            for contender, cache_class in contenders.items():
                r = run_once(model, cache_class, work)
                runs[contender].append(r)
                print(f"{name:5s} {contender:8s} run {rep + 1}: {r['seconds']:7.2f} s "
                      f"(prefill {r['prefill_s']:.2f}, decode {r['decode_s']:.2f}, "
                      f"rest {r['rest_s']:.2f})", flush=True)  # fmt: skip
        identical = all(
            r["outputs"] == runs["copying"][0]["outputs"] for rs in runs.values() for r in rs
        )
        medians = {
            c: {k: round(statistics.median(r[k] for r in rs), 3)
                for k in ("seconds", "prefill_s", "decode_s", "rest_s")}
            for c, rs in runs.items()
        }  # fmt: skip
        results[name] = {
            "prompts": len(work["prompts"]),
            "batch_size": work["batch"],
            "identical_outputs": identical,
            "median": medians,
            "decode_speedup": round(medians["copying"]["decode_s"] / medians["growing"]["decode_s"], 3),
            "total_speedup": round(medians["copying"]["seconds"] / medians["growing"]["seconds"], 3),
            "runs": {c: [{k: v for k, v in r.items() if k != "outputs"} for r in rs] for c, rs in runs.items()},
        }  # fmt: skip
        print(f"{name}: decode {results[name]['decode_speedup']}x, total "
              f"{results[name]['total_speedup']}x, identical outputs: {identical}")  # fmt: skip
    write_json(args.out, {
        "benchmark": "bench_kv_cache",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "machine": machine_info(torch=torch.__version__, threads=torch.get_num_threads()),
        "model": {"name": resolved.name, "fingerprint": resolved.fingerprint},
        "workloads": results,
    })  # fmt: skip


if __name__ == "__main__":
    main()
