"""backend vllm: the offline vLLM engine in the vLLM environment (`make vllm`), on the embedded
model. A suite with base, rag and lora at two seeds runs end to end, loads the base once for
both adapters (evaluated unmerged), and its metrics sit within the CIs of the same suite on hf.
Slow; skipped without the vLLM environment."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from .vllm_env import needs_vllm, policy_task, vllm_python

pytestmark = [pytest.mark.slow, needs_vllm]


def suite_file(tmp_path: Path, backend: str) -> Path:
    model = {"name": "smollm2-135m-instruct", "batch_size": 16, "dtype": "float32"}
    if backend == "vllm":
        model |= {"backend": "vllm", "vllm": {"enforce_eager": True, "max_model_len": 2048}}
    suite = {
        "name": f"policy-{backend}",
        "seed": 1234,
        "model": model,
        "tasks": [policy_task()],
        "arms": [
            "base",
            {"arm": "rag", "params": {"k": 3, "chunk_tokens": 64, "shots": 3}},
            {
                "arm": "lora",
                "seeds": [1, 2],
                "params": {"max_train_items": 16, "epochs": 1, "rows_per_step": 2, "grad_accum": 2},
            },
            {
                "arm": "full",
                "params": {"max_train_items": 8, "epochs": 1, "rows_per_step": 2, "grad_accum": 2},
            },
        ],
    }
    path = tmp_path / f"{backend}.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run_in_vllm_env(suite: Path, out: Path, cache: Path) -> subprocess.CompletedProcess:
    adaptbench = vllm_python().parent / "adaptbench"
    env = os.environ | {"ADAPTBENCH_CACHE": str(cache)}
    return subprocess.run(
        [str(adaptbench), "run", str(suite), "--out", str(out), "--limit", "24", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip


def test_a_suite_on_vllm_matches_hf_and_loads_the_base_once(tmp_path, isolated_cache):
    hf = run_in_vllm_env(suite_file(tmp_path, "hf"), tmp_path / "hf", isolated_cache)
    assert hf.returncode == 0, hf.stderr[-3000:]
    vl = run_in_vllm_env(suite_file(tmp_path, "vllm"), tmp_path / "vllm", isolated_cache)
    assert vl.returncode == 0, vl.stderr[-3000:]
    # One engine for base, rag and both LoRA seeds (the adapters are requests on it); the full
    # fine-tune's checkpoint is a model of its own: a second engine, after the first stopped.
    assert vl.stderr.count("on backend vllm") == 1, vl.stderr[-3000:]
    assert (vl.stdout + vl.stderr).count("Starting to load model") == 2  # vLLM's own log line
    hf_runs = {
        r["arm"]: r for r in json.loads((tmp_path / "hf" / "results.json").read_text())["runs"]
    }
    vl_runs = {
        r["arm"]: r for r in json.loads((tmp_path / "vllm" / "results.json").read_text())["runs"]
    }
    assert set(vl_runs) == {"base", "rag", "lora@seed1", "lora@seed2", "full"}
    for arm, r in vl_runs.items():
        assert r["status"] == "ok", (arm, r.get("reason"))
        assert r["backend"]["kind"] == "vllm" and r["backend"]["engine"].startswith("vllm")
        for metric in ("exact_match", "token_f1"):
            m, ref = r["metrics"][metric], hf_runs[arm]["metrics"][metric]
            assert ref["ci_low"] <= m["value"] <= ref["ci_high"], (arm, metric, m, ref)
    # The same trained adapters (one artifact per seed, trained once on transformers).
    assert vl_runs["lora@seed1"]["efficiency"]["training"]["artifact_cached"] is True
    assert vl_runs["full"]["efficiency"]["training"]["artifact_cached"] is True
    assert vl_runs["lora@seed1"]["content_hash"] != hf_runs["lora@seed1"]["content_hash"]
