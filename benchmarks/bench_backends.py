"""Backend parity: the same prompts through `hf` (transformers, the reference), `vllm` (the
offline engine) and `openai` (a local `vllm serve`, through adaptbench's endpoint client).

Prompt sets are bench_generate's (the first `--n` eval items of the shipped policy-QA suite):
base and rag (the prompts those arms send) and long (a paragraph answer, `--long-tokens` new
tokens, no stop string). hf and vllm read the same token ids (adaptbench renders and tokenises
for both); the endpoint gets the arms' messages through the chat API and the server renders
them with the same chat template.

Recorded per set and backend: seconds, answer tokens and tokens/s (each backend's own count),
the share of outputs identical to hf's, and for base and rag the paired difference of
exact_match and token_f1 from hf's on the same items (95% paired-bootstrap CI).

Run from the vLLM environment (`make vllm`) on a quiet machine::

    .venv-vllm/bin/python benchmarks/bench_backends.py
    .venv-vllm/bin/python benchmarks/bench_backends.py --n 4 --long-tokens 8 --no-serve  # smoke

Results go to `benchmarks/results/bench_backends.json` (`--out` to change).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import machine_info, write_json  # noqa: E402
from bench_generate import DEFAULT_SUITE, PromptRecorder, PromptSet, load_prompt_sets  # noqa: E402

from harness.common.stats import paired_bootstrap  # noqa: E402
from harness.data.tasks import load_task  # noqa: E402
from harness.metrics import Prediction, get_metric  # noqa: E402
from harness.models import vllm_engine  # noqa: E402
from harness.models.endpoint import EndpointBackend, describe  # noqa: E402
from harness.models.hf import HFBackend  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402
from harness.run.suite import load_suite  # noqa: E402
from harness.spec.model import ModelSpec, VLLMSettings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from vllm_env import VLLMServer  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_backends.json"
SCORED_SETS = ("base", "rag")
METRICS = ("exact_match", "token_f1")


def timed(backend, ps: PromptSet) -> tuple[list, float]:
    backend.generate(ps.prompts[:4], 4, ps.stop)  # warm-up, untimed
    t0 = time.perf_counter()
    outs = backend.generate(ps.prompts, ps.max_new_tokens, ps.stop)
    return outs, time.perf_counter() - t0


def scores(items, texts: list[str], metric: str) -> list[float]:
    m = get_metric(metric)
    out = []
    for item, text in zip(items, texts):
        s = m(item, Prediction(output=text))
        out.append(s.value if s is not None else 0.0)
    return out


def compare(name: str, ps: PromptSet, outs, seconds: float, ref: dict | None, items) -> dict:
    texts = [o.text for o in outs]
    tokens = sum(o.new_tokens for o in outs)
    row = {
        "backend": name,
        "set": ps.name,
        "n": len(texts),
        "seconds": round(seconds, 3),
        "answer_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
        "texts": texts,
    }
    if ref is not None:
        row["identical_to_hf"] = sum(a == b for a, b in zip(texts, ref["texts"])) / len(texts)
        row["speed_vs_hf"] = round(ref["seconds"] / seconds, 3) if seconds else None
        if ps.name in SCORED_SETS:
            row["paired_vs_hf"] = {
                m: paired_bootstrap(scores(items, ref["texts"], m), scores(items, texts, m))
                for m in METRICS
            }
    if ps.name in SCORED_SETS:
        row["metrics"] = {m: sum(scores(items, texts, m)) / len(texts) for m in METRICS}
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    p.add_argument("--n", type=int, default=32, help="prompts per set (first N eval items)")
    p.add_argument("--sets", type=lambda s: s.split(","), default=["base", "rag", "long"])
    p.add_argument("--long-tokens", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--compile", action="store_true", help="let vLLM compile (minutes on CPU)")
    p.add_argument("--no-serve", action="store_true", help="leave out the vllm serve endpoint")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    args.device, args.dtype = "cpu", "float32"

    path = resolve_model(ModelSpec(), progress=False).path
    items = load_task(load_suite(args.suite).tasks[0]).eval[: args.n]
    hf = HFBackend(path, device="cpu", dtype="float32", batch_size=args.batch_size, progress=False)
    sets = load_prompt_sets(hf, args)
    rows, refs = [], {}
    for ps in sets:
        outs, seconds = timed(hf, ps)
        refs[ps.name] = compare("hf", ps, outs, seconds, None, items)
        rows.append(refs[ps.name])
        print(f"hf {ps.name}: {seconds:.1f} s", flush=True)

    settings = VLLMSettings(enforce_eager=not args.compile, max_model_len=4096)
    t0 = time.perf_counter()
    vl = vllm_engine.VLLMBackend(
        path, "cpu", "float32", args.batch_size, settings=settings, progress=False
    )
    load_s = time.perf_counter() - t0
    for ps in sets:
        outs, seconds = timed(vl, ps)
        rows.append(compare("vllm", ps, outs, seconds, refs[ps.name], items))
        print(f"vllm {ps.name}: {seconds:.1f} s", flush=True)
    vllm_engine._shutdown(vllm_engine._ENGINE.pop(next(iter(vllm_engine._ENGINE))))

    serve = None
    if not args.no_serve:
        server = VLLMServer(Path(tempfile.mkdtemp()) / "serve.log", key="bench")
        os.environ["BENCH_KEY"] = "bench"
        server.start()
        try:
            spec = ModelSpec.model_validate(
                {"backend": "openai", "model": VLLMServer.NAME, "base_url": server.base_url,
                 "api_key_env": "BENCH_KEY", "endpoint": {"concurrency": args.batch_size}}
            )  # fmt: skip
            ep = EndpointBackend(spec, describe(spec), Path(tempfile.mkdtemp()), progress=False)
            recorder_sets = load_prompt_sets(PromptRecorder(ep), args)
            for ps in recorder_sets:
                outs, seconds = timed(ep, ps)
                rows.append(compare("openai (vllm serve)", ps, outs, seconds, refs[ps.name], items))
                print(f"openai {ps.name}: {seconds:.1f} s", flush=True)
            serve = {
                "flags": "--enforce-eager --dtype float32 --max-model-len 2048",
                "concurrency": args.batch_size,
            }
        finally:
            server.kill()

    record = {
        "benchmark": "bench_backends",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(vllm=vllm_engine.engine_version()),
        "n": args.n,
        "batch_size": args.batch_size,
        "vllm": {"enforce_eager": not args.compile, "load_seconds": round(load_s, 1)},
        "serve": serve,
        "rows": rows,
    }
    write_json(args.out, record)
    print(
        f"{'set':6} {'backend':22} {'seconds':>8} {'tok/s':>7} {'x hf':>6} {'same':>5}  paired EM / F1 vs hf"
    )
    for r in rows:
        pv = r.get("paired_vs_hf") or {}
        deltas = "  ".join(
            f"{m} {v['delta']:+.3f} [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]"
            for m, v in pv.items()
        )
        print(
            f"{r['set']:6} {r['backend']:22} {r['seconds']:8.1f} {r['tokens_per_s'] or 0:7.1f} "
            f"{r.get('speed_vs_hf') or 1:6.2f} {r.get('identical_to_hf', 1):5.2f}  {deltas}"
        )


if __name__ == "__main__":
    main()
