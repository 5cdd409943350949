"""Forgetting: hand-computed paired figures, and lm-eval probes through the runner (tiny model)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import harness.engine.retention as retention
from harness.cli import main

from .conftest import write_jsonl


def test_forgetting_hand_computed():
    base = {
        "probes": {"mc": {"scores": {"0": 1.0, "1": 1.0, "2": 0.0, "3": 1.0}}},
        "perplexity": 10.0,
    }
    arm = {
        "probes": {"mc": {"scores": {"0": 1.0, "1": 0.0, "2": 0.0, "3": 0.0}}},
        "perplexity": 12.5,
    }
    f = retention.forgetting(base, arm, seed=0)
    mc = f["probes"]["mc"]
    assert mc["value"] == pytest.approx(0.5) and mc["n"] == 4  # 0.75 - 0.25: positive = forgot
    assert (
        mc["base"] == 0.75
        and mc["arm"] == 0.25
        and 0.0 <= mc["ci_low"] <= 0.5 <= mc["ci_high"] <= 1.0
    )
    assert f["mean"]["value"] == pytest.approx(0.5)
    assert f["perplexity"] == {"base": 10.0, "arm": 12.5}
    # Items are paired by id: an item only one side scored is left out.
    arm["probes"]["mc"]["scores"]["9"] = 1.0
    assert retention.forgetting(base, arm, seed=0)["probes"]["mc"]["n"] == 4


@pytest.fixture
def tiny_probes(tmp_path, monkeypatch):
    folder = tmp_path / "probes"
    folder.mkdir()
    for name in ("general_mc.yaml", "short_answer.yaml"):
        shutil.copy(retention.PROBES_DIR / name, folder / name)
    write_jsonl(
        folder / "general_mc.jsonl",
        [
            {"id": f"m{i}", "question": q, "choices": c, "label": 1}
            for i, (q, c) in enumerate(
                [("Capital of France?", ["Rome", "Paris", "Oslo"]), ("2+2?", ["3", "4", "5"])]
            )
        ],
    )
    write_jsonl(
        folder / "short_answer.jsonl",
        [{"id": "s0", "question": "Opposite of up?", "answers": ["down"]}],
    )
    (folder / "heldout_text.txt").write_text(
        "Rain falls on the hills and runs down to the sea. " * 10
    )
    monkeypatch.setattr(retention, "PROBES_DIR", folder)
    return folder


@pytest.mark.slow
def test_trained_arm_reports_forgetting_and_prompting_arms_zero(tiny_suite, tiny_probes, tmp_path):
    text = tiny_suite.read_text().replace(
        "arms:\n",
        "retention: {probes: [general_mc, short_answer], batch_size: 4}\narms:\n"
        "  - arm: lora\n    params: {epochs: 2, r: 4, alpha: 8, learning_rate: 0.05, rows_per_step: 2, max_seq_len: 128}\n",
    )
    tiny_suite.write_text(text)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main, ["run", str(tiny_suite), "--arms", "base,lora", "--out", str(out), "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert (
        runs["base"]["forgetting"]["by_construction"] is True
        and runs["base"]["forgetting"]["mean"]["value"] == 0.0
    )
    f = runs["lora"]["forgetting"]
    assert set(f["probes"]) == {"general_mc", "short_answer"}
    assert f["probes"]["general_mc"]["n"] == 2 and f["probes"]["short_answer"]["n"] == 1
    assert f["mean"]["ci_low"] <= f["mean"]["value"] <= f["mean"]["ci_high"]
    assert f["perplexity"]["base"] > 1 and f["perplexity"]["arm"] > 1
    assert runs["lora"]["efficiency"]["phases"]["retention"]["seconds"] > 0
