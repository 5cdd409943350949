"""Data-parallel training: two processes (Gloo on CPU) train exactly what one process trains."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from transformers import AutoModelForCausalLM

from harness.common import distributed
from harness.engine.training import Example, TrainParams, pack, train

PARAMS = TrainParams(
    epochs=2, learning_rate=1e-2, rows_per_step=3, grad_accum=2, early_stopping_patience=None
)


def rows():
    g = torch.Generator().manual_seed(1)
    out = []
    for n in (7, 12, 5, 9, 16, 3, 11, 8, 6, 14, 4):
        ids = torch.randint(5, 300, (n,), generator=g).tolist()
        out.append(Example(ids, [-100] * (n // 3) + ids[n // 3 :]))
    return pack(out, 24, 0, packing=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trained(model_dir: Path, dev: bool) -> tuple[dict, dict]:
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    data = rows()
    stats = train(model, data, data[:4] if dev else [], PARAMS, 0, "cpu", seed=3, progress=False)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, stats


def _rank(rank: int, world: int, port: int, model_dir: Path, out: Path) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    distributed.init("cpu")
    weights, stats = trained(model_dir, dev=True)
    if rank == 0:
        torch.save(weights, out / "weights.pt")  # our own tensors, read back with weights_only
        (out / "stats.json").write_text(json.dumps(stats))
    torch.distributed.destroy_process_group()


def test_two_processes_train_what_one_process_trains(tiny_model_dir, tmp_path):
    one_weights, one = trained(tiny_model_dir, dev=True)
    mp.spawn(_rank, args=(2, free_port(), tiny_model_dir, tmp_path), nprocs=2, join=True)
    two_weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    two = json.loads((tmp_path / "stats.json").read_text())
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["steps"] == one["steps"] and two["real_tokens"] == one["real_tokens"]
    for a, b in zip(one["loss_curve"], two["loss_curve"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    for a, b in zip(one["dev_loss_curve"], two["dev_loss_curve"], strict=True):
        assert a["dev_loss"] == pytest.approx(b["dev_loss"], rel=1e-4)
    start = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict()
    assert any(not torch.equal(w, start[k]) for k, w in one_weights.items())  # training moved them
    for name, w in one_weights.items():
        torch.testing.assert_close(two_weights[name], w, rtol=1e-4, atol=1e-5)


def test_shard_slices_every_micro_batch(monkeypatch):
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    step = [[0, 1, 2, 3], [4, 5, 6], [7]]
    monkeypatch.setenv("RANK", "0")
    first = distributed.shard(step)
    monkeypatch.setenv("RANK", "1")
    second = distributed.shard(step)
    assert first == [[0, 1], [4, 5], [7]] and second == [[2, 3], [6]]


LAUNCHERS = {
    "torchrun": [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
    ],
    "accelerate": [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--main_process_port",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_launchers_run_a_suite_on_two_processes(launcher, tiny_suite, tmp_path):
    """The README's commands end to end (Gloo on CPU): rank 0 records and reports, rank 1 trains."""
    text = tiny_suite.read_text().replace(
        "arms:\n",
        "arms:\n  - arm: lora\n    params: {epochs: 1, r: 4, alpha: 8, rows_per_step: 2, max_seq_len: 128}\n",
    )
    tiny_suite.write_text(text)
    out = tmp_path / "run"
    cmd = LAUNCHERS[launcher] + [str(free_port()), "-m", "harness.cli", "run", str(tiny_suite)]
    cmd += ["--arms", "base,lora", "--out", str(out), "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert runs["lora"]["status"] == "ok" and runs["base"]["status"] == "ok"
    assert runs["lora"]["efficiency"]["training"]["processes"] == 2


def test_two_processes_converting_the_model_keep_the_first_copy(tmp_path):
    from harness.models.resolve import _place_conversion

    def converted(text):
        def fill(folder):
            for name in ("config.json", "model.safetensors", "adaptbench-source.json"):
                (folder / name).write_text(text)

        return fill

    target = tmp_path / "models" / "m"
    _place_conversion(target, converted("first"))
    _place_conversion(target, converted("second"))  # lost the race: no error
    assert (target / "config.json").read_text() == "first"
    assert list(target.parent.iterdir()) == [target]  # no temporary folder left
    # a stale half-written folder is replaced
    (target / "model.safetensors").unlink()
    _place_conversion(target, converted("third"))
    assert (target / "config.json").read_text() == "third"
