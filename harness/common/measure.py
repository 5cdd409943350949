"""THE only place that times, counts tokens and reads memory, and turns them into rates
(tokens/s, model FLOPs utilisation).

Peak memory is per phase: CUDA peak allocated (reset at the start of each phase) when the work
runs on a GPU, else the peak resident set size of this process, sampled by a background thread
(ru_maxrss cannot be reset, so it would carry one phase's peak into the next).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:  # not Linux: lifetime peak is the best we have
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _cuda_active() -> bool:
    try:
        import torch

        return torch.cuda.is_available() and torch.cuda.is_initialized()
    except Exception:  # pragma: no cover - torch missing or broken
        return False


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    peak_bytes: int = 0
    memory_kind: str = "rss"  # "rss" (process resident set) or "cuda" (max_memory_allocated)


class _RssSampler:
    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak = current_rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss_bytes())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_bytes())


@contextmanager
def phase(name: str) -> Iterator[Phase]:
    """Time a phase and record its peak memory."""
    ph = Phase(name)
    cuda = _cuda_active()
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        ph.memory_kind = "cuda"
    start = time.perf_counter()
    with _RssSampler() as sampler:
        try:
            yield ph
        finally:
            if cuda:
                torch.cuda.synchronize()
                ph.peak_bytes = int(torch.cuda.max_memory_allocated())
            ph.seconds = time.perf_counter() - start
    if not cuda:
        ph.peak_bytes = sampler.peak


class Timer:
    """Wall time of one block, for per-batch latencies."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start

    def elapsed(self) -> float:
        """Seconds since the block started (while it is still running)."""
        return time.perf_counter() - self.start


@dataclass
class Efficiency:
    """What an arm cost, assembled from phases and per-item counts."""

    phases: dict[str, Phase] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    generated_tokens: int = 0
    items: int = 0
    params_total: int | None = None
    params_trainable: int | None = None
    retrieval_latencies: list[float] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)  # each item's rendered prompt
    over_budget: int = 0  # prompts longer than the task's budget even with nothing left to drop
    usage: list[dict] = field(default_factory=list)  # per item, as an endpoint reported it
    calibration: dict | None = None  # this machine's speed next to the predictions (calibrate)
    extra: dict = field(default_factory=dict)  # arm-specific figures (index build, training)

    def add(self, ph: Phase) -> None:
        self.phases[ph.name] = ph

    def as_dict(self) -> dict:
        infer = self.phases.get("predict")
        seconds = infer.seconds if infer else 0.0
        lat = np.asarray(self.latencies, dtype=float)
        ret = np.asarray(self.retrieval_latencies, dtype=float)
        peaks = [p for p in self.phases.values()]
        return {
            "items": self.items,
            "generated_tokens": self.generated_tokens,
            "tokens_per_s": (self.generated_tokens / seconds)
            if seconds > 0 and self.generated_tokens
            else None,
            "items_per_s": (self.items / seconds) if seconds > 0 else None,
            "latency_p50_s": float(np.percentile(lat, 50)) if lat.size else None,
            "latency_p95_s": float(np.percentile(lat, 95)) if lat.size else None,
            "retrieval_latency_p50_s": float(np.percentile(ret, 50)) if ret.size else None,
            "retrieval_latency_p95_s": float(np.percentile(ret, 95)) if ret.size else None,
            "prompt_tokens_mean": float(np.mean(self.prompt_tokens))
            if self.prompt_tokens
            else None,
            "prompt_tokens_max": int(max(self.prompt_tokens)) if self.prompt_tokens else None,
            "prompts_over_budget": self.over_budget,
            "peak_memory_bytes": max((p.peak_bytes for p in peaks), default=None),
            "memory_kind": peaks[0].memory_kind if peaks else None,
            "params_total": self.params_total,
            "params_trainable": self.params_trainable,
            "server_usage": _usage_totals(self.usage),
            "calibration": self.calibration,
            "phases": {
                p.name: {
                    "seconds": round(p.seconds, 4),
                    "peak_memory_bytes": p.peak_bytes,
                    "memory_kind": p.memory_kind,
                }
                for p in peaks
            },
            **self.extra,
        }


def _usage_totals(usage: list[dict]) -> dict | None:
    """An endpoint's token counts over a cell's requests (None: no endpoint answered). Answers
    from the response cache are counted apart: their latency was measured when first sent."""
    if not usage:
        return None
    return {
        "requests": len(usage),
        "prompt_tokens": sum(int(u.get("prompt_tokens") or 0) for u in usage),
        "completion_tokens": sum(int(u.get("completion_tokens") or 0) for u in usage),
        "cached_responses": sum(1 for u in usage if u.get("cached")),
    }


def count_parameters(model) -> tuple[int, int]:
    """(total, trainable) parameter counts of a torch module.

    A 4-bit bitsandbytes weight stores two values per byte, so its tensor has half the elements
    of the weight it holds; its quantisation state knows the real shape.
    """
    total = sum(_logical_numel(p) for p in model.parameters())
    trainable = sum(_logical_numel(p) for p in model.parameters() if p.requires_grad)
    return total, trainable


def _logical_numel(p) -> int:
    quant_state = getattr(p, "quant_state", None)
    shape = getattr(quant_state, "shape", None)
    return math.prod(int(d) for d in shape) if shape is not None else p.numel()


def tokens_per_s(tokens: int, seconds: float) -> float | None:
    """Tokens per second of work; None when no time passed."""
    return tokens / seconds if seconds > 0 else None


# --------------------------------------------------------------------------------------------
# MFU


def device_peak_flops(device: str, bf16: bool) -> float:
    """Measured matmul throughput (FLOP/s) of this device in the training dtype, cached per process.

    bf16 when training ran under bf16 autocast, else fp32: MFU is against what the loop could use.
    """
    import torch

    key = (device, torch.get_num_threads(), bf16)
    if key not in _PEAK:
        n = 1024 if device == "cpu" else 8192
        dtype = torch.bfloat16 if bf16 else torch.float32
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        reps = 5 if device == "cpu" else 50
        if device == "cuda":
            torch.cuda.synchronize()
        with Timer() as t:
            for _ in range(reps):
                a @ b
            if device == "cuda":
                torch.cuda.synchronize()
        _PEAK[key] = 2 * n**3 * reps / t.seconds
    return _PEAK[key]


_PEAK: dict = {}


def mfu(
    stats: dict, params_total: int, head_params: int, full: bool, device: str, bf16: bool = False
) -> dict:
    """Model FLOPs utilisation of a training run: FLOPs done per second / the device's peak.

    6 FLOPs per parameter and position for full fine-tuning, 4 for adapters (the frozen weights
    need no weight gradient), counted on the positions the loop really ran (`stats`'
    computed_tokens and head_tokens): a shared prefix once per micro-batch, the vocabulary
    projection (`head_params`) only where it ran (answer positions, for plain-head models).
    Counting every example token at 6N instead overstates the work by the shared prefix and the
    skipped projections, enough to read above 1. Against the peak of all processes' devices,
    measured in the dtype the matmuls ran in (`bf16`: under bf16 autocast).
    """
    per_param = 6 if full else 4
    flops = per_param * (
        (params_total - head_params) * stats["computed_tokens"] + head_params * stats["head_tokens"]
    )
    seconds = stats["seconds"] - stats["dev_eval_seconds"]
    processes = stats["processes"]
    peak = device_peak_flops(device, bf16)
    return {
        "flops_per_token": per_param * params_total,  # nominal (every position, every weight)
        "training_flops": flops,
        "device_peak_flops": round(peak),
        "device_peak_dtype": "bfloat16" if bf16 else "float32",
        "devices": processes,
        "mfu": round(flops / seconds / (peak * processes), 4) if seconds > 0 and flops else None,
    }
