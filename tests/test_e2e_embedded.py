"""End to end on the embedded default model (SmolLM2-135M-Instruct from PyPI), small limit.

This is the one real-model test CI runs. The converted model is shared with the user's cache
(converted once, ~1 min); finished runs are not, so the test really generates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.models.resolve import cache_dir
from harness.spec.config import ModelSpec

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture
def shared_model_cache(isolated_cache, monkeypatch):
    monkeypatch.delenv("ADAPTBENCH_CACHE")
    real_models = cache_dir() / "models"
    real_models.mkdir(parents=True, exist_ok=True)
    isolated_cache.mkdir(parents=True, exist_ok=True)
    (isolated_cache / "models").symlink_to(real_models, target_is_directory=True)
    monkeypatch.setenv("ADAPTBENCH_CACHE", str(isolated_cache))


def test_embedded_model_runs_the_policy_suite(shared_model_cache, tmp_path):
    from harness.models.hf import HFBackend
    from harness.models.resolve import resolve_model

    resolved = resolve_model(ModelSpec())
    assert (resolved.path / "model.safetensors").is_file()
    backend = HFBackend(resolved.path, progress=False)
    sanity = backend.generate(
        [backend.format_chat([{"role": "user", "content": "What is the capital of France?"}])],
        16,
        ["\n"],
    )
    assert "Paris" in sanity[0].text, sanity[0].text  # the de-quantised weights are a working model

    out = tmp_path / "out"
    args = ["run", str(ROOT / "suites" / "insurance-policy-qa.yaml"), "--arms", "base,few_shot"]
    result = CliRunner().invoke(main, args + ["--limit", "12", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "results.json").read_text())
    assert payload["model"]["source"] == "embedded"
    for run in payload["runs"]:
        assert run["status"] == "ok" and not run["cached"]
        for name in ("exact_match", "token_f1", "false_answer_rate", "unanswerable_answered"):
            assert 0.0 <= run["metrics"][name]["value"] <= 1.0
        assert run["efficiency"]["tokens_per_s"] > 0
        outputs = [json.loads(r)["output"] for r in (out / run["samples"]).read_text().splitlines()]
        assert len(outputs) == 12 and sum(bool(o) for o in outputs) >= 6
