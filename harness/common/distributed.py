"""Data-parallel training over several processes (GPUs), started by `accelerate launch` or `torchrun`.

Both launchers start one process per GPU and set RANK, WORLD_SIZE and LOCAL_RANK. adaptbench then:

* trains every fine-tuned arm on all processes together: each optimizer step's rows are split
  between the processes, and the gradients are summed across them before the step, so an
  optimizer step sees exactly the rows it sees on one device (same hyperparameters, same
  result up to floating-point order and dropout draws; the artifact cache is shared);
* does everything else (evaluation, retention, reports, artifacts) on rank 0 only; the other
  ranks only join the training of arms that are not cached yet.

Without those variables (a plain `adaptbench run`) every function here is a no-op.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch

# Rank 0 evaluates while the other ranks wait for the next training: a long wait is normal.
WAIT = timedelta(hours=12)
BUCKET = 32 * 2**20  # elements per gradient all-reduce (128 MiB of fp32)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    return (
        world_size() > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()
    )


def processes() -> int:
    """How many processes train together (1 outside a launched multi-process run)."""
    return world_size() if active() else 1


def barrier() -> None:
    """Wait until every process got here (a no-op outside a multi-process run)."""
    if active():
        torch.distributed.barrier()


def init(device: str) -> None:
    """Join the process group when started by a launcher (NCCL on CUDA, Gloo on CPU)."""
    if world_size() <= 1 or torch.distributed.is_initialized():
        return
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) are visible: "
                "start one process per GPU (accelerate launch --num_processes N)"
            )
        torch.cuda.set_device(local)
    backend = "nccl" if device == "cuda" else "gloo"
    torch.distributed.init_process_group(backend=backend, timeout=WAIT)


def shard(micro_batches: list[list[int]]) -> list[list[int]]:
    """This rank's part of one optimizer step: a contiguous slice of every micro-batch.

    Slicing each micro-batch (rather than dealing whole micro-batches out) keeps every rank busy
    when the step has fewer micro-batches than ranks, and keeps length-grouped rows together.
    """
    n, r = processes(), rank()
    if n == 1:
        return micro_batches
    out = []
    for m in micro_batches:
        size = -(-len(m) // n)
        part = m[r * size : (r + 1) * size]
        if part:
            out.append(part)
    return out


def sum_across(values: list[float], device: str) -> list[float]:
    """Element-wise sum of a few numbers over all ranks (identity on one process)."""
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()


def sum_gradients(params: list[torch.nn.Parameter]) -> None:
    """Sum every parameter's gradient over all ranks, in buckets (a rank without rows sends zeros)."""
    if not active():
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    bucket: list[torch.Tensor] = []

    def flush():
        flat = torch.cat([g.reshape(-1) for g in bucket])
        torch.distributed.all_reduce(flat)
        offset = 0
        for g in bucket:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()
        bucket.clear()

    size = 0
    for p in params:
        bucket.append(p.grad)
        size += p.grad.numel()
        if size >= BUCKET:
            flush()
            size = 0
    if bucket:
        flush()


def same_start(params: list[torch.nn.Parameter]) -> None:
    """Copy rank 0's trainable weights to every rank (adapters are initialised at random)."""
    if not active():
        return
    with torch.no_grad():
        for p in params:
            torch.distributed.broadcast(p.data, src=0)
