from __future__ import annotations

import math

import numpy as np
import pytest

from harness.common.stats import (
    bootstrap_ci,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_test,
    significant,
    summarize,
)


def test_bootstrap_hand_computed_two_items():
    # Resampling [0, 1] with replacement gives means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5% quantile is 0 and the 97.5% quantile is 1.
    lo, hi = bootstrap_ci([0.0, 1.0], seed=3, resamples=4000)
    assert (lo, hi) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    values = (rng.random(500) < 0.3).astype(float)
    a = bootstrap_ci(values, seed=1)
    assert a == bootstrap_ci(values, seed=1)
    assert a[0] < values.mean() < a[1]
    # normal approximation: half-width about 1.96 * sqrt(p(1-p)/n)
    half = 1.96 * np.sqrt(values.mean() * (1 - values.mean()) / values.size)
    assert (a[1] - a[0]) / 2 == pytest.approx(half, rel=0.15)


def test_summarize_edge_cases():
    assert summarize([]) == {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    s = summarize([1.0, 1.0, 1.0])  # 3/3: a Wilson interval, not a zero-width [1, 1]
    assert s["value"] == 1.0 and s["ci_high"] == 1.0 and s["n"] == 3
    assert s["ci_low"] == pytest.approx(0.4385, abs=1e-4) and s["ci_method"] == "wilson"
    s = summarize([0.5, 0.5])  # constant non-0/1 scores: the bootstrap's point is honest
    assert (s["ci_low"], s["ci_high"], s["ci_method"]) == (0.5, 0.5, "bootstrap")


# ------------------------------------------------------------------------------ McNemar


def _pairs(a_only: int, b_only: int, both: int = 3, neither: int = 2) -> tuple[list, list]:
    """Paired 0/1 scores with the given discordant counts plus some concordant items."""
    a = [1] * a_only + [0] * b_only + [1] * both + [0] * neither
    b = [0] * a_only + [1] * b_only + [1] * both + [0] * neither
    return a, b


def test_mcnemar_all_discordant_pairs_favour_one_arm():
    # X ~ Bin(5, 1/2): P[X <= 0] = 1/32, two-sided p = 2/32.
    assert mcnemar_exact(*_pairs(0, 5)) == {"a_only": 0, "b_only": 5, "p_value": 0.0625}
    assert mcnemar_exact(*_pairs(5, 0)) == {"a_only": 5, "b_only": 0, "p_value": 0.0625}


def test_mcnemar_balanced_or_no_discordance_gives_p_one():
    assert mcnemar_exact(*_pairs(3, 3))["p_value"] == 1.0
    assert mcnemar_exact(*_pairs(0, 0)) == {"a_only": 0, "b_only": 0, "p_value": 1.0}


def test_mcnemar_hand_case_one_against_nine():
    # P[X <= 1] for X ~ Bin(10, 1/2) = (C(10,0) + C(10,1)) / 2^10 = 11/1024; p = 22/1024.
    r = mcnemar_exact(*_pairs(1, 9))
    assert (r["a_only"], r["b_only"]) == (1, 9)
    assert r["p_value"] == pytest.approx(22 / 1024, rel=1e-12)
    assert r["p_value"] == pytest.approx(0.021484375, rel=1e-12)


def test_mcnemar_matches_exact_integer_sum():
    # 950 vs 1050 discordant: the exact tail sum with Python integers.
    n, k = 2000, 950
    exact = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    assert mcnemar_exact(*_pairs(k, n - k))["p_value"] == pytest.approx(exact, rel=1e-12)


def test_mcnemar_large_n_without_overflow():
    # 100,000 discordant pairs, 49,800 vs 50,200: normal approximation with continuity correction
    # z = (200 - 0.5) / sqrt(100000 / 4) = 1.2617, p = erfc(z / sqrt 2) = 0.2070.
    r = mcnemar_exact(*_pairs(49_800, 50_200, both=0, neither=0))
    z = (50_200 - 50_000 - 0.5) / math.sqrt(100_000 / 4)
    assert r["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), abs=1e-3)
    assert r["p_value"] == pytest.approx(0.2070, abs=1e-3)
    # 0 vs 100,000: p = 2 * 2^-100000 underflows to 0.0 rather than raising.
    assert mcnemar_exact(*_pairs(0, 100_000, both=0, neither=0))["p_value"] == 0.0


def test_mcnemar_rejects_non_binary_scores():
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.0, 0.5], [1.0, 1.0])


# ------------------------------------------------------------------------------ paired bootstrap


def test_paired_bootstrap_identical_arms():
    x = np.random.default_rng(0).random(50)
    r = paired_bootstrap(x, x.copy())
    assert r == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "resamples": 1000}


def test_paired_bootstrap_constant_shift_hits_the_p_floor():
    a = np.random.default_rng(1).normal(size=200)
    r = paired_bootstrap(a, a + 0.3, resamples=1000)
    assert r["delta"] == pytest.approx(0.3, abs=1e-12)
    assert r["ci_low"] == pytest.approx(0.3, abs=1e-12)
    assert r["ci_high"] == pytest.approx(0.3, abs=1e-12)
    assert r["p_value"] == 1 / 1000


def test_paired_bootstrap_noisy_shift():
    # d = b - a ~ N(0.3, 1), n = 400: se = 0.05, so 0 is 6 se away and the CI half-width is
    # about 1.96 * sd(d) / sqrt(n).
    rng = np.random.default_rng(2)
    a = rng.normal(size=400)
    b = a + 0.3 + rng.normal(size=400)
    d = b - a
    r = paired_bootstrap(a, b, seed=5)
    assert r["delta"] == pytest.approx(d.mean(), abs=1e-12)
    assert 0 < r["ci_low"] < r["delta"] < r["ci_high"]
    half = 1.96 * d.std() / math.sqrt(d.size)
    assert (r["ci_high"] - r["ci_low"]) / 2 == pytest.approx(half, rel=0.15)
    assert r["p_value"] == 1 / 1000


def test_paired_bootstrap_hand_computed_two_items():
    # d = [0, 1]: resampled deltas are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so
    # P[delta <= 0] = 1/4, P[delta >= 0] = 1, p = 2 * 1/4 = 0.5; CI = (0, 1).
    r = paired_bootstrap([0.0, 0.0], [0.0, 1.0], seed=3, resamples=4000)
    assert r["delta"] == 0.5
    assert (r["ci_low"], r["ci_high"]) == (0.0, 1.0)
    assert r["p_value"] == pytest.approx(0.5, abs=0.04)


def test_paired_bootstrap_resamples_items_jointly_and_is_seeded():
    rng = np.random.default_rng(4)
    difficulty = rng.normal(size=300)  # shared per-item effect: cancels only if items are paired
    a = difficulty + rng.normal(scale=0.1, size=300)
    b = difficulty + 0.05 + rng.normal(scale=0.1, size=300)
    r = paired_bootstrap(a, b, seed=7)
    assert r == paired_bootstrap(a, b, seed=7)
    assert r != paired_bootstrap(a, b, seed=8)
    # Same indices for both arms == bootstrapping the per-item differences with the same stream.
    assert (r["ci_low"], r["ci_high"]) == bootstrap_ci(b - a, seed=7)
    assert r["ci_low"] > 0  # an unpaired comparison (sd ~1 per arm) could not see a 0.05 shift


# ------------------------------------------------------------------------------ paired_test


def test_paired_test_uses_mcnemar_for_binary_scores():
    a, b = _pairs(1, 9)
    r = paired_test(a, b, seed=0)
    assert r["test"] == "mcnemar"
    assert (r["n"], r["a_only"], r["b_only"]) == (15, 1, 9)
    assert r["delta"] == pytest.approx((9 - 1) / 15)
    assert r["p_value"] == pytest.approx(22 / 1024, rel=1e-12)
    assert r["ci_low"] <= r["delta"] <= r["ci_high"]
    boot = paired_bootstrap(a, b, seed=0)
    assert (r["ci_low"], r["ci_high"]) == (boot["ci_low"], boot["ci_high"])
    # booleans are 0/1 scores too
    assert paired_test(np.array(a, dtype=bool), np.array(b, dtype=bool))["test"] == "mcnemar"


def test_paired_test_uses_bootstrap_for_continuous_scores():
    a = [0.0, 0.5, 1.0, 0.25]
    b = [0.0, 1.0, 1.0, 0.25]
    r = paired_test(a, b, seed=1)
    expected = {"test": "paired_bootstrap", "n": 4} | paired_bootstrap(a, b, seed=1)
    assert r == expected | {"se": pytest.approx(0.125), "design_effect": 1.0}
    assert r["delta"] == 0.125
    assert {"ci_low", "ci_high", "p_value"} <= r.keys()


def test_paired_test_rejects_bad_input():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_test([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="empty"):
        paired_test([], [])
    with pytest.raises(ValueError, match="finite"):
        paired_test([0.5, float("nan")], [0.5, 0.5])


# ------------------------------------------------------------------------------ Holm


def test_holm_hand_computed():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
    assert holm([0.2]) == [0.2]


def test_holm_clips_at_one():
    # 0.3 x3 = 0.9, 0.6 x2 = 1.2 -> 1, 0.9 x1 -> running max 1
    assert holm([0.9, 0.3, 0.6]) == pytest.approx([1.0, 0.9, 1.0])


def test_holm_is_monotone_and_never_below_raw():
    p = np.random.default_rng(6).random(20) ** 3
    adj = np.array(holm(p))
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    assert np.all(adj >= p)
    assert np.all(adj <= 1)
    with pytest.raises(ValueError):
        holm([0.1, 1.5])


def test_significant():
    assert significant(0.049)
    assert not significant(0.05)
    assert significant(0.09, alpha=0.1)
