"""Aggregation and uncertainty: seeded, vectorised bootstrap intervals and paired comparisons.

Two arms scored on the same items are compared item by item (a paired test), because the item
mix dominates the variance of each arm's mean and cancels out in the per-item difference:

* 0/1 scores: McNemar's exact test on the discordant pairs;
* anything else: a paired bootstrap of the mean difference.

Either way the comparison carries a 95% CI of `delta = mean(b) - mean(a)`. Several comparisons
in one report are corrected with Holm's step-down procedure (`holm`).

Items that share a cluster (questions about one document) succeed or fail together, so they
carry less information than as many independent items. Given each item's cluster, intervals and
paired tests resample whole clusters (a cluster bootstrap) and report the design effect: the
variance of the mean under clustering (cluster-robust, CR1) over its item-level variance. With
every cluster of size one nothing changes. `power` turns a comparison's standard error into the
minimum detectable difference, the items needed to detect the observed one, and an equivalence
test (TOST) against a margin.
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
    "bootstrap over items (1000 resamples) for other scores. Where items share a cluster (by "
    "default their gold document) the interval accounts for it: Wilson over the effective "
    "number of items (n / design effect) for proportions, a bootstrap that resamples whole "
    "clusters for other scores; the item-level interval is kept beside it."
)
_Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion: successes out of n (n >= 1)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(
            f"wilson_interval needs 0 <= successes <= n and n >= 1, got {successes}/{n}"
        )
    return _wilson(successes / n, n)


def _wilson(p: float, n: float) -> tuple[float, float]:
    """Wilson score 95% interval of proportion p over n items (n may be an effective size)."""
    z2 = _Z95 * _Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = _Z95 / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0/n and n/n the bound on that side is exactly 0 or 1 (rounding would leave it just inside).
    lo = 0.0 if p == 0 else max(0.0, centre - half)
    hi = 1.0 if p == 1 else min(1.0, centre + half)
    return lo, hi


def summarize(
    values: list[float],
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    clusters: Sequence[str] | None = None,
) -> dict:
    """{value, ci_low, ci_high, ci_method, n} for one metric over the items it applies to.

    0/1 scores are a proportion: Wilson interval; anything else: percentile bootstrap. With
    `clusters` (one label per value) of which some hold several items, the interval is a cluster
    bootstrap instead, and the summary adds `clusters`, `design_effect` and the item-level
    interval (`item_ci_low`, `item_ci_high`, `item_ci_method`) for comparison with other tools.
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
    out = {"value": float(x.mean()), "ci_low": lo, "ci_high": hi, "ci_method": method, "n": n}
    codes = cluster_codes(clusters, n) if clusters is not None else None
    if codes is None or np.all(x == x[0]):
        return out
    deff = design_effect(x, codes)
    if method == "wilson":
        # A proportion keeps Wilson's width at the edges, over the effective number of items
        # n / design effect (never more than n: clustering is not credited with information).
        c_lo, c_hi = _wilson(float(x.mean()), n / max(1.0, deff))
        c_method = "cluster_wilson"
    else:
        means = _cluster_resampled_means(x, codes, np.random.default_rng(seed), resamples)
        c_lo, c_hi = np.quantile(means, [0.025, 0.975])
        c_method = "cluster_bootstrap"
    return out | {
        "ci_low": float(c_lo),
        "ci_high": float(c_hi),
        "ci_method": c_method,
        "clusters": int(codes.max()) + 1,
        "design_effect": deff,
        "item_ci_low": lo,
        "item_ci_high": hi,
        "item_ci_method": method,
    }


# ----------------------------------------------------------------------------------- clusters


def cluster_codes(clusters: Sequence[str], n: int) -> np.ndarray | None:
    """Integer codes 0..k-1 of the items' clusters; None when every cluster holds one item
    (then item-level statistics are already right) or there are fewer than 2 clusters."""
    if len(clusters) != n:
        raise ValueError(f"clusters need one label per item, got {len(clusters)} for {n} items")
    _, codes = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    k = int(codes.max()) + 1 if n else 0
    if k == n or k < 2:
        return None
    return codes


def _cluster_resampled_means(
    x: np.ndarray, codes: np.ndarray, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """Means of `resamples` cluster-bootstrap resamples: whole clusters drawn with replacement,
    the mean taken over all items of the drawn clusters (clusters weigh by their size)."""
    sums = np.bincount(codes, weights=x)
    counts = np.bincount(codes).astype(np.float64)
    k = sums.size
    means = np.empty(resamples)
    chunk = max(1, min(resamples, _CHUNK_ENTRIES // k))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, k, size=(stop - start, k))
        means[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return means


def item_se(x: np.ndarray) -> float:
    """Standard error of the mean treating items as independent (sample sd / sqrt(n))."""
    if x.size < 2 or np.all(x == x[0]):
        return 0.0  # exactly: rounding would leave a spurious ~1e-17
    return float(np.std(x, ddof=1) / math.sqrt(x.size))


def clustered_se(x: np.ndarray, codes: np.ndarray | None) -> float:
    """Cluster-robust (CR1) standard error of the mean: the spread of the clusters' summed
    residuals, with the k / (k - 1) small-sample factor. Equals `item_se` for singletons."""
    if codes is None or np.all(x == x[0]):
        return item_se(x)
    resid = np.bincount(codes, weights=x - x.mean())
    k = resid.size
    return float(math.sqrt(k / (k - 1) * float(np.sum(resid**2))) / x.size)


def design_effect(x: np.ndarray, codes: np.ndarray | None) -> float:
    """Variance of the mean under clustering over its item-level variance (1 without clusters);
    intervals are sqrt(design effect) times as wide as item-level ones."""
    base = item_se(x)
    if codes is None or base == 0:
        return 1.0
    return (clustered_se(x, codes) / base) ** 2


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


def paired_test(
    a: ArrayLike, b: ArrayLike, seed: int = 0, clusters: Sequence[str] | None = None
) -> dict:
    """Compare arm b with arm a on the same items; McNemar for 0/1 scores, else paired bootstrap.

    Always returns {"test", "n", "delta", "ci_low", "ci_high", "p_value", "se",
    "design_effect", ...}; McNemar adds "a_only"/"b_only" and takes its delta CI from the paired
    bootstrap (so every comparison has one), the bootstrap adds "resamples". With `clusters`
    (one label per item) of which some hold several items, the test is a paired cluster
    bootstrap (`_clustered`) and the item-level figures move under "item_level". Raises
    ValueError on empty or unequal-length input.
    """
    x, y = _paired_arrays(a, b)
    result = _item_level(x, y, seed)
    codes = cluster_codes(clusters, x.size) if clusters is not None else None
    if codes is None:
        return result
    return _clustered(y - x, codes, seed) | {"item_level": result}


def _item_level(x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    boot = paired_bootstrap(x, y, seed=seed)
    result = {
        "test": "paired_bootstrap",
        "n": int(x.size),
        "delta": boot["delta"],
        "ci_low": boot["ci_low"],
        "ci_high": boot["ci_high"],
        "p_value": boot["p_value"],
        "se": item_se(y - x),
        "design_effect": 1.0,
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


# Clusters are few (at most one per item), so the paired cluster bootstrap affords 10x the
# resamples: its smallest p-value, 1/resamples, then survives a Holm adjustment of many arms.
CLUSTER_RESAMPLES = 10 * DEFAULT_RESAMPLES


def _clustered(
    d: np.ndarray, codes: np.ndarray, seed: int, resamples: int = CLUSTER_RESAMPLES
) -> dict:
    """Paired cluster bootstrap of the mean difference `d` (b - a per item): clusters drawn with
    replacement, same draws for both arms. CI and p-value as in `paired_bootstrap`; `se` is the
    cluster-robust standard error, `design_effect` its variance over the item-level one."""
    delta = float(d.mean())
    if np.all(d == d[0]):
        deltas = np.full(1, float(d[0]))
    else:
        deltas = _cluster_resampled_means(d, codes, np.random.default_rng(seed), resamples)
    lo, hi = np.quantile(deltas, [0.025, 0.975])
    tail = min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0)))
    return {
        "test": "cluster_bootstrap",
        "n": int(d.size),
        "clusters": int(codes.max()) + 1,
        "delta": delta,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": min(1.0, max(1.0 / resamples, 2.0 * tail)),
        "resamples": resamples,
        "se": clustered_se(d, codes),
        "design_effect": design_effect(d, codes),
    }


# ------------------------------------------------------------------------ power and equivalence

_Z80 = 0.8416212335729143  # the standard normal's 80% quantile: 80% power


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def power(delta: float, se: float, n: int, margin: float | None = None) -> dict:
    """What a paired comparison's standard error can and cannot show (two-sided alpha 0.05).

    * `mdd`: the minimum detectable difference at 80% power, `(z_0.975 + z_0.8) * se`;
    * `needed_n`: eval items for 80% power to detect the observed |delta| (the standard error
      shrinks as 1/sqrt(n), clusters keeping their average size), `n * (mdd / |delta|)^2`;
      None when delta is 0 (no number of items detects it);
    * with a `margin`, `tost_p`: two one-sided tests of |true delta| < margin (normal
      approximation); equivalent when below 0.05, i.e. the 90% CI lies inside +-margin.
    """
    mdd = (_Z95 + _Z80) * se
    needed = None
    if delta != 0:
        needed = max(n, math.ceil(n * (mdd / abs(delta)) ** 2)) if se > 0 else n
    out = {"mdd": mdd, "needed_n": needed}
    if margin is not None:
        if se > 0:
            p = max(_normal_cdf((delta - margin) / se), 1 - _normal_cdf((delta + margin) / se))
        else:
            p = 0.0 if abs(delta) < margin else 1.0
        out |= {"margin": margin, "tost_p": p, "equivalent": p < 0.05}
    return out


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
