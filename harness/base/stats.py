"""Aggregation and uncertainty: seeded, vectorised bootstrap intervals and paired comparisons.

Two arms scored on the same items are compared item by item (a paired test), because the item
mix dominates the variance of each arm's mean and cancels out in the per-item difference:

* 0/1 scores: McNemar's exact test on the discordant pairs;
* anything else: a paired bootstrap of the mean difference.

Either way the comparison carries a 95% CI of `delta = mean(b) - mean(a)`. Several comparisons
in one report are corrected with Holm's step-down procedure (`holm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_RESAMPLES = 1000
# Resampled indices held in memory at once (int64): 4M entries ~ 32 MB, plus as many floats.
_CHUNK_ENTRIES = 4_000_000


def _resampled_means(x: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Means of `resamples` bootstrap resamples of `x` (items drawn with replacement).

    Chunked so 10k items x 1k resamples stays within a few tens of MB.
    """
    n = x.size
    means = np.empty(resamples)
    chunk = max(1, min(resamples, _CHUNK_ENTRIES // n))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    return means


def bootstrap_ci(
    values: ArrayLike,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean. Deterministic for a given seed."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return (float("nan"), float("nan"))
    if n == 1 or np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    means = _resampled_means(x, np.random.default_rng(seed), resamples)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


# What `summarize` puts in a metric's interval, in words (reports and `ls metrics` say it).
INTERVALS = (
    "95% intervals: a Wilson score interval for proportions (every item scores 0 or 1), which "
    "keeps a width at 0/n and n/n where a bootstrap collapses to a point; a percentile "
    "bootstrap over items (1000 resamples) for other scores."
)
_Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion: successes out of n (n >= 1)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(
            f"wilson_interval needs 0 <= successes <= n and n >= 1, got {successes}/{n}"
        )
    p = successes / n
    z2 = _Z95 * _Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = _Z95 / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0/n and n/n the bound on that side is exactly 0 or 1 (rounding would leave it just inside).
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def summarize(values: list[float], seed: int = 0, resamples: int = DEFAULT_RESAMPLES) -> dict:
    """{value, ci_low, ci_high, ci_method, n} for one metric over the items it applies to.

    0/1 scores are a proportion: Wilson interval; anything else: percentile bootstrap.
    """
    n = len(values)
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    x = np.asarray(values, dtype=np.float64)
    if _is_binary(x):
        lo, hi = wilson_interval(int(x.sum()), n)
        method = "wilson"
    else:
        lo, hi = bootstrap_ci(x, seed=seed, resamples=resamples)
        method = "bootstrap"
    return {"value": float(x.mean()), "ci_low": lo, "ci_high": hi, "ci_method": method, "n": n}


# ------------------------------------------------------------------------------ paired comparisons


def _paired_arrays(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both score vectors as float arrays; a paired test needs equal, non-zero lengths."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    if x.size == 0:
        raise ValueError("paired scores are empty")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("paired scores must be finite (drop unscored items from both arms)")
    return x, y


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _binom_half_cdf(k: int, n: int) -> float:
    """P[X <= k] for X ~ Bin(n, 1/2), with k <= n / 2; accurate and overflow-free for large n.

    Written as the largest term times a sum of ratios to it:
    P = C(n,k)/2^n * (1 + r_k + r_k r_{k-1} + ...), with r_i = C(n,i-1)/C(n,i) = i/(n-i+1) <= 1.
    C(n,k)/2^n is an exact integer ratio rounded once (Python ints do not overflow; a result below
    ~1e-308 loses precision and one below ~5e-324 becomes 0.0); the ratio products only shrink,
    so the float sum neither overflows nor loses the terms that matter.
    """
    top = math.comb(n, k) / 2**n
    if k == 0:
        return top
    i = np.arange(k, 0, -1, dtype=np.float64)
    ratios = np.cumprod(i / (n - i + 1))
    return top * (1.0 + float(ratios.sum()))


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> dict:
    """McNemar's exact test for paired 0/1 scores: only items where the arms disagree carry signal.

    Under "no difference" each discordant item is equally likely to favour either arm, so
    `b_only ~ Bin(a_only + b_only, 1/2)`; the two-sided p-value is
    `min(1, 2 * P[X <= min(a_only, b_only)])`, and 1 when there are no discordant pairs.
    Returns {"a_only", "b_only", "p_value"}.
    """
    x, y = _paired_arrays(a, b)
    if not (_is_binary(x) and _is_binary(y)):
        raise ValueError("mcnemar_exact needs 0/1 scores")
    a_only = int(np.count_nonzero((x == 1) & (y == 0)))
    b_only = int(np.count_nonzero((x == 0) & (y == 1)))
    discordant = a_only + b_only
    p = 1.0
    if discordant > 0:
        p = min(1.0, 2.0 * _binom_half_cdf(min(a_only, b_only), discordant))
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """Paired bootstrap of `delta = mean(b) - mean(a)`: resample items, same indices for both arms.

    With shared indices the resampled delta is the mean of the resampled per-item differences
    `b - a`, so the differences are resampled directly. CI: 95% percentile interval of the
    resampled deltas. p-value (percentile bootstrap, two-sided):
    `2 * min(share of resampled deltas <= 0, share >= 0)`, clipped to `[1 / resamples, 1]`;
    1/resamples is the floor because no smaller p can be resolved with that many resamples.
    Returns {"delta", "ci_low", "ci_high", "p_value", "resamples"}.
    """
    x, y = _paired_arrays(a, b)
    if resamples < 1:
        raise ValueError("resamples must be positive")
    d = y - x
    delta = float(d.mean())
    if np.all(d == d[0]):
        # Every resample has the same delta: no need to draw them.
        deltas = np.full(1, float(d[0]))
    else:
        deltas = _resampled_means(d, np.random.default_rng(seed), resamples)
    lo, hi = np.quantile(deltas, [0.025, 0.975])
    tail = min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0)))
    p = min(1.0, max(1.0 / resamples, 2.0 * tail))
    return {
        "delta": delta,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": p,
        "resamples": resamples,
    }


def paired_test(a: ArrayLike, b: ArrayLike, seed: int = 0) -> dict:
    """Compare arm b with arm a on the same items; McNemar for 0/1 scores, else paired bootstrap.

    Always returns {"test", "n", "delta", "ci_low", "ci_high", "p_value", ...}; McNemar adds
    "a_only"/"b_only" and takes its delta CI from the paired bootstrap (so every comparison has
    one), the bootstrap adds "resamples". Raises ValueError on empty or unequal-length input.
    """
    x, y = _paired_arrays(a, b)
    boot = paired_bootstrap(x, y, seed=seed)
    result = {
        "test": "paired_bootstrap",
        "n": int(x.size),
        "delta": boot["delta"],
        "ci_low": boot["ci_low"],
        "ci_high": boot["ci_high"],
        "p_value": boot["p_value"],
    }
    if _is_binary(x) and _is_binary(y):
        mc = mcnemar_exact(x, y)
        return result | {
            "test": "mcnemar",
            "p_value": mc["p_value"],
            "a_only": mc["a_only"],
            "b_only": mc["b_only"],
        }
    return result | {"resamples": boot["resamples"]}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in input order: controls the family-wise error rate.

    Step-down: sort ascending, multiply the i-th smallest (0-based) by (m - i), take the running
    maximum so the adjusted values keep the order of the raw ones, and clip at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    if np.any(np.isnan(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in adjusted]


def significant(p_adjusted: float, alpha: float = 0.05) -> bool:
    """Whether an (adjusted) p-value rejects "no difference" at level `alpha` (strictly below)."""
    return bool(p_adjusted < alpha)


def bootstrap_statistic(
    n: int, statistic, seed: int = 0, resamples: int = DEFAULT_RESAMPLES, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of any statistic of n items (e.g. macro-F1).

    `statistic` takes an index array (items drawn with replacement) and returns a float.
    """
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(resamples)])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)
