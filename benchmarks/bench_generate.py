"""Generation throughput: adaptbench's HF backend against a naive loop and lm-eval's HF backend.

What is compared
----------------
Three ways to greedily generate answers for the same prompts with the same model object
(weights loaded once, by adaptbench's `HFBackend`), so only the generation strategy differs:

* naive       one `model.generate` call per prompt (batch 1, no padding) - what a first script does;
* adaptbench  `HFBackend.generate`: length-sorted, left-padded batches, at each `--batch-sizes`;
* lm-eval     `lm_eval.models.huggingface.HFLM.generate_until` wrapping the already-loaded model
              and tokenizer, at each `--batch-sizes` - the reference harness most people use.

The prompts are the ones the `base` arm sends: the first `--n` eval items of the first task of
`suites/insurance-policy-qa.yaml`, rendered with the model's chat template.

Why it is fair
--------------
* Same prompt token ids everywhere: the chat template already writes the special tokens, so
  every contender encodes without adding any (checked at start-up; the result says so).
* Same work: greedy decoding, the same `--max-new-tokens`, and no stop strings. Every contender
  stops a row only at the model's end-of-sequence token (transformers does that natively).
  lm-eval cannot be told "no stop strings": it always appends the EOS string to `until`, so we
  pass `until=[]` and it ends up with `[eos]`, which stops exactly where the native EOS stop does.
* Same counting: generated tokens are counted from token ids by one rule - up to and including
  the first EOS, else `--max-new-tokens` (padding after a finished row is not counted).
  naive: from the ids `model.generate` returns; adaptbench: `Generation.new_tokens`, which
  `HFBackend` computes from the ids with that same rule; lm-eval: `generate_until` only returns
  text, so a thin subclass records the id tensors its `_model_generate` returns (a reference
  append, no extra work) and we count those.
* Timed region: prompt strings in, answer strings out (tokenisation, generation, decoding), after
  one short untimed warm-up per contender. All contenders run in one process, interleaved per
  round (`--repeats` rounds; the fastest round of each is reported, all rounds are kept).
* Correctness check: the share of prompts whose output text equals the naive output text
  (stripped). Greedy fp32 should give 1.0; less means left padding or batching changed answers.

Run it (on a quiet machine; the defaults take a while on CPU)::

    .venv/bin/python benchmarks/bench_generate.py
    .venv/bin/python benchmarks/bench_generate.py --n 4 --max-new-tokens 4 --batch-sizes 4  # smoke test

Results go to `benchmarks/results/bench_generate.json` (`--out` to change).
"""

from __future__ import annotations

import os

# No network, ever: set before transformers / lm_eval are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import lm_eval  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from _common import machine_info as common_machine_info  # noqa: E402
from _common import write_json
from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402

from harness.arms.prompting import conversation, wording_for  # noqa: E402
from harness.backends.hf import HFBackend  # noqa: E402
from harness.config import ModelSpec, load_suite  # noqa: E402
from harness.data import load_task  # noqa: E402
from harness.models import resolve_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT / "suites" / "insurance-policy-qa.yaml"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_generate.json"
WARMUP_PROMPTS = 4
WARMUP_TOKENS = 4


@dataclass
class Outputs:
    """What one timed call produced: texts in prompt order and the generated-token total."""

    texts: list[str]
    new_tokens: int


@dataclass
class Measurement:
    contender: str
    batch_size: int
    seconds: list[float] = field(default_factory=list)  # one per round
    new_tokens: int = 0
    agreement_with_naive: float | None = None

    @property
    def best_seconds(self) -> float:
        return min(self.seconds)

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.best_seconds


# ------------------------------------------------------------------------------ token counting


def count_new_tokens(tokens: list[int], eos_ids: set[int], pad_id: int | None) -> tuple[int, int]:
    """(tokens before the end, tokens counted): counted = up to and including the first EOS.

    The same rule as `HFBackend._finish`: a row ends at its first EOS or padding token; the EOS
    itself was generated, so it counts; padding after a finished row does not.
    """
    ends = eos_ids | ({pad_id} if pad_id is not None else set())
    n = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
    hit_eos = n < len(tokens) and tokens[n] in eos_ids
    return n, n + int(hit_eos)


# ------------------------------------------------------------------------------ contenders


@torch.inference_mode()
def run_naive(backend: HFBackend, prompts: list[str], max_new_tokens: int) -> Outputs:
    """One `model.generate` per prompt: batch 1, no padding, greedy."""
    model, tok = backend.model, backend.tokenizer
    texts, total = [], 0
    for prompt in prompts:
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(
            model.device
        )
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
        new = out[0, ids.shape[1] :].tolist()
        n, counted = count_new_tokens(new, backend.eos_ids, tok.pad_token_id)
        texts.append(tok.decode(new[:n], skip_special_tokens=True).strip())
        total += counted
    return Outputs(texts, total)


def run_adaptbench(
    backend: HFBackend, prompts: list[str], max_new_tokens: int, batch_size: int
) -> Outputs:
    backend.batch_size = batch_size
    gens = backend.generate(prompts, max_new_tokens=max_new_tokens, stop=[])
    return Outputs([g.text for g in gens], sum(g.new_tokens for g in gens))


class RecordingHFLM(HFLM):
    """lm-eval's HFLM, unchanged, except that it keeps the id tensors `model.generate` returned.

    `generate_until` returns text only; the ids let us count tokens exactly as for the others.
    Recording is a list append of a tensor lm-eval already holds: it adds no measurable work.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded: list[tuple[int, torch.Tensor]] = []  # (context width, output ids)

    def _model_generate(self, context, max_length, stop, **generation_kwargs):
        out = super()._model_generate(context, max_length, stop, **generation_kwargs)
        self.recorded.append((context.shape[1], out))
        return out


def make_lm_eval(backend: HFBackend, batch_size: int) -> RecordingHFLM:
    """Wrap the already-loaded model and tokenizer; nothing is loaded or fetched."""
    return RecordingHFLM(
        pretrained=backend.model,
        tokenizer=backend.tokenizer,
        batch_size=batch_size,
        add_bos_token=False,  # the chat template already starts with the special tokens
    )


def lm_eval_requests(prompts: list[str], max_new_tokens: int) -> list[Instance]:
    # `until=[]`: lm-eval appends the EOS string itself (it cannot be turned off), which is the
    # only stop the other contenders have too. No other stop string.
    gen_kwargs = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": False}
    return [
        Instance(request_type="generate_until", doc={}, arguments=(p, dict(gen_kwargs)), idx=i)
        for i, p in enumerate(prompts)
    ]


def run_lm_eval(
    lm: RecordingHFLM, backend: HFBackend, prompts: list[str], max_new_tokens: int
) -> Outputs:
    lm.recorded.clear()
    texts = lm.generate_until(lm_eval_requests(prompts, max_new_tokens), disable_tqdm=True)
    total, rows = 0, 0
    for width, out in lm.recorded:
        for row in out[:, width:].tolist():
            total += count_new_tokens(row, backend.eos_ids, backend.tokenizer.pad_token_id)[1]
            rows += 1
    if rows != len(prompts):
        raise RuntimeError(f"lm-eval generated {rows} rows for {len(prompts)} prompts")
    return Outputs([t.strip() for t in texts], total)


# ------------------------------------------------------------------------------ setup and checks


def load_prompts(backend: HFBackend, suite_path: Path, n: int) -> list[str]:
    """The `base` arm's prompts: first task, first `n` eval items, chat template applied."""
    suite = load_suite(suite_path)
    task = load_task(suite.tasks[0])
    items = task.eval[:n]
    if len(items) < n:
        raise SystemExit(f"--n {n}: the task has only {len(items)} eval items")
    wording = wording_for(task)
    return [backend.format_chat(conversation(task.spec, wording, item)) for item in items]


def check_prompt_ids(backend: HFBackend, lm: HFLM, prompts: list[str]) -> dict[str, bool]:
    """Do all contenders feed the model the same prompt ids (no extra BOS or the like)?"""
    naive = [backend.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    adaptbench = backend._encode(prompts)
    lm_ids = [lm.tok_batch_encode([p])[0][0].tolist() for p in prompts]
    return {"adaptbench_equals_naive": adaptbench == naive, "lm_eval_equals_naive": lm_ids == naive}


def agreement(texts: list[str], reference: list[str]) -> float:
    return sum(a == b for a, b in zip(texts, reference, strict=True)) / len(reference)


def machine_info() -> dict:
    return common_machine_info(
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        lm_eval=getattr(lm_eval, "__version__", "unknown"),
        cuda_device=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    )


def timed(fn: Callable[[], Outputs]) -> tuple[float, Outputs]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def benchmark(
    backend: HFBackend, prompts: list[str], args: argparse.Namespace
) -> tuple[list[Measurement], dict]:
    lms = {bs: make_lm_eval(backend, bs) for bs in args.batch_sizes}
    checks = check_prompt_ids(backend, lms[args.batch_sizes[0]], prompts)
    print(f"prompt ids identical: {checks}")

    # (contender, batch size) -> the call that generates all prompts
    calls: dict[tuple[str, int], Callable[[], Outputs]] = {
        ("naive", 1): lambda: run_naive(backend, prompts, args.max_new_tokens)
    }
    for bs in args.batch_sizes:
        calls[("adaptbench", bs)] = lambda bs=bs: run_adaptbench(
            backend, prompts, args.max_new_tokens, bs
        )
    for bs in args.batch_sizes:
        calls[("lm-eval", bs)] = lambda bs=bs: run_lm_eval(
            lms[bs], backend, prompts, args.max_new_tokens
        )

    warm = prompts[:WARMUP_PROMPTS]
    print(f"warm-up: {len(warm)} prompts x {WARMUP_TOKENS} tokens per contender (untimed)")
    run_naive(backend, warm[:1], WARMUP_TOKENS)
    run_adaptbench(backend, warm, WARMUP_TOKENS, len(warm))
    run_lm_eval(lms[args.batch_sizes[0]], backend, warm, WARMUP_TOKENS)

    results = {key: Measurement(*key) for key in calls}
    outputs: dict[tuple[str, int], Outputs] = {}
    for round_no in range(1, args.repeats + 1):
        for key, call in calls.items():
            seconds, out = timed(call)
            results[key].seconds.append(seconds)
            results[key].new_tokens = out.new_tokens
            outputs[key] = out
            print(
                f"round {round_no}: {key[0]:<10} bs={key[1]:<3} {seconds:8.2f} s  {out.new_tokens} tokens"
            )

    reference = outputs[("naive", 1)].texts
    for key, m in results.items():
        m.agreement_with_naive = agreement(outputs[key].texts, reference)
    return list(results.values()), checks


def best(measurements: list[Measurement], contender: str) -> Measurement:
    return max((m for m in measurements if m.contender == contender), key=lambda m: m.tokens_per_s)


def print_table(measurements: list[Measurement], ratios: dict[str, float]) -> None:
    print()
    print(f"{'contender':<11}{'batch':>6}{'seconds':>10}{'tokens':>8}{'tok/s':>9}{'agree':>8}")
    for m in measurements:
        mark = " *" if m is best(measurements, m.contender) and m.contender != "naive" else ""
        print(
            f"{m.contender:<11}{m.batch_size:>6}{m.best_seconds:>10.2f}{m.new_tokens:>8}"
            f"{m.tokens_per_s:>9.1f}{m.agreement_with_naive:>8.3f}{mark}"
        )
    print("(* best batch size; seconds = fastest round; agree = share of outputs equal to naive)")
    print(f"adaptbench best / naive:        {ratios['adaptbench_best_over_naive']:.2f}x tok/s")
    print(
        f"adaptbench best / lm-eval best: {ratios['adaptbench_best_over_lm_eval_best']:.2f}x tok/s"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--suite", type=Path, default=DEFAULT_SUITE, help="suite YAML (first task, eval split)"
    )
    p.add_argument("--n", type=int, default=64, help="number of prompts (first N eval items)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument(
        "--batch-sizes",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=[8, 16, 32, 64],
        help="comma-separated batch sizes for adaptbench and lm-eval",
    )
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--repeats", type=int, default=1, help="interleaved rounds; the fastest is reported"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    args = p.parse_args(argv)
    if not args.batch_sizes or min(args.batch_sizes) < 1 or args.n < 1 or args.repeats < 1:
        p.error("--n, --repeats and every batch size must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its notes on passing a model instance
    model = resolve_model(ModelSpec(), progress=False)
    backend = HFBackend(model.path, device=args.device, dtype=args.dtype, progress=False)
    prompts = load_prompts(backend, args.suite, args.n)
    prompt_lens = [len(ids) for ids in backend._encode(prompts)]
    machine = machine_info()
    print(
        f"{len(prompts)} prompts (prompt tokens mean {statistics.mean(prompt_lens):.0f}, "
        f"max {max(prompt_lens)}), max_new_tokens={args.max_new_tokens}, dtype={args.dtype}, "
        f"threads={machine['torch_threads']}, cpu={machine['cpu']}"
    )

    measurements, checks = benchmark(backend, prompts, args)
    naive, ab, le = (best(measurements, c) for c in ("naive", "adaptbench", "lm-eval"))
    ratios = {
        "adaptbench_best_over_naive": ab.tokens_per_s / naive.tokens_per_s,
        "adaptbench_best_over_lm_eval_best": ab.tokens_per_s / le.tokens_per_s,
    }
    print_table(measurements, ratios)

    record = {
        "benchmark": "bench_generate",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "model": {"name": model.name, "path": str(model.path), "fingerprint": model.fingerprint},
        "prompts": {
            "n": len(prompts),
            "token_mean": statistics.mean(prompt_lens),
            "token_max": max(prompt_lens),
        },
        "prompt_ids_identical": checks,
        "token_counting": "from token ids: up to and including the first EOS, else max_new_tokens",
        "lm_eval_settings": {
            "until": "[] (lm-eval appends the EOS string)",
            "do_sample": False,
            "add_bos_token": False,
        },
        "measurements": [
            {**asdict(m), "best_seconds": m.best_seconds, "tokens_per_s": m.tokens_per_s}
            for m in measurements
        ],
        "best": {
            m.contender: {"batch_size": m.batch_size, "tokens_per_s": m.tokens_per_s}
            for m in (naive, ab, le)
        },
        "ratios": ratios,
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
