"""Efficiency gates that mean the same on any runner: time normalised by each run's calibration
with its noise tolerated, work measures as they are, and "not comparable" across device kinds."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.common.calibrate import calibrate
from harness.models.backend import Generation
from harness.reports.efficiency_gate import check
from harness.spec.config import GateSpec
from harness.spec.record import RunRecord
from harness.spec.record_setup import BackendInfo, ServedModel

from .fake_backend import FakeBackend, install


def record(latency=1.0, cal=1.0, spread=0.0, device="cpu", name=None, prompt=100.0) -> RunRecord:
    return RunRecord.model_validate(
        {
            "task": "t",
            "arm": "base",
            "kind": "base",
            "efficiency": {
                "latency_p95_s": latency,
                "prompt_tokens_mean": prompt,
                "items": 10,
                "generated_tokens": 50,
                "calibration": {"seconds": cal, "spread": spread},
            },
            "environment": {"device": device, "device_name": name},
            "spec": {"model": {"resolved_dtype": "float32", "batch_size": 32}},
        }
    )


LATENCY = GateSpec(efficiency="latency_p95_s", max_increase=0.2)


def test_a_slower_runner_is_not_a_regression_but_slower_work_is():
    base = record(latency=1.0, cal=1.0)
    # Twice the latency on a runner twice as slow: the same work.
    assert check(LATENCY, record(latency=2.0, cal=2.0), base, False).passed
    # Twice the latency on the same speed: a regression, raw seconds in the message.
    v = check(LATENCY, record(latency=2.0, cal=1.0), base, False)
    assert not v.passed and "+100%" in v.message and "raw 2 vs 1" in v.message
    # The calibration's measured noise is tolerated on top of max_increase, and printed.
    v = check(LATENCY, record(latency=1.3, cal=1.0, spread=0.15), base, False)
    assert v.passed and "noise 15%" in v.message


def test_another_device_kind_is_not_comparable():
    base = record(device="cuda", name="NVIDIA H100")
    v = check(LATENCY, record(latency=50.0), base, False)
    assert v.passed and v.skipped
    assert "not comparable: baseline device cuda:NVIDIA H100, run device cpu" in v.message
    assert not check(LATENCY, record(latency=50.0), base, True).passed  # --strict
    # Another CPU model is comparable: that is what the calibration is for.
    assert check(LATENCY, record(latency=1.0), record(device="cpu"), False).passed


def test_work_measures_are_compared_as_they_are():
    gate = GateSpec(efficiency="prompt_tokens_mean", max_increase=0.1)
    v = check(gate, record(prompt=140.0, cal=3.0), record(prompt=100.0), False)
    assert not v.passed and "+40%" in v.message
    gen = GateSpec(efficiency="generated_tokens_per_item", max_increase=0.1)
    assert check(gen, record(), record(), False).passed


class PaddedFake(FakeBackend):
    """A fake model whose prompts are `pad` longer and whose latency is real work in proportion
    to its prompt tokens (the calibration's kind of work), so a slower machine slows both."""

    def __init__(self, pad: float):
        super().__init__()
        self.pad = pad

    def format_chat(self, messages):
        text = super().format_chat(messages)
        words = text.split()
        return text + " pad" * round(len(words) * self.pad)

    def generate(self, prompts, max_new_tokens, stop):
        outs = super().generate(prompts, max_new_tokens, stop)
        timed = []
        for prompt, o in zip(prompts, outs):
            t0 = time.perf_counter()
            for _ in range(self.count_tokens(prompt)):  # milliseconds per token
                calibrate_work()
            timed.append(
                Generation(
                    o.text, o.prompt_tokens, o.new_tokens, time.perf_counter() - t0, o.finish
                )
            )
        return timed


def calibrate_work():
    import torch

    a = torch.ones(256, 256)
    for _ in range(2):
        a = torch.tanh(a @ a)


def test_forty_percent_more_prompt_tokens_fails_the_token_and_the_normalised_latency_gate(
    tmp_path, tiny_suite, monkeypatch
):
    suite = yaml.safe_load(tiny_suite.read_text())
    suite["gates"] = [
        {"efficiency": "prompt_tokens_mean", "max_increase": 0.1},
        {"efficiency": "latency_p95_s", "max_increase": 0.0},  # the noise alone is tolerated
    ]
    suite["arms"] = ["base"]
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(suite))
    install(PaddedFake(0.0), monkeypatch)
    r = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "a"), "--no-progress"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main, ["baseline", str(tmp_path / "a"), "--name", "b", "--dir", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    install(PaddedFake(0.4), monkeypatch)
    r = CliRunner().invoke(
        main, ["run", str(path), "--out", str(tmp_path / "b"), "--force", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    runs = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    noise = runs[0]["efficiency"]["calibration"]["spread"]
    base_noise = json.loads((tmp_path / "b.json").read_text())["runs"][0]["efficiency"][
        "calibration"
    ]["spread"]
    r = CliRunner().invoke(
        main, ["gate", str(tmp_path / "b"), "--baseline", str(tmp_path / "b.json")]
    )
    assert r.exit_code == 1, r.output
    assert "worse: prompt_tokens_mean" in r.output and "+4" in r.output
    if noise + base_noise > 0.2:
        pytest.skip(
            f"this machine's calibration noise ({noise + base_noise:.0%}) hides a 40% change"
        )
    assert "worse: normalised latency_p95_s" in r.output, r.output


def test_calibration_times_the_model_that_answers(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    cal = calibrate(model, repeats=2)
    assert cal["with_model"] and cal["seconds"] > 0 and len(cal["repeats"]) == 2
    assert cal["spread"] >= 0


def test_zero_baselines_endpoints_and_memory_kinds():
    zero = GateSpec(efficiency="params_trainable", max_increase=0.0)
    base, run = record(), record()
    base.efficiency.params_trainable = run.efficiency.params_trainable = 0
    assert check(zero, run, base, False).passed  # 0 -> 0: no change
    run.efficiency.params_trainable = 10
    assert not check(zero, run, base, False).passed  # 0 -> 10: an unbounded rise
    # An endpoint's latency is its server's: compared raw, and only against the same server.
    ep = BackendInfo(kind="openai", base_url="http://127.0.0.1:8000/v1", served=ServedModel(id="m"))
    b, r = record(latency=1.0, cal=1.0), record(latency=1.1, cal=5.0)
    b.backend = r.backend = ep
    v = check(LATENCY, r, b, False)
    assert v.passed and "+10%" in v.message and "normalised" not in v.message
    r.backend = ep.model_copy(update={"base_url": "https://api.example.com/v1"})
    assert check(LATENCY, r, b, False).skipped
    memory = GateSpec(efficiency="peak_memory_bytes", max_increase=0.1)
    b, r = record(), record()
    b.efficiency.peak_memory_bytes, b.efficiency.memory_kind = 100, "cuda"
    r.efficiency.peak_memory_bytes, r.efficiency.memory_kind = 900, "rss"
    assert check(memory, r, b, False).skipped
