"""Generation throughput on the prompts that matter, and where each contender's time goes.

What is compared
----------------
Prompt sets (the first `--n` eval items of the first task of `suites/insurance-policy-qa.yaml`):

* base, few_shot, rag  the prompts those arms of the shipped suite send (captured by running the
                       arms against a recording backend), with the task's `max_new_tokens` and
                       stop strings;
* long                 the same questions asking for a full paragraph, `--long-tokens` (96) new
                       tokens and no stop string.

Contenders, all on one model object loaded once (only the generation strategy differs):

* naive             one `model.generate` per prompt (batch 1, no padding), stopping at the stop
                    strings: what a first script does, and the reference outputs;
* adaptbench        `HFBackend.generate` (continuous batching, shared-prefix reuse) at
                    `--batch-size`;
* adaptbench-static the same backend with `scheduler="static"`: length-sorted batches through
                    `model.generate`, the algorithm before continuous batching;
* lm-eval           `HFLM.generate_until` on the already-loaded model at each of
                    `--lm-eval-batch-sizes`; its best is the one compared;
* transformers-cb   (with `--with-generate-batch`) transformers' own continuous batching,
                    `model.generate_batch` (paged attention). It has no stop strings: rows run
                    to end-of-sequence or the limit, and the text is cut at the stop afterwards.

`--contenders` picks which run (default all but transformers-cb) and `--sets` which prompt sets.
The reference outputs (agreement, answer tokens) are the naive loop's; where naive is left out
(it is the slowest by far, above all on the long set), an untimed static run gives them instead
(the JSON's `reference` says which).

Fairness
--------
* Same prompt ids for all (the chat template writes the special tokens; checked, recorded).
* Greedy decoding; identical outputs checked: the share of prompts whose answer text equals the
  naive loop's is recorded per contender (`agree`), and must be 1.0 in fp32.
* tokens/s counts the answer tokens once, from the naive loop's ids (up to and including the
  end-of-sequence or the stop), for every contender: work a contender does past an answer's end
  is its cost, not its output.
* Timed region: prompt strings in, answer strings out, after one untimed warm-up per contender.

Time split (item 1 of issue 16)
-------------------------------
Hooks on the model's forward record every call of every contender: a call with more than one
input position is prefill, one position is a decode step. Per contender and set: prefill real and
padding tokens, decode rows that were still needed and rows of answers that had already ended
(finished-but-computed), and the seconds of each (a share of the phase's seconds, by rows).
`other_s` is what remains (tokenising, scheduling, Python). On CUDA the hooks synchronise once
per forward, which every contender pays.

Run it on a quiet machine (it takes a while on CPU)::

    .venv/bin/python benchmarks/bench_generate.py
    .venv/bin/python benchmarks/bench_generate.py --n 4 --lm-eval-batch-sizes 4 --long-tokens 8  # smoke
    .venv/bin/python benchmarks/bench_generate.py --sets rag --contenders adaptbench,lm-eval \
        --lm-eval-batch-sizes 32                      # one comparison, static outputs as reference

The JSON also records each set's `prefix_sharing` (`continuous.prefix_sharing`): prompt tokens
whole, with the prefix common to all computed once, and as a prefix tree would compute them.

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
from _common import write_json  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from transformers import GenerationConfig, StoppingCriteriaList  # noqa: E402

from harness.data.tasks import load_task  # noqa: E402
from harness.models.backend import Generation  # noqa: E402
from harness.models.continuous import prefix_sharing  # noqa: E402
from harness.models.hf import HFBackend, _StopOnStrings  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402
from harness.run.context import RunContext  # noqa: E402
from harness.run.evaluate import build_arm  # noqa: E402
from harness.run.suite import load_suite  # noqa: E402
from harness.spec.config import ModelSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT / "suites" / "insurance-policy-qa.yaml"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_generate.json"
ARM_SETS = ("base", "few_shot", "rag")
LONG_INSTRUCTION = (
    "Answer the question about Brindlecombe Mutual insurance policies in a full paragraph: "
    "say what the policy covers, its limits and conditions, and how to claim."
)
CONTENDERS = ("naive", "adaptbench", "adaptbench-static", "lm-eval", "transformers-cb")
WARMUP_PROMPTS = 4
WARMUP_TOKENS = 4


@dataclass
class PromptSet:
    name: str
    prompts: list[str]
    max_new_tokens: int
    stop: list[str]


@dataclass
class Measurement:
    prompt_set: str
    contender: str
    batch_size: int
    seconds: float = 0.0
    answer_tokens: int = 0  # from the naive loop's ids (the same answers for every contender)
    agreement_with_naive: float | None = None
    split: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.answer_tokens / self.seconds if self.seconds else 0.0


# ------------------------------------------------------------------------------ prompt sets


class PromptRecorder:
    """A backend that renders and counts like the real one but only records the prompts an arm
    sends (and answers nothing): the arm's own prompt code builds the benchmark's prompts."""

    def __init__(self, inner: HFBackend):
        self.inner = inner
        self.name = inner.name
        self.calls: list[tuple[list[str], int, list[str]]] = []

    def __getattr__(self, attr):  # model, tokenizer, ... for whatever else an arm reads
        return getattr(self.inner, attr)

    def format_chat(self, messages):
        return self.inner.format_chat(messages)

    def count_tokens(self, prompt: str) -> int:
        return self.inner.count_tokens(prompt)

    def generate(self, prompts: list[str], max_new_tokens: int, stop: list[str]):
        self.calls.append((list(prompts), max_new_tokens, list(stop)))
        return [Generation("", self.count_tokens(p), 0, 0.0, "length") for p in prompts]

    def loglikelihood(self, pairs):
        raise RuntimeError("the benchmark's prompt sets are generation tasks")


def load_prompt_sets(backend: HFBackend, args: argparse.Namespace) -> list[PromptSet]:
    suite = load_suite(args.suite)
    task = load_task(suite.tasks[0])
    items = task.eval[: args.n]
    if len(items) < args.n:
        raise SystemExit(f"--n {args.n}: the task has only {len(items)} eval items")
    recorder = PromptRecorder(backend)
    ctx = RunContext(suite=suite, device=args.device, dtype=args.dtype, progress=False)
    ctx._backend = recorder
    sets = []
    for label in ARM_SETS:
        spec = next((a for a in suite.arms if a.label == label), None)
        if spec is None:
            raise SystemExit(f"{args.suite}: no arm labelled {label!r}")
        arm = build_arm(ctx, spec)
        arm.setup(task)
        recorder.calls.clear()
        arm.predict(task, items)
        prompts, max_new, stop = recorder.calls[0]
        sets.append(PromptSet(label, prompts, max_new, stop))
    long = [
        backend.format_chat(
            [{"role": "user", "content": f"{LONG_INSTRUCTION}\n\nQuestion: {item.question}"}]
        )
        for item in items
    ]
    sets.append(PromptSet("long", long, args.long_tokens, []))
    return [s for s in sets if s.name in args.sets]


# ------------------------------------------------------------------------------ the time split


class ForwardRecorder:
    """Every forward call of the model: prefill (more than one position) or decode (one)."""

    def __init__(self, model):
        self.cuda = next(model.parameters()).is_cuda
        self.calls: list[tuple[int, int, int, float]] = []  # (rows, positions, real, seconds)
        self.packed = False  # a forward without a 2-D padding mask (paged, packed rows)
        self._t0 = 0.0
        self.handles = [
            model.register_forward_pre_hook(self._pre, with_kwargs=True),
            model.register_forward_hook(self._post, with_kwargs=True),
        ]

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def _pre(self, module, args, kwargs) -> None:
        self._sync()
        self._t0 = time.perf_counter()

    def _post(self, module, args, kwargs, output) -> None:
        self._sync()
        seconds = time.perf_counter() - self._t0
        ids = kwargs.get("input_ids", args[0] if args else None)
        rows, width = ids.shape[:2]
        mask = kwargs.get("attention_mask")
        if mask is not None and mask.dim() != 2:  # (None: no padding, every position real)
            self.packed = True
            mask = None
        real = int(mask[:, -width:].sum()) if mask is not None else rows * width
        self.calls.append((rows, width, real, seconds))

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    def split(self, needed_decode_rows: int, total_seconds: float) -> dict:
        if self.packed:  # prefill and decode rows share one packed forward: no split
            total = sum(c[3] for c in self.calls)
            return {"forwards": len(self.calls), "packed": True, "forward_s": round(total, 4),
                    "prefill_s": 0.0, "padding_s": 0.0, "decode_s": round(total, 4),
                    "finished_s": 0.0, "other_s": round(total_seconds - total, 4)}  # fmt: skip
        pre = [c for c in self.calls if c[1] > 1]
        dec = [c for c in self.calls if c[1] == 1]
        pre_s, dec_s = sum(c[3] for c in pre), sum(c[3] for c in dec)
        pre_real = sum(c[2] for c in pre)
        pre_pad = sum(c[0] * c[1] for c in pre) - pre_real
        dec_rows = sum(c[0] for c in dec)
        finished = max(dec_rows - needed_decode_rows, 0)
        return {
            "forwards": len(self.calls),
            "prefill_tokens": pre_real,
            "prefill_padding_tokens": pre_pad,
            "prefill_s": round(pre_s, 4),
            "padding_s": round(pre_s * pre_pad / max(pre_real + pre_pad, 1), 4),
            "decode_rows": dec_rows,
            "decode_rows_finished": finished,
            "decode_s": round(dec_s, 4),
            "finished_s": round(dec_s * finished / max(dec_rows, 1), 4),
            "other_s": round(total_seconds - pre_s - dec_s, 4),
        }


# ------------------------------------------------------------------------------ contenders


@torch.inference_mode()
def run_naive(backend: HFBackend, ps: PromptSet) -> list[Generation]:
    """One `model.generate` per prompt: batch 1, no padding, greedy, the stop strings."""
    model, tok = backend.model, backend.tokenizer
    out = []
    for prompt in ps.prompts:
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        ids = ids.to(model.device)
        gen = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=ps.max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            stopping_criteria=StoppingCriteriaList([_StopOnStrings(tok, ps.stop, ids.shape[1])]),
        )
        new = gen[0, ids.shape[1] :].tolist()
        out.append(backend._finish(new, ids.shape[1], ps.stop, 0.0, ps.max_new_tokens))
    return out


def run_adaptbench(backend: HFBackend, ps: PromptSet, batch_size: int, scheduler: str) -> list[str]:
    backend.batch_size, backend.scheduler = batch_size, scheduler
    try:
        gens = backend.generate(ps.prompts, max_new_tokens=ps.max_new_tokens, stop=ps.stop)
    finally:
        backend.scheduler = "continuous"
    return [g.text for g in gens]


def make_lm_eval(backend: HFBackend, batch_size: int) -> HFLM:
    """Wrap the already-loaded model and tokenizer; nothing is loaded or fetched."""
    return HFLM(
        pretrained=backend.model,
        tokenizer=backend.tokenizer,
        batch_size=batch_size,
        add_bos_token=False,  # the chat template already starts with the special tokens
    )


def run_lm_eval(lm: HFLM, ps: PromptSet) -> list[str]:
    gen_kwargs = {"until": list(ps.stop), "max_gen_toks": ps.max_new_tokens, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={}, arguments=(p, dict(gen_kwargs)), idx=i)
        for i, p in enumerate(ps.prompts)
    ]
    return [t.strip() for t in lm.generate_until(requests, disable_tqdm=True)]


@torch.inference_mode()
def run_generate_batch(backend: HFBackend, ps: PromptSet) -> list[str]:
    """transformers' continuous batching; no stop strings, so the text is cut afterwards."""
    tok = backend.tokenizer
    encoded = backend._encode(ps.prompts)
    config = GenerationConfig(
        max_new_tokens=ps.max_new_tokens,
        do_sample=False,
        eos_token_id=sorted(backend.eos_ids),
        pad_token_id=tok.pad_token_id,
    )
    outs = backend.model.generate_batch(encoded, generation_config=config, progress_bar=False)
    by_id = {o.request_id: o for o in outs.values()} if outs else {}
    ordered = [by_id.get(f"req_{i}") for i in range(len(encoded))]
    return [
        backend._finish(list(o.generated_tokens), len(e), ps.stop, 0.0, ps.max_new_tokens).text
        for o, e in zip(ordered, encoded)
    ]


# ------------------------------------------------------------------------------ the run


def agreement(texts: list[str], reference: list[str]) -> float:
    return sum(a == b for a, b in zip(texts, reference, strict=True)) / len(reference)


def measure(
    backend: HFBackend,
    ps: PromptSet,
    contender: str,
    batch_size: int,
    call: Callable[[], list[str]],
    reference: list[Generation],
) -> Measurement:
    needed = sum(max(g.new_tokens - 1, 0) for g in reference)  # the first token comes from prefill
    rec = ForwardRecorder(backend.model)
    try:
        t0 = time.perf_counter()
        texts = call()
        seconds = time.perf_counter() - t0
    finally:
        rec.close()
    m = Measurement(ps.name, contender, batch_size, seconds, sum(g.new_tokens for g in reference))
    m.agreement_with_naive = agreement(texts, [g.text for g in reference])
    m.split = rec.split(needed, seconds)
    if contender == "adaptbench" and backend.last_stats is not None:
        m.split["prefix_tokens_saved"] = backend.last_stats.prefix_tokens_saved
    print(
        f"{ps.name:<9} {contender:<18} bs={batch_size:<3} {seconds:8.2f} s "
        f"{m.tokens_per_s:8.1f} tok/s  agree {m.agreement_with_naive:.3f}  {m.split}",
        flush=True,
    )
    return m


def reference_outputs(
    backend: HFBackend, ps: PromptSet, args: argparse.Namespace
) -> tuple[list[Generation], Measurement | None]:
    """The answers every contender is checked against and whose tokens are counted: the naive
    loop's (timed, as a contender) or, where `--contenders` leaves it out, an untimed run of the
    static path (batched `model.generate`, the algorithm lm-eval uses)."""
    if "naive" not in args.contenders:
        backend.batch_size, backend.scheduler = args.batch_size, "static"
        try:
            return backend.generate(ps.prompts, ps.max_new_tokens, ps.stop), None
        finally:
            backend.scheduler = "continuous"
    t0 = time.perf_counter()
    rec = ForwardRecorder(backend.model)
    try:
        reference = run_naive(backend, ps)
        naive_s = time.perf_counter() - t0
    finally:
        rec.close()
    needed = sum(max(g.new_tokens - 1, 0) for g in reference)
    naive = Measurement(ps.name, "naive", 1, naive_s, sum(g.new_tokens for g in reference), 1.0)
    naive.split = rec.split(needed, naive_s)
    print(
        f"{ps.name:<9} naive              bs=1   {naive_s:8.2f} s {naive.tokens_per_s:8.1f} tok/s"
    )
    return reference, naive


def run_set(
    backend: HFBackend, lms: dict[int, HFLM], ps: PromptSet, args: argparse.Namespace
) -> list[Measurement]:
    chosen = set(args.contenders)
    warm = PromptSet(ps.name, ps.prompts[:WARMUP_PROMPTS], WARMUP_TOKENS, ps.stop)
    if "naive" in chosen:
        run_naive(backend, PromptSet(ps.name, warm.prompts[:1], WARMUP_TOKENS, ps.stop))
    run_adaptbench(backend, warm, len(warm.prompts), "continuous")
    if lms:
        run_lm_eval(lms[args.lm_eval_batch_sizes[0]], warm)

    reference, naive = reference_outputs(backend, ps, args)
    out = [naive] if naive else []
    bs = args.batch_size
    timed: list[tuple[str, int, Callable[[], list[str]]]] = []
    if "adaptbench" in chosen:
        timed.append(("adaptbench", bs, lambda: run_adaptbench(backend, ps, bs, "continuous")))
    if "adaptbench-static" in chosen:
        timed.append(("adaptbench-static", bs, lambda: run_adaptbench(backend, ps, bs, "static")))
    for b in lms:
        timed.append(("lm-eval", b, lambda b=b: run_lm_eval(lms[b], ps)))
    if "transformers-cb" in chosen:
        timed.append(("transformers-cb", 0, lambda: run_generate_batch(backend, ps)))
    for contender, batch_size, call in timed:
        out.append(measure(backend, ps, contender, batch_size, call, reference))
    return out


def best(measurements: list[Measurement], prompt_set: str, contender: str) -> Measurement | None:
    pool = [m for m in measurements if m.prompt_set == prompt_set and m.contender == contender]
    return max(pool, key=lambda m: m.tokens_per_s, default=None)


def _ratio(a: Measurement | None, b: Measurement | None) -> float | None:
    return a.tokens_per_s / b.tokens_per_s if a and b and b.tokens_per_s else None


def summary(measurements: list[Measurement], sets: list[PromptSet]) -> dict:
    """adaptbench's throughput over each other contender's best, per set (None: not run)."""
    out = {}
    for ps in sets:
        ab, le = best(measurements, ps.name, "adaptbench"), best(measurements, ps.name, "lm-eval")
        out[ps.name] = {
            "adaptbench_over_lm_eval_best": _ratio(ab, le),
            "lm_eval_best_batch_size": le.batch_size if le else None,
            "adaptbench_over_static": _ratio(ab, best(measurements, ps.name, "adaptbench-static")),
            "adaptbench_over_naive": _ratio(ab, best(measurements, ps.name, "naive")),
            "all_outputs_identical": all(
                m.agreement_with_naive == 1.0 for m in measurements if m.prompt_set == ps.name
            ),
        }
    return out


def print_table(measurements: list[Measurement], ratios: dict) -> None:
    print()
    print(f"{'set':<9}{'contender':<19}{'batch':>6}{'seconds':>9}{'tok/s':>9}{'agree':>7}"
          f"{'prefill':>9}{'pad':>7}{'decode':>9}{'finished':>9}{'other':>8}")  # fmt: skip
    for m in measurements:
        s = m.split
        print(
            f"{m.prompt_set:<9}{m.contender:<19}{m.batch_size:>6}{m.seconds:>9.2f}"
            f"{m.tokens_per_s:>9.1f}{m.agreement_with_naive:>7.3f}{s['prefill_s']:>9.2f}"
            f"{s['padding_s']:>7.2f}{s['decode_s']:>9.2f}{s['finished_s']:>9.2f}{s['other_s']:>8.2f}"
        )
    print("(seconds of prefill/decode; pad and finished: their share of those seconds)")

    def x(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    for name, r in ratios.items():
        print(
            f"{name}: adaptbench / lm-eval best (bs {r['lm_eval_best_batch_size']}) "
            f"{x(r['adaptbench_over_lm_eval_best'])}, / static {x(r['adaptbench_over_static'])}, "
            f"/ naive {x(r['adaptbench_over_naive'])}; identical outputs: "
            f"{r['all_outputs_identical']}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="suite YAML (first task)")
    p.add_argument("--n", type=int, default=64, help="prompts per set (first N eval items)")
    p.add_argument(
        "--sets", type=lambda s: [x for x in s.split(",") if x], default=[*ARM_SETS, "long"]
    )
    p.add_argument("--long-tokens", type=int, default=96, help="new tokens of the long set")
    p.add_argument("--batch-size", type=int, default=32, help="adaptbench's batch size")
    p.add_argument(
        "--lm-eval-batch-sizes",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=[8, 16, 32, 64],
        help="lm-eval runs at each; its best is compared",
    )
    p.add_argument("--contenders", type=lambda s: [x for x in s.split(",") if x],
                   default=[c for c in CONTENDERS if c != "transformers-cb"],
                   help=f"comma-separated, of {', '.join(CONTENDERS)}")  # fmt: skip
    p.add_argument("--with-generate-batch", action="store_true",
                   help="also time transformers' generate_batch (paged attention)")  # fmt: skip
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    args = p.parse_args(argv)
    if min([args.n, args.batch_size, args.long_tokens, *args.lm_eval_batch_sizes]) < 1:
        p.error("--n, --long-tokens and every batch size must be positive")
    unknown = set(args.sets) - {*ARM_SETS, "long"}
    if unknown or not args.sets:
        p.error(f"--sets: choose from {', '.join([*ARM_SETS, 'long'])}")
    if set(args.contenders) - set(CONTENDERS) or not args.contenders:
        p.error(f"--contenders: choose from {', '.join(CONTENDERS)}")
    if args.with_generate_batch and "transformers-cb" not in args.contenders:
        args.contenders.append("transformers-cb")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its notes on passing a model instance
    model = resolve_model(ModelSpec(), progress=False)
    backend = HFBackend(model.path, device=args.device, dtype=args.dtype, progress=False)
    sets = load_prompt_sets(backend, args)
    with_lm_eval = "lm-eval" in args.contenders
    lms = {b: make_lm_eval(backend, b) for b in args.lm_eval_batch_sizes if with_lm_eval}
    ids = {ps.name: backend._encode(ps.prompts) for ps in sets}
    lm = make_lm_eval(backend, args.lm_eval_batch_sizes[0])  # its tokenisation is checked always
    same_ids = all(
        [lm.tok_batch_encode([p])[0][0].tolist() for p in ps.prompts] == ids[ps.name] for ps in sets
    )
    machine = common_machine_info(
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        lm_eval=getattr(lm_eval, "__version__", "unknown"),
        cuda_device=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    )
    print(f"dtype={args.dtype} device={args.device} threads={machine['torch_threads']} "
          f"cpu={machine['cpu']}; lm-eval prompt ids equal ours: {same_ids}")  # fmt: skip
    measurements = []
    for ps in sets:
        lens = [len(x) for x in ids[ps.name]]
        print(f"\n{ps.name}: {len(lens)} prompts, tokens mean {statistics.mean(lens):.0f} "
              f"max {max(lens)}, max_new_tokens {ps.max_new_tokens}, stop {ps.stop!r}")  # fmt: skip
        measurements += run_set(backend, lms, ps, args)
    ratios = summary(measurements, sets)
    print_table(measurements, ratios)
    record = {
        "benchmark": "bench_generate",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "model": {"name": model.name, "path": str(model.path), "fingerprint": model.fingerprint},
        "prompt_sets": {
            ps.name: {
                "n": len(ps.prompts),
                "token_mean": statistics.mean(len(x) for x in ids[ps.name]),
                "token_max": max(len(x) for x in ids[ps.name]),
                "max_new_tokens": ps.max_new_tokens,
                "stop": ps.stop,
                "prefix_sharing": prefix_sharing(ids[ps.name]),
            }
            for ps in sets
        },
        "prompt_ids_identical": same_ids,
        "token_counting": "answer tokens from the reference's ids (to the EOS or stop, inclusive)",
        "reference": "naive" if "naive" in args.contenders else "static (untimed)",
        "continuous_batching": backend.continuous_unsupported or "used",
        "measurements": [{**asdict(m), "tokens_per_s": m.tokens_per_s} for m in measurements],
        "ratios": ratios,
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
