"""The Ray executor on a local Ray cluster started inside the tests (tiny model; marked slow,
they run in `make test`): the same results as the local executor, each adapter trained once, a
killed worker retried, and a unit no node can host refused before anything runs."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from .conftest import QA_ROWS, write_jsonl

ray = pytest.importorskip("ray", reason="the Ray executor tests need `pip install .[ray]`")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local 2-CPU Ray cluster for this module (workers inherit the venv, not the cache: the
    executor passes ADAPTBENCH_CACHE to every unit)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()


def _grid_suite(tmp_path: Path, model_dir: Path, arms: str, n_eval: int = 6) -> Path:
    data = tmp_path / "data"
    write_jsonl(
        data / "train.jsonl",
        [dict(r, id="t" + r["id"], question=r["question"] + " Tell me.") for r in QA_ROWS],
    )
    rows = [dict(r, id=f"{r['id']}-{i}") for i in range(n_eval // 6 + 1) for r in QA_ROWS]
    write_jsonl(data / "eval.jsonl", rows[:n_eval])
    suite = tmp_path / "grid.yaml"
    suite.write_text(
        f"""
name: grid
seed: 7
model:
  name: {model_dir}
  batch_size: 4
  dtype: float32
tasks:
  - name: qa
    data: {{train: data/train.jsonl, eval: data/eval.jsonl}}
    instruction: Answer briefly.
    template: "Question: {{question}}"
    generation: {{max_new_tokens: 6}}
arms:
{arms}
""",
        encoding="utf-8",
    )
    return suite


LORA = "{epochs: 2, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, grad_accum: 1, max_seq_len: 128}"
GRID_ARMS = f"""  - arm: base
  - arm: few_shot
    params: {{k: 2}}
  - arm: lora
    seeds: [1, 2]
    params: {LORA}
  - arm: lora
    name: lora_rag
    seeds: [1, 2]
    params: {LORA}
    retrieval: {{source: train, k: 2}}
"""


def _metrics(out: Path) -> dict[str, tuple]:
    """Per cell: status, metric values and every item's output text."""
    runs = json.loads((out / "results.json").read_text())["runs"]
    return {
        r["id"]: (
            r["status"],
            {m: v["value"] for m, v in r["metrics"].items()},
            [json.loads(line)["output"] for line in (out / r["samples"]).open()],
        )
        for r in runs
    }


@pytest.mark.slow
def test_ray_gives_the_local_metrics_and_trains_each_adapter_once(
    ray_cluster, tmp_path, tiny_model_dir, monkeypatch, isolated_cache
):
    import torch

    from harness.run.executors.ray_cluster import RayExecutor
    from harness.run.runner import run_suite
    from harness.run.suite import load_suite

    suite = load_suite(_grid_suite(tmp_path, tiny_model_dir, GRID_ARMS))
    local = run_suite(suite, tmp_path / "local", progress=False)
    monkeypatch.setenv("ADAPTBENCH_CACHE", str(tmp_path / "ray-cache"))  # nothing to reuse
    # By default a CPU unit takes the node's cores: the threads of the local run, the same sums.
    executor = RayExecutor()
    remote = run_suite(suite, tmp_path / "ray", progress=False, executor=executor)
    assert executor.cpus_per_unit == torch.get_num_threads()
    assert len(local.records) == len(remote.records) == 6
    assert all(r["status"] == "ok" for r in remote.records)
    cells = _metrics(tmp_path / "local")
    assert _metrics(tmp_path / "ray") == cells

    # The tiny random model answers little, so compare the training itself: the same loss at
    # every step and byte-identical adapters under the same artifact keys.
    def losses(out: Path, cell: str) -> list[float]:
        rec = json.loads((out / "records" / f"{cell}.json").read_text())
        return [p["loss"] for p in rec["efficiency"]["training"]["loss_curve"]]

    for cell in ("qa__lora@seed1", "qa__lora@seed2", "qa__lora_rag@seed1"):
        assert losses(tmp_path / "ray", cell) == losses(tmp_path / "local", cell)
    ray_files = sorted((tmp_path / "ray-cache" / "artifacts").rglob("*.safetensors"))
    assert ray_files
    for f in ray_files:
        twin = isolated_cache / f.relative_to(tmp_path / "ray-cache")
        assert twin.read_bytes() == f.read_bytes(), f
    # lora and lora_rag train without passages: one artifact per seed, trained once each.
    artifacts = list((tmp_path / "ray-cache" / "artifacts").glob("*/training.json"))
    assert len(artifacts) == 2
    trained = [r for r in remote.records if r["kind"] == "lora"]
    assert {r["training_unit"]["status"] for r in trained} == {"ok"}
    assert not any(r["training_unit"]["cached"] for r in trained)  # trained in this run
    assert all(r["placement"]["attempts"] == 1 for r in remote.records)
    # A rerun reuses every finished cell and starts no unit.
    again = run_suite(suite, tmp_path / "ray", progress=False, executor=RayExecutor())
    assert all(r["cached"] for r in again.records)


@pytest.mark.slow
def test_a_worker_killed_mid_cell_is_retried_and_the_run_completes(
    ray_cluster, tmp_path, tiny_model_dir
):
    from harness.run.executors.ray_cluster import RayExecutor
    from harness.run.runner import run_suite
    from harness.run.suite import load_suite

    arms = "  - arm: base\n  - arm: few_shot\n    params: {k: 2}\n"
    suite = load_suite(_grid_suite(tmp_path, tiny_model_dir, arms, n_eval=48))
    executor = RayExecutor(retries=2)
    killed: list[int] = []

    def kill_first_started_unit() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            try:
                seen = ray.get(ray.get_actor(executor.attempts_name).snapshot.remote())[0]
            except ValueError:  # the actor does not exist yet
                seen = {}
            for _unit, (_n, _where, pid) in seen.items():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_started_unit)
    killer.start()
    result = run_suite(suite, tmp_path / "out", progress=False, executor=executor)
    killer.join()
    assert killed, "no unit started within two minutes"
    assert [r["status"] for r in result.records] == ["ok", "ok"]
    assert max(r["placement"]["attempts"] for r in result.records) == 2


@pytest.mark.slow
def test_a_unit_no_node_can_host_is_refused_before_anything_runs(
    ray_cluster, tmp_path, tiny_model_dir
):
    from click.testing import CliRunner

    from harness.cli import main

    arms = "  - arm: base\n    resources: {gpus: 1}\n"
    suite = _grid_suite(tmp_path, tiny_model_dir, arms)
    res = CliRunner().invoke(
        main, ["run", str(suite), "--out", str(tmp_path / "out"), "--executor", "ray"]
    )
    assert res.exit_code == 2, res.output
    assert re.search(r"qa / base asks for \d CPU \+ 1 GPU", res.output)
    assert "no node of the Ray cluster has that" in res.output
    assert not (tmp_path / "out" / "records").exists()


@pytest.mark.slow
def test_a_training_unit_of_two_processes_trains_what_one_process_trains(
    ray_cluster, tmp_path, tiny_model_dir, monkeypatch
):
    from harness.run.executors.ray_cluster import RayExecutor
    from harness.run.runner import run_suite
    from harness.run.suite import load_suite

    # No dropout: its draws differ between one process and two (README, several GPUs).
    one = f"  - arm: lora\n    params: {LORA[:-1]}, dropout: 0.0}}\n"
    two = one + "    resources: {cpus: 1, train_processes: 2}\n"
    local = run_suite(
        load_suite(_grid_suite(tmp_path / "a", tiny_model_dir, one)),
        tmp_path / "one",
        progress=False,
    )
    monkeypatch.setenv("ADAPTBENCH_CACHE", str(tmp_path / "ray-cache"))
    suite = load_suite(_grid_suite(tmp_path / "b", tiny_model_dir, two))
    remote = run_suite(suite, tmp_path / "two", progress=False, executor=RayExecutor())
    a = local.records[0]["efficiency"]["training"]
    b = remote.records[0]["efficiency"]["training"]
    assert (a["processes"], b["processes"]) == (1, 2)
    assert b["steps"] == a["steps"] and b["real_tokens"] == a["real_tokens"]
    for x, y in zip(a["loss_curve"], b["loss_curve"]):
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-4)
    assert remote.records[0]["training_unit"]["cached"] is False


@pytest.mark.slow
def test_an_arm_failure_in_data_parallel_training_is_a_record_with_its_reason(
    ray_cluster, tmp_path, tiny_model_dir
):
    from harness.run.executors.ray_cluster import RayExecutor
    from harness.run.runner import run_suite
    from harness.run.suite import load_suite

    params = LORA[:-1] + ", corpus_training: true}"  # the task has no corpus: every rank fails
    arm = f"  - arm: lora\n    params: {params}\n    resources: {{cpus: 1, train_processes: 2}}\n"
    suite = load_suite(_grid_suite(tmp_path, tiny_model_dir, arm))
    result = run_suite(suite, tmp_path / "out", progress=False, executor=RayExecutor())
    record = result.records[0]
    assert record["status"] == "failed"
    # The arm's own message, not Ray Train's wrapper around it.
    assert record["reason"] == (
        "training failed: ValueError: corpus_training is on but task 'qa' has no corpus"
    )
    assert record["training_unit"]["status"] == "failed"


@pytest.mark.slow
def test_a_metric_added_under_ray_re_scores_and_plans_no_training(
    ray_cluster, tmp_path, tiny_model_dir
):
    from harness.run.executors.ray_cluster import RayExecutor
    from harness.run.runner import run_suite
    from harness.run.suite import load_suite

    arms = f"  - arm: base\n  - arm: lora\n    params: {LORA}\n"
    path = _grid_suite(tmp_path, tiny_model_dir, arms)
    first = run_suite(load_suite(path), tmp_path / "a", progress=False, executor=RayExecutor())
    text = path.read_text().replace(
        "    generation: {max_new_tokens: 6}",
        "    generation: {max_new_tokens: 6}\n    metrics: [exact_match, token_f1, rouge_l]",
    )
    path.write_text(text)
    again = run_suite(load_suite(path), tmp_path / "b", progress=False, executor=RayExecutor())
    assert [r["status"] for r in again.records] == ["ok", "ok"]
    assert all(r.get("rescored") and "rouge_l" in r["metrics"] for r in again.records)
    assert not any("training_unit" in r for r in again.records)  # no training was planned
    for a, b in zip(first.records, again.records):
        assert a["metrics"]["exact_match"] == b["metrics"]["exact_match"]
