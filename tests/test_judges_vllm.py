"""A judge through a real `vllm serve` of the embedded model: the shipped policy-QA task, its
arms on the same endpoint, judged with repeats; another rubric re-judges the stored answers and
generates nothing. Slow; skipped without the vLLM environment (`make vllm`)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.spec import judge as judge_spec

from .vllm_env import VLLMServer, needs_vllm, policy_task

pytestmark = [pytest.mark.slow, needs_vllm]

KEY = "sk-vllm-judge-7c2e4f9a1b6d3058"


def test_judge_on_vllm_serve_rescores_without_regenerating(vllm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_TEST_KEY", KEY)
    endpoint = {
        "backend": "openai",
        "model": VLLMServer.NAME,
        "base_url": vllm_server.base_url,
        "api_key_env": "VLLM_TEST_KEY",
    }
    task = policy_task() | {
        "metrics": ["exact_match", "unsupported_by_context", "answer_correctness", "groundedness"]
    }
    rubric = tmp_path / "rubric"
    shutil.copytree(judge_spec.RUBRICS_DIR / "v1", rubric)
    suite = {
        "name": "policy-judged",
        "seed": 1234,
        "model": endpoint | {"endpoint": {"tokenizer": "smollm2-135m-instruct"}},
        "tasks": [task],
        "arms": ["base", {"arm": "rag", "params": {"k": 3, "chunk_tokens": 64, "shots": 3}}],
        "judge": endpoint | {"repeats": 2},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    out = tmp_path / "out"

    def run():
        r = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--limit", "12"])
        assert r.exit_code == 0, r.output
        runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
        return r.output, runs

    _, first = run()
    judge = first["rag"]["judges"]["judge"]
    assert judge["backend"] == "openai" and judge["repeats"] == 2
    assert judge["groundedness"]["repeats"] == 2 and judge["usage"]["prompts"] > 0
    assert first["rag"]["metrics"]["answer_correctness"]["n"] == 12
    requests = first["rag"]["efficiency"]["server_usage"]["requests"]

    suite["judge"]["rubric"] = str(rubric)
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    output, again = run()
    assert "generated nothing" in output and "running on" not in output
    assert again["rag"]["rescored"] and again["rag"]["judges"]["judge"]["rubric"] == str(rubric)
    assert again["rag"]["efficiency"]["server_usage"]["requests"] == requests
