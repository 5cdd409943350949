"""backend openai against a real OpenAI-compatible server: `vllm serve` of the embedded model,
started (and killed, and restarted) by these tests. Slow; skipped without the vLLM environment
(`make vllm`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main

from .vllm_env import VLLMServer, free_port, needs_vllm, policy_task

pytestmark = [pytest.mark.slow, needs_vllm]

KEY = "sk-vllm-test-5d1e9a0c7b3f4821"


def endpoint_model(vllm_server: VLLMServer, **extra) -> dict:
    return {
        "backend": "openai",
        "model": VLLMServer.NAME,
        "base_url": vllm_server.base_url,
        "api_key_env": "VLLM_TEST_KEY",
        "endpoint": {"tokenizer": "smollm2-135m-instruct", "concurrency": 4} | extra,
    }


def write_suite(tmp_path: Path, arms: list, model: dict | None = None) -> Path:
    suite = {
        "name": "policy-endpoint",
        "seed": 1234,
        "model": model or {"name": "smollm2-135m-instruct", "batch_size": 16},
        "tasks": [policy_task()],
        "arms": arms,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["run", *map(str, args), "--no-progress"])
    return r.exit_code, r.output


def test_rag_on_the_endpoint_and_lora_in_process_in_one_suite(
    vllm_server, tmp_path, monkeypatch, isolated_cache
):
    monkeypatch.setenv("VLLM_TEST_KEY", KEY)
    rag = {
        "arm": "rag",
        "params": {"k": 3, "chunk_tokens": 64, "shots": 3},
        "model": endpoint_model(vllm_server),
    }
    lora = {
        "arm": "lora",
        "params": {"max_train_items": 16, "epochs": 1, "rows_per_step": 2, "grad_accum": 2},
    }
    suite = write_suite(tmp_path, ["base", rag, lora])
    out = tmp_path / "out"
    code, output = run(suite, "--out", out, "--limit", 12)
    assert code == 0, output
    runs = {r["arm"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    assert {a: r["backend"]["kind"] for a, r in runs.items()} == {
        "base": "hf",
        "rag": "openai",
        "lora": "hf",
    }
    assert runs["rag"]["backend"]["served"]["id"] == VLLMServer.NAME
    assert runs["rag"]["backend"]["token_counts"] == "tokenizer"
    usage = runs["rag"]["efficiency"]["server_usage"]
    assert usage["requests"] == 12 and usage["prompt_tokens"] > 12 * 100
    # The prompt the budget counted with the local tokenizer is what the server read.
    counted = runs["rag"]["efficiency"]["prompt_tokens_mean"] * 12
    assert abs(counted - usage["prompt_tokens"]) <= 12 * 2
    assert all(r["status"] == "ok" for r in runs.values())
    report = (out / "report.md").read_text()
    assert "smollm2 (openai)" in report and "smollm2-135m-instruct (hf)" in report
    assert "the arms run on different models" in report
    # Paired comparisons still run: every arm was scored on the same 12 items.
    ids = {
        a: [json.loads(x)["id"] for x in (out / r["samples"]).read_text().splitlines()]
        for a, r in runs.items()
    }
    assert ids["rag"] == ids["base"] == ids["lora"]
    for folder in (out, isolated_cache):
        for f in folder.rglob("*"):
            if f.is_file() and f.suffix in (".json", ".jsonl", ".md", ".html", ".csv", ".txt"):
                assert KEY not in f.read_text(errors="replace"), f


def test_a_server_killed_mid_run_and_restarted_loses_no_finished_item(
    vllm_server, tmp_path, monkeypatch, isolated_cache
):
    monkeypatch.setenv("VLLM_TEST_KEY", KEY)
    model = endpoint_model(vllm_server, concurrency=2, max_wait_s=600)
    suite = write_suite(tmp_path, ["base"], model=model)
    out = tmp_path / "out"
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(
            zip(("code", "output"), run(suite, "--out", out, "--limit", 60))
        )
    )
    runner.start()
    responses = isolated_cache / "responses"
    deadline = time.monotonic() + 300
    while len(list(responses.rglob("*.json"))) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    vllm_server.kill()
    before = {f: f.stat().st_mtime_ns for f in responses.rglob("*.json")}
    assert 6 <= len(before) < 60, "the run finished before the server was killed"
    vllm_server.start()
    runner.join(timeout=900)
    assert result.get("code") == 0, result.get("output")
    after = {f: f.stat().st_mtime_ns for f in responses.rglob("*.json")}
    assert len(after) == 60
    assert all(after[f] == t for f, t in before.items())  # finished answers were not asked again
    rec = json.loads((out / "results.json").read_text())["runs"][0]
    assert rec["status"] == "ok" and rec["metrics"]["exact_match"]["n"] == 60


def test_each_bad_setting_gives_an_error_naming_it(vllm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_TEST_KEY", "sk-wrong")
    suite = write_suite(tmp_path, ["base"], model=endpoint_model(vllm_server))
    code, output = run(suite, "--out", tmp_path / "o")
    assert code == 2 and "model.api_key_env" in output and "$VLLM_TEST_KEY" in output, output
    monkeypatch.setenv("VLLM_TEST_KEY", KEY)
    suite = write_suite(
        tmp_path, ["base"], model=endpoint_model(vllm_server) | {"model": "gpt-nope"}
    )
    code, output = run(suite, "--out", tmp_path / "o")
    assert code == 2 and "model.name 'gpt-nope' is not served" in output and "smollm2" in output, (
        output
    )
    url = f"http://127.0.0.1:{free_port()}/v1"
    suite = write_suite(tmp_path, ["base"], model=endpoint_model(vllm_server) | {"base_url": url})
    code, output = run(suite, "--out", tmp_path / "o")
    assert code == 2 and f"model.base_url {url}: no answer" in output, output
    # A real web server that is not an OpenAI API: a static file server answering HTML.
    site = tmp_path / "site" / "v1"
    site.mkdir(parents=True)
    (site / "models").write_text("<html><body>Sign in</body></html>")
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=site.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        url = f"http://127.0.0.1:{port}/v1"
        suite = write_suite(
            tmp_path, ["base"], model=endpoint_model(vllm_server) | {"base_url": url}
        )
        code, output = run(suite, "--out", tmp_path / "o")
        assert code == 2 and "not JSON" in output and url in output, output
    finally:
        web.kill()
