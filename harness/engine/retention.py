"""Retention probes through lm-eval, forgetting with paired CIs, and held-out perplexity.

Forgetting of an arm on a probe = score(base) - score(arm) on the same items (positive: the arm
forgot), with a paired bootstrap CI over those items from lm-eval's per-sample logs. Arms that do
not change weights (prompting, retrieval) forget nothing by construction and say so. The base
model's probe scores are computed once and cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from harness.common.cache_entry import read_json_entry
from harness.common.files import write_text_atomic
from harness.common.measure import Timer
from harness.common.stats import DEFAULT_RESAMPLES, paired_bootstrap
from harness.metrics.hallucination import answer_is_correct
from harness.models.resolve import cache_dir
from harness.spec.config import RetentionSpec

PROBES_DIR = Path(__file__).resolve().parent.parent / "probes"
SHIPPED = {"general_mc": "general_mc.yaml", "short_answer": "short_answer.yaml"}


def probe_config(name: str) -> dict | str:
    """A shipped probe as an lm-eval task dict (data path made absolute); other names pass through."""
    if name not in SHIPPED:
        return name
    cfg = yaml.safe_load((PROBES_DIR / SHIPPED[name]).read_text(encoding="utf-8"))
    files = cfg["dataset_kwargs"]["data_files"]
    cfg["dataset_kwargs"]["data_files"] = {k: str(PROBES_DIR / v) for k, v in files.items()}
    return cfg


def data_fingerprint() -> str:
    h = hashlib.sha256()
    for f in sorted(PROBES_DIR.glob("*")):
        if f.suffix in (".yaml", ".jsonl", ".txt"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def run_probes(backend, spec: RetentionSpec) -> dict[str, dict]:
    """{probe: {"scores": {doc_id: 0/1}, "mean": float, "n": int}} for one model, via lm-eval."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    kwargs = dict(
        pretrained=backend.model,
        tokenizer=backend.tokenizer,
        batch_size=spec.batch_size,
        add_bos_token=False,
    )
    if hasattr(backend, "loglikelihood_tokens"):  # each choice's context computed once
        from harness.models.lm_eval_adapter import SharedContextHFLM

        lm = SharedContextHFLM(**kwargs, scorer=backend)
    else:
        lm = HFLM(**kwargs)
    needs_defaults = any(p not in SHIPPED for p in spec.probes)
    manager = TaskManager(include_path=str(PROBES_DIR), include_defaults=needs_defaults)
    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=[probe_config(p) for p in spec.probes],
        task_manager=manager,
        limit=spec.limit,
        log_samples=True,
        apply_chat_template=backend.use_chat,
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
    )
    out = {}
    for probe in spec.probes:
        task_name = probe_config(probe)["task"] if probe in SHIPPED else probe
        scores = {}
        for sample in results["samples"][task_name]:
            scores[str(sample["doc_id"])] = _sample_score(sample)
        values = list(scores.values())
        out[probe] = {
            "scores": scores,
            "mean": float(np.mean(values)) if values else None,
            "n": len(values),
        }
    return out


def _sample_score(sample: dict) -> float:
    doc = sample["doc"]
    if "answers" in doc and isinstance(doc["answers"], list):  # shipped short-answer probe
        response = sample["filtered_resps"][0]
        text = response if isinstance(response, str) else str(response)
        return float(answer_is_correct(text, tuple(doc["answers"]))[0])
    for key in ("acc", "exact_match"):
        if key in sample:
            return float(sample[key])
    raise ValueError(f"lm-eval sample has no acc or exact_match: {sorted(sample)}")


@torch.inference_mode()
def perplexity(backend, text: str, window: int = 256) -> float:
    """Token-level perplexity of plain text, in non-overlapping windows (no chat template)."""
    ids = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = torch.tensor([ids[start : start + window + 1]], device=backend.device)
        if chunk.shape[1] < 2:
            continue
        logits = backend.model(input_ids=chunk[:, :-1], use_cache=False).logits.float()
        loss = torch.nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum")
        total, count = total + float(loss), count + chunk.shape[1] - 1
    return math.exp(total / max(count, 1))


def measure(backend, spec: RetentionSpec) -> dict:
    """Probe scores (and perplexity) of one model, with the time they took."""
    with Timer() as t:
        probes = run_probes(backend, spec)
        ppl = (
            perplexity(backend, (PROBES_DIR / "heldout_text.txt").read_text())
            if spec.perplexity
            else None
        )
    return {"probes": probes, "perplexity": ppl, "seconds": round(t.seconds, 3)}


def base_measurement(backend, spec: RetentionSpec, model_fingerprint: str) -> dict:
    """The base model's probe scores, cached by model, probe settings and probe data."""
    key_src = json.dumps([model_fingerprint, spec.model_dump(), data_fingerprint()], sort_keys=True)
    path = cache_dir() / "retention" / f"{hashlib.sha256(key_src.encode()).hexdigest()[:20]}.json"

    def damaged(problem: str) -> None:
        print(
            f"[adaptbench] warning: damaged cache entry {path} ({problem}); measuring again",
            file=sys.stderr,
        )

    cached = read_json_entry(path, damaged)
    if cached is not None:
        if isinstance(cached.get("probes"), dict):
            return cached | {"cached": True}
        damaged("not a probe measurement")
    result = measure(backend, spec)
    write_text_atomic(path, json.dumps(result))
    return result | {"cached": False}


def forgetting(base: dict, arm: dict, seed: int) -> dict:
    """Per probe: base - arm with a paired bootstrap CI on shared items; and the mean over probes."""
    per_probe, diffs = {}, []
    for probe, b in base["probes"].items():
        a = arm["probes"].get(probe)
        if a is None:
            continue
        shared = sorted(set(b["scores"]) & set(a["scores"]))
        arm_v = np.array([a["scores"][i] for i in shared])
        base_v = np.array([b["scores"][i] for i in shared])
        test = paired_bootstrap(arm_v, base_v, seed=seed)  # delta = mean(base) - mean(arm)
        per_probe[probe] = {
            "value": test["delta"],
            "ci_low": test["ci_low"],
            "ci_high": test["ci_high"],
            "n": len(shared),
            "base": float(base_v.mean()),
            "arm": float(arm_v.mean()),
        }
        diffs.append(base_v - arm_v)
    out: dict = {"probes": per_probe}
    if diffs:
        out["mean"] = _mean_over_probes(diffs, seed)
    if arm.get("perplexity") is not None and base.get("perplexity") is not None:
        out["perplexity"] = {"base": base["perplexity"], "arm": arm["perplexity"]}
    return out


def _mean_over_probes(
    diffs: list[np.ndarray], seed: int, resamples: int = DEFAULT_RESAMPLES
) -> dict:
    """Mean of the per-probe forgetting, with a CI from resampling each probe's items."""
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for d in diffs:
        idx = rng.integers(0, d.size, size=(resamples, d.size))
        means += d[idx].mean(axis=1)
    means /= len(diffs)
    lo, hi = np.quantile(means, [0.025, 0.975])
    value = float(np.mean([d.mean() for d in diffs]))
    return {
        "value": value,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n": int(sum(d.size for d in diffs)),
    }


def not_applicable(spec: RetentionSpec) -> dict:
    return {
        "by_construction": True,
        "note": "this arm does not change the model's weights: it forgets nothing by construction",
        "probes": {p: {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 0} for p in spec.probes},
        "mean": {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 0},
    }
