"""Aggregation and uncertainty: means with seeded, vectorised 95% bootstrap intervals."""

from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 1000


def bootstrap_ci(
    values: np.ndarray | list[float],
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean. Deterministic for a given seed.

    Resamples in chunks so 10k items x 1k resamples stays within a few tens of MB.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return (float("nan"), float("nan"))
    if n == 1 or np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, min(resamples, 4_000_000 // n))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def summarize(values: list[float], seed: int = 0, resamples: int = DEFAULT_RESAMPLES) -> dict:
    """{value, ci_low, ci_high, n} for one metric over the items it applies to."""
    n = len(values)
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    lo, hi = bootstrap_ci(values, seed=seed, resamples=resamples)
    return {"value": float(np.mean(values)), "ci_low": lo, "ci_high": hi, "n": n}
