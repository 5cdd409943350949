"""How fast this machine is right now, on a fixed workload timed before and after each cell's
predictions.

Efficiency gates divide a cell's latencies by its calibration (and multiply its throughput), so a
slower or busier runner does not read as a regression while a longer prompt or a lost cache
still does. The workload is a fixed matrix product plus a short greedy decode of the model that
answers (the cell's own weights, so it scales with what the cell's generation costs); its
spread over the repeats is the noise the gate tolerates.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

REPEATS = 5
MATMUL_SIZE = 256
MATMUL_PRODUCTS = 40
DECODE_PROMPT_TOKENS = 16
DECODE_NEW_TOKENS = 4
WORKLOAD = (
    f"{MATMUL_PRODUCTS} products of {MATMUL_SIZE}x{MATMUL_SIZE} fp32 matrices, then a greedy "
    f"decode of {DECODE_NEW_TOKENS} tokens after {DECODE_PROMPT_TOKENS} at batch 1 (the "
    "cell's model, where it runs in this process)"
)


def calibrate(model: Any = None, repeats: int = REPEATS, device: str = "cpu") -> dict:
    """Seconds of the fixed workload (median over `repeats`) and its relative spread
    ((max - min) / median). `model`: a transformers causal LM, or None (the matrix product
    alone on `device`, for a model that runs in another engine)."""
    import torch

    device = next(model.parameters()).device if model is not None else torch.device(device)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen).to(device)
    b = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen).to(device)
    ids = None
    if model is not None:
        vocab = int(model.config.vocab_size)
        ids = torch.randint(3, max(4, vocab - 1), (1, DECODE_PROMPT_TOKENS), generator=gen)
        ids = ids.to(device)
    _workload(a, b, model, ids)  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _workload(a, b, model, ids)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return {
        "seconds": round(median, 6),
        "spread": round((max(times) - min(times)) / median, 4) if median > 0 else 0.0,
        "repeats": [round(t, 6) for t in times],
        "with_model": model is not None,
        "workload": WORKLOAD,
    }


def _workload(a, b, model, ids) -> None:
    import torch

    with torch.inference_mode():
        c = a
        for _ in range(MATMUL_PRODUCTS):
            c = torch.tanh(c @ b)
        if model is not None:
            model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=DECODE_NEW_TOKENS,
                min_new_tokens=DECODE_NEW_TOKENS,
                do_sample=False,
                pad_token_id=model.config.pad_token_id or 0,
            )
        if c.is_cuda:
            torch.cuda.synchronize()


def bracket(before: dict, after: dict) -> dict:
    """One calibration from the ones timed before and after a cell's predictions: the median of
    all repeats, and their spread, so load that changed during the cell widens the tolerance."""
    times = before["repeats"] + after["repeats"]
    median = statistics.median(times)
    return before | {
        "seconds": round(median, 6),
        "spread": round((max(times) - min(times)) / median, 4) if median > 0 else 0.0,
        "repeats": times,
        "timed": "before and after the predictions",
    }
