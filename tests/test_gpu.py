"""CUDA paths: bf16 training, QLoRA on a 4-bit base, peak GPU memory and MFU in the record.

Skipped without CUDA (no GPU on the development or CI machines); run with `pytest -m gpu` on a
machine that has one. The same suite runs on CPU in tests/test_training.py, so what differs here
is only what CUDA changes: the dtype, autocast, the memory counter and the peak FLOP/s.
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from harness.cli import main

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

ARMS = (
    "  - arm: lora\n    params: {epochs: 3, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, max_seq_len: 128}\n"
    "  - arm: full\n    params: {epochs: 2, learning_rate: 0.001, rows_per_step: 2, max_seq_len: 128}\n"
    "  - arm: qlora\n    params: {epochs: 3, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, max_seq_len: 128}\n"
)


def test_fine_tuning_arms_train_in_bf16_on_cuda_and_record_gpu_memory(tiny_suite, tmp_path):
    pytest.importorskip("bitsandbytes")
    tiny_suite.write_text(tiny_suite.read_text().replace("arms:\n", "arms:\n" + ARMS))
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        ["run", str(tiny_suite), "--arms", "base,lora,full,qlora", "--out", str(out)]
        + ["--set", "model.device=cuda", "--no-progress"],
    )
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["device"] == "cuda"
    runs = {x["arm"]: x for x in results["runs"]}
    for arm in ("lora", "full", "qlora"):
        run = runs[arm]
        assert run["status"] == "ok", run.get("reason")
        eff, t = run["efficiency"], run["efficiency"]["training"]
        assert t["bf16_autocast"] is True  # bf16: auto turns it on for CUDA with bf16
        assert eff["memory_kind"] == "cuda" and t["memory_kind"] == "cuda"
        assert 0 < t["peak_memory_bytes"] < torch.cuda.get_device_properties(0).total_memory
        assert t["device_peak_dtype"] == "bfloat16" and 0 < t["mfu"] < 1
        assert t["loss_curve"][-1]["loss"] < t["loss_curve"][0]["loss"]  # it learns
